// Package storetest is the contract test of tagstore.Store: every store
// implementation runs Run against a fresh, empty store and must pass it
// unchanged. Values stored are []byte, which every store must round-trip.
package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/yokedcache/yoked/tagstore"
)

// NewStore returns a fresh, empty store for one subtest. The store is closed
// by Run; newStore may register further cleanup with t.Cleanup.
type NewStore func(t *testing.T) tagstore.Store

// Run runs the contract cases, each as a subtest with its own store.
func Run(t *testing.T, newStore NewStore) {
	cases := []struct {
		name string
		fn   func(t *testing.T, s tagstore.Store)
	}{
		{"MissSetHit", testMissSetHit},
		{"StampHasAllTag", testStampHasAllTag},
		{"InvalidateTags", testInvalidateTags},
		{"StaleStampNeverServed", testStaleStamp},
		{"SupersetOfTags", testSupersetOfTags},
		{"InvalidateAll", testInvalidateAll},
		{"Delete", testDelete},
		{"TTL", testTTL},
		{"InvalidatePattern", testInvalidatePattern},
		{"BadPattern", testBadPattern},
		{"Flush", testFlush},
		{"InvalidStamp", testInvalidStamp},
		{"Stats", testStats},
		{"ConcurrentNeverStale", testConcurrentNeverStale},
		{"Closed", testClosed},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := newStore(t)
			t.Cleanup(func() { _ = s.Close() })
			c.fn(t, s)
		})
	}
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return c
}

// fill looks key up, expects a miss, and stores val under the stamp.
func fill(t *testing.T, s tagstore.Store, key string, val []byte, tags ...string) {
	t.Helper()
	v, hit, st, err := s.Lookup(ctx(t), key, tags)
	if err != nil {
		t.Fatalf("Lookup(%q): %v", key, err)
	}
	if hit {
		t.Fatalf("Lookup(%q) before Set: hit %q, want miss", key, v)
	}
	if err := s.Set(ctx(t), key, val, len(val), 0, st); err != nil {
		t.Fatalf("Set(%q): %v", key, err)
	}
}

// want checks that key hits with val (val nil: misses).
func want(t *testing.T, s tagstore.Store, key string, val []byte, tags ...string) {
	t.Helper()
	v, hit, st, err := s.Lookup(ctx(t), key, tags)
	if err != nil {
		t.Fatalf("Lookup(%q): %v", key, err)
	}
	switch {
	case val == nil && hit:
		t.Fatalf("Lookup(%q) = hit %q, want miss", key, v)
	case val == nil && !st.Valid():
		t.Fatalf("Lookup(%q) miss returned invalid stamp %+v", key, st)
	case val != nil && !hit:
		t.Fatalf("Lookup(%q) = miss, want hit %q", key, val)
	case val != nil:
		b, ok := v.([]byte)
		if !ok || !bytes.Equal(b, val) {
			t.Fatalf("Lookup(%q) = %#v, want %q", key, v, val)
		}
	}
}

func testMissSetHit(t *testing.T, s tagstore.Store) {
	fill(t, s, "k1", []byte("v1"), "users")
	want(t, s, "k1", []byte("v1"), "users")
	fill(t, s, "empty", []byte{}, "users")
	want(t, s, "empty", []byte{}, "users")
	fill(t, s, "notags", []byte("nt"))
	want(t, s, "notags", []byte("nt"))
	long := string(bytes.Repeat([]byte("x"), 5000))
	fill(t, s, long, []byte("long key"), "users")
	want(t, s, long, []byte("long key"), "users")
	want(t, s, long[:4999], nil, "users")
}

func testStampHasAllTag(t *testing.T, s tagstore.Store) {
	st, err := s.Stamp(ctx(t), []string{"a", "b"})
	if err != nil {
		t.Fatal(err)
	}
	if !st.Valid() {
		t.Fatalf("invalid stamp %+v", st)
	}
	seen := map[string]bool{}
	for _, tag := range st.Tags {
		seen[tag] = true
	}
	for _, tag := range []string{tagstore.AllTag, "a", "b"} {
		if !seen[tag] {
			t.Errorf("stamp %v lacks %q", st.Tags, tag)
		}
	}
	again, err := s.Stamp(ctx(t), []string{"a", "b"})
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(st) != fmt.Sprint(again) {
		t.Errorf("stamp moved without invalidation: %v then %v", st, again)
	}
	if err := s.InvalidateTags(ctx(t), "a"); err != nil {
		t.Fatal(err)
	}
	moved, err := s.Stamp(ctx(t), []string{"a", "b"})
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(st) == fmt.Sprint(moved) {
		t.Errorf("stamp did not move after InvalidateTags(a): %v", moved)
	}
}

func testInvalidateTags(t *testing.T, s tagstore.Store) {
	fill(t, s, "u", []byte("u"), "users")
	fill(t, s, "o", []byte("o"), "orders")
	fill(t, s, "uo", []byte("uo"), "users", "orders")
	if err := s.InvalidateTags(ctx(t), "users"); err != nil {
		t.Fatal(err)
	}
	want(t, s, "u", nil, "users")
	want(t, s, "uo", nil, "users", "orders")
	want(t, s, "o", []byte("o"), "orders")
	// Refill after the invalidation is served again.
	fill(t, s, "u", []byte("u2"), "users")
	want(t, s, "u", []byte("u2"), "users")
	// Invalidating no tags and unknown tags is fine.
	if err := s.InvalidateTags(ctx(t)); err != nil {
		t.Fatal(err)
	}
	if err := s.InvalidateTags(ctx(t), "never-seen"); err != nil {
		t.Fatal(err)
	}
	want(t, s, "u", []byte("u2"), "users")
}

// A reader that took its stamp before a write must not publish its value.
func testStaleStamp(t *testing.T, s tagstore.Store) {
	_, hit, st, err := s.Lookup(ctx(t), "k", []string{"t"})
	if err != nil || hit {
		t.Fatalf("Lookup: hit=%v err=%v", hit, err)
	}
	if err := s.InvalidateTags(ctx(t), "t"); err != nil {
		t.Fatal(err)
	}
	if err := s.Set(ctx(t), "k", []byte("old"), 3, 0, st); err != nil {
		t.Fatal(err)
	}
	want(t, s, "k", nil, "t")
	// The same with a stamp taken by Stamp.
	st, err = s.Stamp(ctx(t), []string{"t"})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.InvalidateAll(ctx(t)); err != nil {
		t.Fatal(err)
	}
	if err := s.Set(ctx(t), "k", []byte("old"), 3, 0, st); err != nil {
		t.Fatal(err)
	}
	want(t, s, "k", nil, "t")
}

func testSupersetOfTags(t *testing.T, s tagstore.Store) {
	fill(t, s, "k", []byte("v"), "a")
	if err := s.InvalidateTags(ctx(t), "a"); err != nil {
		t.Fatal(err)
	}
	want(t, s, "k", nil, "a", "b")
}

func testInvalidateAll(t *testing.T, s tagstore.Store) {
	fill(t, s, "a", []byte("a"), "ta")
	fill(t, s, "b", []byte("b"))
	if err := s.InvalidateAll(ctx(t)); err != nil {
		t.Fatal(err)
	}
	want(t, s, "a", nil, "ta")
	want(t, s, "b", nil)
}

func testDelete(t *testing.T, s tagstore.Store) {
	fill(t, s, "a", []byte("a"), "t")
	fill(t, s, "b", []byte("b"), "t")
	fill(t, s, "c", []byte("c"), "t")
	if err := s.Delete(ctx(t), "a", "b", "absent"); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx(t)); err != nil {
		t.Fatal(err)
	}
	want(t, s, "a", nil, "t")
	want(t, s, "b", nil, "t")
	want(t, s, "c", []byte("c"), "t")
}

func testTTL(t *testing.T, s tagstore.Store) {
	_, _, st, err := s.Lookup(ctx(t), "short", []string{"t"})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Set(ctx(t), "short", []byte("s"), 1, 20*time.Millisecond, st); err != nil {
		t.Fatal(err)
	}
	fill(t, s, "long", []byte("l"), "t")
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, hit, _, err := s.Lookup(ctx(t), "short", []string{"t"})
		if err != nil {
			t.Fatal(err)
		}
		if !hit {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("entry with a 20ms TTL still served after 5s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	want(t, s, "long", []byte("l"), "t")
}

func testInvalidatePattern(t *testing.T, s tagstore.Store) {
	type entry struct{ key, tag string }
	cases := []struct {
		pattern    string
		gone, kept []entry
	}{
		{"user*", []entry{{"k-users", "users"}, {"k-user_roles", "user_roles"}}, []entry{{"k-orders", "orders"}}},
		{"q:?", []entry{{"q:1", "x"}, {"q:2", "x"}}, []entry{{"r:1", "x"}}},
		{"[ab]-t", []entry{{"a-t", "y"}, {"k-b", "b-t"}}, []entry{{"c-t", "y"}}},
	}
	for _, c := range cases {
		for _, e := range append(c.gone, c.kept...) {
			fill(t, s, e.key, []byte(e.key), e.tag)
		}
		n, err := s.InvalidatePattern(ctx(t), c.pattern)
		if err != nil {
			t.Fatalf("InvalidatePattern(%q): %v", c.pattern, err)
		}
		if n < len(c.gone) {
			t.Errorf("InvalidatePattern(%q) touched %d, want at least %d", c.pattern, n, len(c.gone))
		}
		for _, e := range c.gone {
			want(t, s, e.key, nil, e.tag)
		}
		for _, e := range c.kept {
			want(t, s, e.key, []byte(e.key), e.tag)
		}
	}
}

func testBadPattern(t *testing.T, s tagstore.Store) {
	if _, err := s.InvalidatePattern(ctx(t), "[unclosed"); err == nil {
		t.Fatal("InvalidatePattern([unclosed) returned nil error")
	}
}

func testFlush(t *testing.T, s tagstore.Store) {
	fill(t, s, "a", []byte("a"), "t")
	fill(t, s, "b", []byte("b"))
	_, _, st, err := s.Lookup(ctx(t), "c", []string{"t"})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Flush(ctx(t)); err != nil {
		t.Fatal(err)
	}
	want(t, s, "a", nil, "t")
	want(t, s, "b", nil)
	// A stamp from before the flush does not publish.
	if err := s.Set(ctx(t), "c", []byte("old"), 3, 0, st); err != nil {
		t.Fatal(err)
	}
	want(t, s, "c", nil, "t")
	fill(t, s, "a", []byte("a2"), "t")
	want(t, s, "a", []byte("a2"), "t")
}

func testInvalidStamp(t *testing.T, s tagstore.Store) {
	if err := s.Set(ctx(t), "k", []byte("v"), 1, 0, tagstore.Stamp{}); err == nil {
		t.Fatal("Set with the zero Stamp returned nil error")
	}
	bad := tagstore.Stamp{Tags: []string{"a", "b"}, Versions: []uint64{1}}
	if err := s.Set(ctx(t), "k", []byte("v"), 1, 0, bad); err == nil {
		t.Fatal("Set with a malformed Stamp returned nil error")
	}
	want(t, s, "k", nil, "a")
}

func testStats(t *testing.T, s tagstore.Store) {
	before := s.Stats()
	fill(t, s, "k", []byte("v"), "t")
	want(t, s, "k", []byte("v"), "t")
	want(t, s, "k", []byte("v"), "t")
	if err := s.InvalidateTags(ctx(t), "t"); err != nil {
		t.Fatal(err)
	}
	after := s.Stats()
	if d := after.Hits - before.Hits; d != 2 {
		t.Errorf("hits grew by %d, want 2", d)
	}
	if d := after.Misses - before.Misses; d != 1 {
		t.Errorf("misses grew by %d, want 1", d)
	}
	if d := after.Sets - before.Sets; d != 1 {
		t.Errorf("sets grew by %d, want 1", d)
	}
	if after.Invalidations <= before.Invalidations {
		t.Errorf("invalidations did not grow: %d -> %d", before.Invalidations, after.Invalidations)
	}
}

// testConcurrentNeverStale runs readers that cache a per-tag counter (the
// "source of truth") against writers that bump it and invalidate. A hit must
// never be older than the truth observed before the Lookup started.
func testConcurrentNeverStale(t *testing.T, s tagstore.Store) {
	const tags = 3
	// truth is the source of truth; done is the newest truth whose
	// invalidation has returned (the write is "committed and visible").
	var truth, done [tags]atomic.Int64
	var wg sync.WaitGroup
	stop := make(chan struct{})
	errs := make(chan error, 16)
	report := func(err error) {
		select {
		case errs <- err:
		default:
		}
	}
	for w := 0; w < 2; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				tag := i % tags
				v := truth[tag].Add(1)
				if err := s.InvalidateTags(context.Background(), "t"+strconv.Itoa(tag)); err != nil {
					report(err)
					return
				}
				for {
					old := done[tag].Load()
					if old >= v || done[tag].CompareAndSwap(old, v) {
						break
					}
				}
			}
		}()
	}
	for r := 0; r < 4; r++ {
		wg.Add(1)
		go func(r int) {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				tag := (i + r) % tags
				name := "t" + strconv.Itoa(tag)
				floor := done[tag].Load()
				v, hit, st, err := s.Lookup(context.Background(), name, []string{name})
				if err != nil {
					report(err)
					return
				}
				if hit {
					got, err := strconv.ParseInt(string(v.([]byte)), 10, 64)
					if err != nil {
						report(err)
						return
					}
					if got < floor {
						report(fmt.Errorf("stale hit for %s: %d, truth before lookup was %d", name, got, floor))
						return
					}
					continue
				}
				val := []byte(strconv.FormatInt(truth[tag].Load(), 10))
				if err := s.Set(context.Background(), name, val, len(val), 0, st); err != nil {
					report(err)
					return
				}
			}
		}(r)
	}
	time.Sleep(300 * time.Millisecond)
	close(stop)
	wg.Wait()
	select {
	case err := <-errs:
		t.Fatal(err)
	default:
	}
	if st := s.Stats(); st.Hits == 0 {
		t.Errorf("no hits at all in the concurrent run (stats %+v): the test proved nothing", st)
	}
}

func testClosed(t *testing.T, s tagstore.Store) {
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	c := ctx(t)
	if _, _, _, err := s.Lookup(c, "k", nil); !errors.Is(err, tagstore.ErrClosed) {
		t.Errorf("Lookup after Close: %v, want ErrClosed", err)
	}
	if _, err := s.Stamp(c, nil); !errors.Is(err, tagstore.ErrClosed) {
		t.Errorf("Stamp after Close: %v, want ErrClosed", err)
	}
	if err := s.InvalidateTags(c, "t"); !errors.Is(err, tagstore.ErrClosed) {
		t.Errorf("InvalidateTags after Close: %v, want ErrClosed", err)
	}
	if err := s.Flush(c); !errors.Is(err, tagstore.ErrClosed) {
		t.Errorf("Flush after Close: %v, want ErrClosed", err)
	}
}
