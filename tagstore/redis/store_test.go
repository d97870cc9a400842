package redisstore

import (
	"context"
	"errors"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/yokedcache/yoked/tagstore"
	"github.com/yokedcache/yoked/tagstore/storetest"
)

// newTestStore returns a Store on addr in a fresh namespace, flushed and
// closed at cleanup.
func newTestStore(t testing.TB, addr string, opt Options) *Store {
	t.Helper()
	if opt.Namespace == "" {
		opt.Namespace = testNamespace()
	}
	c := redis.NewClient(&redis.Options{Addr: addr, ContextTimeoutEnabled: true})
	s, err := New(c, opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Flush(context.Background()); errors.Is(err, tagstore.ErrClosed) {
			if again, err := New(c, Options{Namespace: opt.Namespace}); err == nil {
				_ = again.Flush(context.Background())
			}
		}
		_ = s.Close()
		_ = c.Close()
	})
	return s
}

func TestContract(t *testing.T) {
	addr := sharedRedis(t)
	storetest.Run(t, func(t *testing.T) tagstore.Store { return newTestStore(t, addr, Options{Timeout: 2e9}) })
}
