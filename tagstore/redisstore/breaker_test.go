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
