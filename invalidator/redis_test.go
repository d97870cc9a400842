package invalidator_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/yokedcache/yoked/internal/testenv"
	"github.com/yokedcache/yoked/invalidator"
	"github.com/yokedcache/yoked/tagstore"
	"github.com/yokedcache/yoked/tagstore/redisstore"
)

func redisStore(t *testing.T, addr, ns string) *redisstore.Store {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: addr, ContextTimeoutEnabled: true, MaxRetries: -1})
	s, err := redisstore.New(c, redisstore.Options{Namespace: ns, Timeout: 500 * time.Millisecond, InvalidateTimeout: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close(); c.Close() })
	return s
}

// A write of anything (a statement whose tables the catalog cannot bound)
// that names tags marks them before it is sent: when its writer loses
// Redis after the write, the invalidation of everything is left to the
// background retry, and another process must not serve the named tags
// meanwhile. Before, such a write was not marked at all (strict mode only
// probed the store), and the other process served its old entry: the
// stale reads the checker found in a strict process whose catalog was
// being read again.
func TestWriteOfEverythingMarksItsTags(t *testing.T) {
	for _, strict := range []bool{true, false} {
		name := "default"
		if strict {
			name = "strict"
		}
		t.Run(name, func(t *testing.T) {
			srv := testenv.StartRedis(t)
			proxy := testenv.StartProxy(t, srv.Addr())
			ns := testenv.Name("invall")
			reader := redisStore(t, srv.Addr(), ns)
			writer := redisStore(t, proxy.Addr(), ns)
			ctx := context.Background()
			tags := []string{"table:t"}
			_, hit, st, err := reader.Lookup(ctx, "k", tags)
			if err != nil || hit {
				t.Fatalf("first lookup: hit %v, %v", hit, err)
			}
			if err := reader.Set(ctx, "k", []byte("old"), 3, time.Minute, st); err != nil {
				t.Fatal(err)
			}
			if _, hit, _, err := reader.Lookup(ctx, "k", tags); err != nil || !hit {
				t.Fatalf("the reader does not cache: hit %v, %v", hit, err)
			}

			inv := invalidator.New(writer, invalidator.Options{RetryMin: time.Hour})
			defer inv.Close()
			w, err := inv.Prepare(ctx, tags, true, strict)
			if err != nil {
				t.Fatal(err)
			}
			// The write runs; then the writer loses Redis.
			proxy.Cut()
			w.Done(ctx)
			if inv.Pending() == 0 {
				t.Fatal("the invalidation reached Redis through a cut link")
			}
			_, hit, _, err = reader.Lookup(ctx, "k", tags)
			if hit {
				t.Fatal("another process served the entry stored before a write that returned")
			}
			if !errors.Is(err, tagstore.ErrInFlight) {
				t.Fatalf("reader during the unfinished write: %v, want ErrInFlight", err)
			}
			proxy.Heal()
		})
	}
}
