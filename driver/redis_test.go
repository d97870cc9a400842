package driver_test

import (
	"database/sql"
	"strconv"
	"testing"
	"time"

	yoked "github.com/yokedcache/yoked/driver"
	"github.com/yokedcache/yoked/internal/testenv"
	"github.com/yokedcache/yoked/tagstore/redisstore"
)

// redisOpener opens SQLite through yoked with the Redis store (and, with l1,
// the in-process near-cache) in a namespace of its own.
func redisOpener(l1 bool) opener {
	return func(t testing.TB, opts ...yoked.Option) (*sql.DB, *sql.DB, *yoked.Cache) {
		t.Helper()
		// A loaded test machine is not a fault: these tests assert hits.
		url := "redis://" + testenv.Redis(t) + "/0?timeout=2s&l1=" + strconv.FormatBool(l1)
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

// A Redis store has the L1 near-cache unless the URL, the environment or
// the code turns it off (the URL over the code over the environment).
func TestL1ByDefault(t *testing.T) {
	base := "redis://" + testenv.Redis(t) + "/0?timeout=2s"
	for _, c := range []struct {
		name, url, env string
		opts           []yoked.Option
		want           bool
	}{
		{"default", base, "", nil, true},
		{"url off", base + "&l1=false", "", nil, false},
		{"env off", base, "false", nil, false},
		{"code off", base, "", []yoked.Option{yoked.WithL1(false)}, false},
		{"code on over env", base, "false", []yoked.Option{yoked.WithL1(true)}, true},
		{"url on over code", base + "&l1=true", "", []yoked.Option{yoked.WithL1(false)}, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv("YOKED_L1", c.env)
			opts := append([]yoked.Option{yoked.WithStoreURL(c.url), yoked.WithNamespace(testenv.Name("l1"))}, c.opts...)
			db, err := yoked.Open("sqlite3", "file::memory:", opts...)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			cache, err := yoked.CacheOf(db)
			if err != nil {
				t.Fatal(err)
			}
			s, ok := cache.Store().(*redisstore.Store)
			if !ok {
				t.Fatalf("store is %T", cache.Store())
			}
			// An L1 is on once subscribed; one that is off never is.
			deadline := time.Now().Add(5 * time.Second)
			if !c.want {
				deadline = time.Now().Add(300 * time.Millisecond)
			}
			for !s.RedisStats().L1Enabled && time.Now().Before(deadline) {
				time.Sleep(5 * time.Millisecond)
			}
			if got := s.RedisStats().L1Enabled; got != c.want {
				t.Fatalf("L1 on: %v, want %v", got, c.want)
			}
		})
	}
	t.Setenv("YOKED_L1", "maybe")
	if _, err := yoked.Open("sqlite3", "file::memory:", yoked.WithStoreURL(base)); err == nil {
		t.Error("YOKED_L1=maybe: no error")
	}
}
