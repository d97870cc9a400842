package driver_test

import (
	"database/sql"
	"testing"

	yoked "github.com/yokedcache/yoked/driver"
	"github.com/yokedcache/yoked/internal/testenv"
)

// redisOpener opens SQLite through yoked with the Redis store (and, with l1,
// the in-process near-cache) in a namespace of its own.
func redisOpener(l1 bool) opener {
	return func(t testing.TB, opts ...yoked.Option) (*sql.DB, *sql.DB, *yoked.Cache) {
		t.Helper()
		// A loaded test machine is not a fault: these tests assert hits.
		url := "redis://" + testenv.Redis(t) + "/0?timeout=2s"
		if l1 {
			url += "&l1=true"
		}
		o := []yoked.Option{yoked.WithStoreURL(url), yoked.WithNamespace(testenv.Name("drv"))}
		return openSQLiteStore(t, append(o, opts...)...)
	}
}

// The core behaviour holds unchanged on the Redis store: values and column
// metadata survive the codec, and invalidation goes through Redis versions.
func TestRedisStoreBehaviour(t *testing.T) {
	for _, mode := range []struct {
		name string
		l1   bool
	}{{"redis", false}, {"redis+l1", true}} {
		open := redisOpener(mode.l1)
		t.Run(mode.name+"/autocommit", func(t *testing.T) { testCachedReadAndAutocommitInvalidation(t, open) })
		t.Run(mode.name+"/transactions", func(t *testing.T) { testTransactionCommitAndRollback(t, open) })
		t.Run(mode.name+"/hit-equals-miss", func(t *testing.T) { testHitIsIndistinguishableFromMiss(t, open) })
		t.Run(mode.name+"/concurrent", func(t *testing.T) { testConcurrentReadersNeverSeeOlderThanReturnedWrite(t, open) })
	}
}

func TestBadRedisURLFailsAtOpen(t *testing.T) {
	for _, u := range []string{"redis://127.0.0.1:6379/0?l1=maybe", "redis://127.0.0.1:6379/0?l1_ttl=-1s", "redis://[::1"} {
		if _, err := yoked.Open("sqlite3", "file::memory:", yoked.WithStoreURL(u)); err == nil {
			t.Errorf("%s: no error", u)
		}
	}
}
