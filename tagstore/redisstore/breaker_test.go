package redisstore

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/yokedcache/yoked/internal/testenv"
	"github.com/yokedcache/yoked/tagstore"
)

// Root cause of stale reads in TestStress (issue 9): a writer whose breaker
// had opened on its own readers' timeouts (a loaded machine, DEBUG SLEEP,
// CLIENT KILL) skipped the invalidation of its committed write, and so did
// its background retries until the breaker's cool-down ended and the probe
// slot was free; a second process whose breaker had closed meanwhile kept
// serving the old entry. Invalidations must not be held back by a read's
// probe, and retries (tagstore.WithoutBreaker) not by an open breaker.
func TestInvalidationNotHeldBackByBreaker(t *testing.T) {
	addr := testenv.Redis(t)
	ns := testenv.Name("brk")
	writer := newTestStore(t, addr, Options{Namespace: ns, BreakerFailures: 1, BreakerCooldown: time.Hour})
	reader := newTestStore(t, addr, Options{Namespace: ns})
	ctx := context.Background()

	// Half-open with a read's probe in flight.
	put(t, reader, "k", "old", "t")
	writer.br.failure()
	writer.br.mu.Lock()
	writer.br.until = time.Now()
	writer.br.mu.Unlock()
	if !writer.br.allow() {
		t.Fatal("the probe was not admitted")
	}
	if err := writer.InvalidateTags(ctx, "t"); err != nil {
		t.Fatalf("invalidation while a probe is in flight: %v", err)
	}
	if got := get(t, reader, "k", "t"); got != "" {
		t.Fatalf("another process still serves %q after the invalidation returned", got)
	}

	// Open, within the cool-down: refused on the caller's path (fast), sent
	// by a retry.
	put(t, reader, "k", "old", "t")
	writer.br.failure()
	if st, _ := writer.br.snapshot(); st != BreakerOpen {
		t.Fatalf("breaker %v, want open", st)
	}
	start := time.Now()
	if err := writer.InvalidateTags(ctx, "t"); !errors.Is(err, tagstore.ErrBypass) {
		t.Fatalf("invalidation through an open breaker: %v, want ErrBypass", err)
	}
	if d := time.Since(start); d > 50*time.Millisecond {
		t.Errorf("refusing took %v", d)
	}
	if err := writer.InvalidateTags(tagstore.WithoutBreaker(ctx), "t"); err != nil {
		t.Fatalf("retry through an open breaker: %v", err)
	}
	if got := get(t, reader, "k", "t"); got != "" {
		t.Fatalf("another process still serves %q after the retry returned", got)
	}
}

// Root cause of the stale reads TestStress still found after a Redis
// restart (issue 9): the writer's breaker, opened during the restart, kept
// refusing its write marks for the rest of its cool-down while the other
// processes, whose breakers had closed, read Redis again and served entries
// the refused writes had made old. An open breaker now closes as soon as
// Redis answers a background probe.
func TestBreakerClosesWhenRedisAnswers(t *testing.T) {
	srv := testenv.StartRedis(t)
	s, err := NewFromURL("redis://"+srv.Addr()+"/0?namespace="+testenv.Name("brk"), Options{BreakerFailures: 1, BreakerCooldown: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	srv.Stop()
	if _, _, _, err := s.Lookup(context.Background(), "k", []string{"t"}); err == nil {
		t.Fatal("Lookup with Redis stopped succeeded")
	}
	if st, _ := s.br.snapshot(); st != BreakerOpen {
		t.Fatalf("breaker %v after a failure, want open", st)
	}
	srv.Start()
	waitFor(t, "the breaker to close once Redis answers (cool-down 1h)", func() bool {
		st, _ := s.br.snapshot()
		return st == BreakerClosed
	})
	if _, err := s.MarkWrite(context.Background(), []string{"t"}); err != nil {
		t.Fatalf("write mark after the breaker closed: %v", err)
	}
}

// The other half of the same window: go-redis's pool, after PoolSize failed
// dials, stops dialling and redials only once a second in the background, so
// even a retry that ignores the breaker could not reach a Redis that was back
// (up to a second after a restart, measured). A store from NewFromURL dials
// whenever asked. pool_size=2 makes the pool's limit certain; max_retries=-1
// makes one attempt one dial.
func TestRedialsRightAfterRestart(t *testing.T) {
	srv := testenv.StartRedis(t)
	s, err := NewFromURL("redis://"+srv.Addr()+"/0?pool_size=2&max_retries=-1&timeout=2s&namespace="+testenv.Name("dial"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := tagstore.WithoutBreaker(context.Background())
	srv.Stop()
	for range 10 {
		if err := s.InvalidateTags(ctx, "t"); err == nil {
			t.Fatal("invalidation with Redis stopped succeeded")
		}
	}
	srv.Start()
	if err := s.InvalidateTags(ctx, "t"); err != nil {
		t.Fatalf("first invalidation after Redis answered again: %v", err)
	}
}
