package redisstore

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/yokedcache/yoked/internal/testenv"
	"github.com/yokedcache/yoked/tagstore"
)

// lookupErr returns the error of a Lookup (nil on a hit or a miss).
func lookupErr(s *Store, key string, tags ...string) error {
	_, _, _, err := s.Lookup(context.Background(), key, tags)
	return err
}

// While a write is marked, no process serves or stores its tags, and what
// was stored before the mark is never served again.
func TestWriteMarkHoldsOffReaders(t *testing.T) {
	addr := testenv.Redis(t)
	w := newTestStore(t, addr, Options{})
	r := newTestStore(t, addr, Options{Namespace: w.opt.Namespace})
	ctx := context.Background()
	put(t, r, "k", "old", "t")
	put(t, r, "other", "x", "u")

	m, err := w.MarkWrite(ctx, []string{"t"})
	if err != nil {
		t.Fatal(err)
	}
	if err := lookupErr(r, "k", "t"); !errors.Is(err, tagstore.ErrInFlight) || !errors.Is(err, tagstore.ErrBypass) {
		t.Fatalf("Lookup during the write: %v, want ErrInFlight", err)
	}
	if _, err := r.Stamp(ctx, []string{"t"}); !errors.Is(err, tagstore.ErrInFlight) {
		t.Fatalf("Stamp during the write: %v, want ErrInFlight", err)
	}
	if got := get(t, r, "other", "u"); got != "x" {
		t.Fatalf("an unrelated tag: %q", got)
	}
	// A plain invalidation meanwhile leaves the mark in place.
	if err := r.InvalidateTags(ctx, "t"); err != nil {
		t.Fatal(err)
	}
	if err := lookupErr(r, "k", "t"); !errors.Is(err, tagstore.ErrInFlight) {
		t.Fatalf("after an invalidation during the write: %v, want ErrInFlight", err)
	}
	if st := r.RedisStats(); st.InFlight < 3 || st.Breaker != BreakerClosed || st.Errors != 0 {
		t.Fatalf("reader stats %+v", st)
	}
	if err := w.EndWrite(ctx, m); err != nil {
		t.Fatal(err)
	}
	if got := get(t, r, "k", "t"); got != "" {
		t.Fatalf("after the write: served %q stored before it", got)
	}
	put(t, r, "k", "new", "t")
	if got := get(t, r, "k", "t"); got != "new" {
		t.Fatalf("refill after the write: %q", got)
	}
}

// Two writes in flight on one tag: the tag stays marked until both ended.
func TestWriteMarksNest(t *testing.T) {
	addr := testenv.Redis(t)
	s := newTestStore(t, addr, Options{})
	ctx := context.Background()
	m1, err := s.MarkWrite(ctx, []string{"t", "a"})
	if err != nil {
		t.Fatal(err)
	}
	m2, err := s.MarkWrite(ctx, []string{"t"})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.EndWrite(ctx, m1); err != nil {
		t.Fatal(err)
	}
	if err := lookupErr(s, "k", "a"); err != nil {
		t.Fatalf("tag of the ended write only: %v", err)
	}
	if err := lookupErr(s, "k", "t"); !errors.Is(err, tagstore.ErrInFlight) {
		t.Fatalf("tag of a write still in flight: %v, want ErrInFlight", err)
	}
	if err := s.EndWrite(ctx, m2); err != nil {
		t.Fatal(err)
	}
	if err := lookupErr(s, "k", "t"); err != nil {
		t.Fatalf("after both ended: %v", err)
	}
}

// A writer that marks and then never reaches Redis again (cut off, dead):
// other processes never serve what was stored before the mark; once the
// mark expires they cache again, reading the database after the write.
func TestWriteMarkExpiresWithoutEnd(t *testing.T) {
	addr := testenv.Redis(t)
	const ttl = 300 * time.Millisecond
	w := newTestStore(t, addr, Options{WriteMarkTTL: ttl})
	r := newTestStore(t, addr, Options{Namespace: w.opt.Namespace})
	put(t, r, "k", "old", "t")
	start := time.Now()
	if _, err := w.MarkWrite(context.Background(), []string{"t"}); err != nil {
		t.Fatal(err)
	}
	for {
		err := lookupErr(r, "k", "t")
		if err == nil {
			break
		}
		if !errors.Is(err, tagstore.ErrInFlight) {
			t.Fatal(err)
		}
		if time.Since(start) > 10*ttl {
			t.Fatal("the mark never expired")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if d := time.Since(start); d < ttl-20*time.Millisecond {
		t.Fatalf("the mark ended after %v, before its lifetime %v", d, ttl)
	}
	if got := get(t, r, "k", "t"); got != "" {
		t.Fatalf("after the mark expired: served %q stored before the write", got)
	}
}

// The end of a write whose mark expired meanwhile still invalidates what
// readers stored after the expiry.
func TestEndAfterExpiryInvalidates(t *testing.T) {
	addr := testenv.Redis(t)
	const ttl = 100 * time.Millisecond
	w := newTestStore(t, addr, Options{WriteMarkTTL: ttl})
	r := newTestStore(t, addr, Options{Namespace: w.opt.Namespace})
	m, err := w.MarkWrite(context.Background(), []string{"t"})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the mark to expire", func() bool { return lookupErr(r, "k", "t") == nil })
	put(t, r, "k", "filled during the write", "t")
	if err := w.EndWrite(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	if got := get(t, r, "k", "t"); got != "" {
		t.Fatalf("served %q, stored while the write ran", got)
	}
	if w.RedisStats().ExpiredMarks != 1 {
		t.Fatalf("expired marks: %d", w.RedisStats().ExpiredMarks)
	}
}

// A Store that marks a write answers its own Lookups and Stamps of the
// marked tags with ErrInFlight without a round trip, until EndWrite
// returns; other tags still go to Redis, and a mark that failed counts for
// nothing.
func TestOwnMarkAnswersLocally(t *testing.T) {
	addr := testenv.Redis(t)
	s := newTestStore(t, addr, Options{})
	h := &tripHook{epochKey: s.epochKey}
	s.Client().AddHook(h)
	ctx := context.Background()
	put(t, s, "k", "v", "t")
	m, err := s.MarkWrite(ctx, []string{"t"})
	if err != nil {
		t.Fatal(err)
	}
	h.take()
	if err := lookupErr(s, "k", "t", "u"); !errors.Is(err, tagstore.ErrInFlight) {
		t.Fatalf("Lookup during its own write: %v, want ErrInFlight", err)
	}
	if _, err := s.Stamp(ctx, []string{"t"}); !errors.Is(err, tagstore.ErrInFlight) {
		t.Fatalf("Stamp during its own write: %v, want ErrInFlight", err)
	}
	if trips := h.take(); len(trips) != 0 {
		t.Fatalf("round trips for tags this Store marked: %q", trips)
	}
	if err := lookupErr(s, "other", "u"); err != nil || len(h.take()) == 0 {
		t.Fatalf("an unmarked tag: %v, want it looked up in Redis", err)
	}
	if err := s.EndWrite(ctx, m); err != nil {
		t.Fatal(err)
	}
	if err := s.EndWrite(ctx, m); err != nil { // a retry counts nothing twice
		t.Fatal(err)
	}
	if got := get(t, s, "k", "t"); got != "" {
		t.Fatalf("after the write: served %q stored before it", got)
	}
	put(t, s, "k", "new", "t")
	if got := get(t, s, "k", "t"); got != "new" {
		t.Fatalf("refill after the write: %q", got)
	}
	if s.local.n.Load() != 0 || len(s.local.tags) != 0 {
		t.Fatalf("marks left counted: %d, %v", s.local.n.Load(), s.local.tags)
	}

	// A mark Redis refused is not counted.
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", ContextTimeoutEnabled: true, MaxRetries: -1})
	defer c.Close()
	dead, err := New(c, Options{Namespace: testenv.Name("t"), Timeout: 100 * time.Millisecond, InvalidateTimeout: 100 * time.Millisecond, StatsInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer dead.Close()
	if _, err := dead.MarkWrite(ctx, []string{"t"}); err == nil {
		t.Fatal("MarkWrite succeeded without Redis")
	}
	if dead.local.n.Load() != 0 || dead.local.any([]string{"t"}) {
		t.Fatal("a failed mark is counted")
	}
}
