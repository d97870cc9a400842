package memory

import (
	"context"
	"errors"
	"fmt"
	"path"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/yokedcache/yoked/tagstore"
)

// fakeClock is a manual clock for expiry tests.
type fakeClock struct{ now atomic.Int64 }

func (c *fakeClock) NowNano() int64                      { return c.now.Load() }
func (c *fakeClock) Tick(time.Duration) <-chan time.Time { return nil }
func (c *fakeClock) advance(d time.Duration)             { c.now.Add(int64(d)) }

func newStore(t testing.TB, o *Options) *Store {
	t.Helper()
	s, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// put stores value under key after a miss, as a caller would.
func put(t testing.TB, s *Store, key string, value any, tags ...string) {
	t.Helper()
	ctx := context.Background()
	_, hit, st, err := s.Lookup(ctx, key, tags)
	if err != nil || hit {
		t.Fatalf("Lookup(%q) before put: hit=%v err=%v", key, hit, err)
	}
	if err := s.Set(ctx, key, value, 10, 0, st); err != nil {
		t.Fatalf("Set(%q): %v", key, err)
	}
}

func get(t testing.TB, s *Store, key string, tags ...string) (any, bool) {
	t.Helper()
	v, hit, st, err := s.Lookup(context.Background(), key, tags)
	if err != nil {
		t.Fatalf("Lookup(%q): %v", key, err)
	}
	if !hit && !st.Valid() {
		t.Fatalf("Lookup(%q) miss returned an invalid stamp %+v", key, st)
	}
	if hit && st.Valid() {
		t.Fatalf("Lookup(%q) hit returned a stamp", key)
	}
	return v, hit
}

func TestLookupAfterOperations(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name string
		// act runs after "k" was stored under table:a and table:b.
		act     func(s *Store) error
		wantHit bool
	}{
		{"nothing", func(*Store) error { return nil }, true},
		{"invalidate a tag of the entry", func(s *Store) error { return s.InvalidateTags(ctx, "table:a") }, false},
		{"invalidate the other tag", func(s *Store) error { return s.InvalidateTags(ctx, "table:b") }, false},
		{"invalidate an unrelated tag", func(s *Store) error { return s.InvalidateTags(ctx, "table:c") }, true},
		{"invalidate all", func(s *Store) error { return s.InvalidateAll(ctx) }, false},
		{"invalidate AllTag by name", func(s *Store) error { return s.InvalidateTags(ctx, tagstore.AllTag) }, false},
		{"delete the key", func(s *Store) error { return s.Delete(ctx, "k") }, false},
		{"delete another key", func(s *Store) error { return s.Delete(ctx, "other", "absent") }, true},
		{"flush", func(s *Store) error { return s.Flush(ctx) }, false},
		{"pattern on tags", func(s *Store) error { _, err := s.InvalidatePattern(ctx, "table:[a]"); return err }, false},
		{"pattern on key", func(s *Store) error { _, err := s.InvalidatePattern(ctx, "?"); return err }, false},
		{"pattern matching nothing", func(s *Store) error { _, err := s.InvalidatePattern(ctx, "user:*"); return err }, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStore(t, nil)
			put(t, s, "k", "v", "table:a", "table:b")
			put(t, s, "other", "o", "table:c")
			if err := tt.act(s); err != nil {
				t.Fatal(err)
			}
			v, hit := get(t, s, "k", "table:a", "table:b")
			if hit != tt.wantHit {
				t.Fatalf("hit = %v, want %v", hit, tt.wantHit)
			}
			if hit && v != "v" {
				t.Fatalf("value = %v, want v", v)
			}
		})
	}
}

func TestStampIncludesAllTagOnce(t *testing.T) {
	s := newStore(t, nil)
	st, err := s.Stamp(context.Background(), []string{"table:a", tagstore.AllTag, "table:a"})
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(st.Tags) != "[* table:a]" || !st.Valid() {
		t.Fatalf("stamp = %+v", st)
	}
	for _, v := range st.Versions {
		if v == 0 {
			t.Fatalf("zero version in %+v", st)
		}
	}
}

// TestStaleStampNeverServed is the race the versioned design closes: a reader
// stamps, a writer invalidates, the slow reader stores what it read before
// the write. That entry must never be served.
func TestStaleStampNeverServed(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name       string
		between    func(s *Store) error
		wantStored bool
	}{
		{"invalidate tag", func(s *Store) error { return s.InvalidateTags(ctx, "table:a") }, false},
		{"invalidate all", func(s *Store) error { return s.InvalidateAll(ctx) }, false},
		{"flush (versions missing)", func(s *Store) error { return s.Flush(ctx) }, false},
		{"pattern", func(s *Store) error { _, err := s.InvalidatePattern(ctx, "table:*"); return err }, false},
		{"unrelated invalidation", func(s *Store) error { return s.InvalidateTags(ctx, "table:z") }, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStore(t, nil)
			_, hit, st, err := s.Lookup(ctx, "k", []string{"table:a"})
			if err != nil || hit {
				t.Fatalf("first Lookup: hit=%v err=%v", hit, err)
			}
			if err := tt.between(s); err != nil {
				t.Fatal(err)
			}
			if err := s.Set(ctx, "k", "old", 3, 0, st); err != nil {
				t.Fatal(err)
			}
			if _, hit := get(t, s, "k", "table:a"); hit != tt.wantStored {
				t.Fatalf("hit = %v, want %v", hit, tt.wantStored)
			}
		})
	}
}

// TestInvalidationAfterSetCheck covers the window the Set-time check cannot:
// the version moves after Set resolved it. Lookup must still refuse it.
func TestInvalidationAfterSetCheck(t *testing.T) {
	ctx := context.Background()
	s := newStore(t, nil)
	_, _, st, _ := s.Lookup(ctx, "k", []string{"table:a"})
	if err := s.Set(ctx, "k", "v", 1, 0, st); err != nil {
		t.Fatal(err)
	}
	if err := s.InvalidateTags(ctx, "table:a"); err != nil {
		t.Fatal(err)
	}
	if _, hit := get(t, s, "k", "table:a"); hit {
		t.Fatal("entry served after its tag was invalidated")
	}
	if n := s.entries.EstimatedSize(); n != 0 {
		t.Fatalf("stale entry not dropped by Lookup: %d entries", n)
	}
}

func TestSetRejects(t *testing.T) {
	ctx := context.Background()
	s := newStore(t, nil)
	good, _ := s.Stamp(ctx, []string{"table:a"})
	foreign := tagstore.Stamp{Tags: []string{"table:a"}, Versions: []uint64{good.Versions[1]}}
	zero := tagstore.Stamp{Tags: []string{tagstore.AllTag}, Versions: []uint64{0}}
	unknown := tagstore.Stamp{Tags: []string{tagstore.AllTag, "never"}, Versions: []uint64{good.Versions[0], 1}}
	tests := []struct {
		name    string
		stamp   tagstore.Stamp
		ttl     time.Duration
		wantErr bool
	}{
		{"zero stamp", tagstore.Stamp{}, 0, true},
		{"mismatched lengths", tagstore.Stamp{Tags: []string{"*"}}, 0, true},
		{"negative ttl", good, -time.Second, true},
		{"no AllTag", foreign, 0, true},
		{"zero version", zero, 0, false},
		{"tag without a version", unknown, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := s.Set(ctx, "k", "v", 1, tt.ttl, tt.stamp)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if _, hit := get(t, s, "k", "table:a"); hit {
				t.Fatal("rejected Set stored an entry")
			}
		})
	}
}

func TestTTL(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name       string
		defaultTTL time.Duration
		ttl        time.Duration
		alive      time.Duration // still a hit after this long
		dead       time.Duration // a miss after this long
	}{
		{"explicit ttl", 0, time.Minute, 59 * time.Second, 61 * time.Second},
		{"default ttl", 10 * time.Second, 0, 9 * time.Second, 11 * time.Second},
		{"explicit beats default", 10 * time.Second, time.Hour, 59 * time.Minute, 61 * time.Minute},
		{"no expiry", 0, 0, 24 * 365 * time.Hour, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := &fakeClock{}
			clk.now.Store(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
			s := newStore(t, &Options{DefaultTTL: tt.defaultTTL, now: clk})
			_, _, st, _ := s.Lookup(ctx, "k", nil)
			if err := s.Set(ctx, "k", "v", 1, tt.ttl, st); err != nil {
				t.Fatal(err)
			}
			clk.advance(tt.alive)
			if _, hit := get(t, s, "k"); !hit {
				t.Fatalf("miss after %v", tt.alive)
			}
			if tt.dead < 0 {
				return
			}
			clk.advance(tt.dead - tt.alive)
			if _, hit := get(t, s, "k"); hit {
				t.Fatalf("hit after %v", tt.dead)
			}
		})
	}
}

func TestInvalidateManyEntries(t *testing.T) {
	ctx := context.Background()
	s := newStore(t, nil)
	const n = 5000
	for i := range n {
		put(t, s, fmt.Sprint("a", i), i, "table:a")
		put(t, s, fmt.Sprint("b", i), i, "table:b")
	}
	if err := s.InvalidateTags(ctx, "table:a"); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if _, hit := get(t, s, fmt.Sprint("a", i), "table:a"); hit {
			t.Fatalf("a%d served after invalidation", i)
		}
		if v, hit := get(t, s, fmt.Sprint("b", i), "table:b"); !hit || v != i {
			t.Fatalf("b%d = %v, %v; want %d, hit", i, v, hit, i)
		}
	}
}

func TestInvalidatePattern(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		pattern string
		want    int
		wantErr bool
		// hits after the call for keys k1 (table:users), k2 (table:orders), user:1 (table:x)
		wantHits [3]bool
	}{
		{"table:users", 1, false, [3]bool{false, true, true}},
		{"table:*", 3, false, [3]bool{false, false, false}}, // three tags
		{"user:*", 1, false, [3]bool{true, true, false}},    // one key
		{"k?", 2, false, [3]bool{false, false, true}},       // two keys
		{"nothing", 0, false, [3]bool{true, true, true}},
		{"[", 0, true, [3]bool{true, true, true}},
	}
	for _, tt := range tests {
		t.Run(tt.pattern, func(t *testing.T) {
			s := newStore(t, nil)
			put(t, s, "k1", 1, "table:users")
			put(t, s, "k2", 2, "table:orders")
			put(t, s, "user:1", 3, "table:x")
			n, err := s.InvalidatePattern(ctx, tt.pattern)
			if (err != nil) != tt.wantErr || (err != nil && !errors.Is(err, path.ErrBadPattern)) {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if n != tt.want {
				t.Fatalf("touched %d, want %d", n, tt.want)
			}
			keys := []struct{ k, tag string }{{"k1", "table:users"}, {"k2", "table:orders"}, {"user:1", "table:x"}}
			for i, k := range keys {
				if _, hit := get(t, s, k.k, k.tag); hit != tt.wantHits[i] {
					t.Errorf("%s: hit = %v, want %v", k.k, hit, tt.wantHits[i])
				}
			}
		})
	}
}

func TestVersionsNeverRepeat(t *testing.T) {
	ctx := context.Background()
	s := newStore(t, nil)
	seen := map[uint64]bool{}
	for range 100 {
		st, _ := s.Stamp(ctx, []string{"table:a"})
		v := st.Versions[1]
		if seen[v] {
			t.Fatalf("version %d came back", v)
		}
		seen[v] = true
		if err := s.InvalidateTags(ctx, "table:a"); err != nil {
			t.Fatal(err)
		}
		if err := s.Flush(ctx); err != nil {
			t.Fatal(err)
		}
	}
	// Another store of the process never hands out the same versions either.
	other := newStore(t, nil)
	st, _ := other.Stamp(ctx, []string{"table:a"})
	if seen[st.Versions[1]] {
		t.Fatalf("version %d reused by another store", st.Versions[1])
	}
}

func TestByteBoundEvicts(t *testing.T) {
	ctx := context.Background()
	const maxBytes = 64 << 10
	s := newStore(t, &Options{MaxBytes: maxBytes})
	for i := range 1000 {
		_, _, st, _ := s.Lookup(ctx, fmt.Sprint(i), nil)
		if err := s.Set(ctx, fmt.Sprint(i), i, 1000, 0, st); err != nil {
			t.Fatal(err)
		}
	}
	s.entries.CleanUp()
	if b := s.Stats().Bytes; b > maxBytes || b <= 0 {
		t.Fatalf("bytes = %d, want in (0, %d]", b, maxBytes)
	}
	if n := s.Stats().Entries; n >= 1000 || n == 0 {
		t.Fatalf("entries = %d, want some evicted", n)
	}
	// An entry larger than the bound is not stored at all.
	_, _, st, _ := s.Lookup(ctx, "huge", nil)
	if err := s.Set(ctx, "huge", "x", maxBytes+1, 0, st); err != nil {
		t.Fatal(err)
	}
	if _, hit := get(t, s, "huge"); hit {
		t.Fatal("entry larger than MaxBytes was stored")
	}
}

func TestStats(t *testing.T) {
	ctx := context.Background()
	s := newStore(t, nil)
	put(t, s, "k", "v", "table:a") // 1 miss, 1 set
	get(t, s, "k", "table:a")      // 1 hit
	_ = s.InvalidateTags(ctx, "table:a", "table:b")
	get(t, s, "k", "table:a") // 1 miss
	put(t, s, "k2", "v")      // 1 miss, 1 set
	_ = s.Delete(ctx, "k2", "absent")
	_ = s.Set(ctx, "x", 1, 1, 0, tagstore.Stamp{})
	got := s.Stats()
	want := tagstore.Stats{Hits: 1, Misses: 3, Sets: 2, Deletes: 1, Invalidations: 2, Errors: 1}
	got.Entries, got.Bytes = 0, 0
	if got != want {
		t.Fatalf("stats = %+v, want %+v", got, want)
	}
}

func TestClosed(t *testing.T) {
	ctx := context.Background()
	s := newStore(t, nil)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	st := tagstore.Stamp{Tags: []string{"*"}, Versions: []uint64{1}}
	calls := map[string]error{}
	_, _, _, calls["Lookup"] = s.Lookup(ctx, "k", nil)
	_, calls["Stamp"] = s.Stamp(ctx, nil)
	calls["Set"] = s.Set(ctx, "k", 1, 1, 0, st)
	calls["Delete"] = s.Delete(ctx, "k")
	calls["InvalidateTags"] = s.InvalidateTags(ctx, "t")
	calls["InvalidateAll"] = s.InvalidateAll(ctx)
	_, calls["InvalidatePattern"] = s.InvalidatePattern(ctx, "*")
	calls["Flush"] = s.Flush(ctx)
	for name, err := range calls {
		if !errors.Is(err, tagstore.ErrClosed) {
			t.Errorf("%s after Close: %v, want ErrClosed", name, err)
		}
	}
}

func TestNewRejectsBadOptions(t *testing.T) {
	for _, o := range []*Options{{MaxBytes: -1}, {DefaultTTL: -time.Second}} {
		if _, err := New(o); err == nil {
			t.Errorf("New(%+v) accepted", *o)
		}
	}
}

// TestConcurrentNoStaleRead runs readers that store "the value they read"
// against writers that change the source and then invalidate. A reader that
// starts after a write's invalidation returned must never see an older value.
func TestConcurrentNoStaleRead(t *testing.T) {
	ctx := context.Background()
	s := newStore(t, &Options{MaxBytes: 1 << 20})
	var source atomic.Int64      // the "database"
	var invalidated atomic.Int64 // highest source value whose invalidation returned
	var writers, readers sync.WaitGroup
	stop := make(chan struct{})
	var writeMu sync.Mutex
	for range 2 {
		writers.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				writeMu.Lock()
				v := source.Add(1)
				if err := s.InvalidateTags(ctx, "table:t"); err != nil {
					t.Error(err)
				}
				invalidated.Store(v)
				writeMu.Unlock()
				if v%64 == 0 {
					_ = s.Flush(ctx)
				}
			}
		})
	}
	for r := range 6 {
		readers.Go(func() {
			key := fmt.Sprint("k", r%2)
			for range 20000 {
				floor := invalidated.Load()
				v, hit, st, err := s.Lookup(ctx, key, []string{"table:t"})
				if err != nil {
					t.Error(err)
					return
				}
				if hit {
					if got := v.(int64); got < floor {
						t.Errorf("stale read: got %d after invalidation of %d", got, floor)
						return
					}
					continue
				}
				read := source.Load()
				if err := s.Set(ctx, key, read, 8, 0, st); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	readers.Wait()
	close(stop)
	writers.Wait()
	if s.Stats().Hits == 0 {
		t.Error("no hit at all: the test exercised nothing")
	}
}

// TestStatsEntriesAndBytesAgree: right after a Set, Stats counts the entry
// and its bytes together (the cache's size bookkeeping used to lag, showing
// one entry of 0 bytes).
func TestStatsEntriesAndBytesAgree(t *testing.T) {
	for i := range 200 {
		s := newStore(t, nil)
		put(t, s, fmt.Sprint("k", i), "v", "table:a")
		if st := s.Stats(); st.Entries != 1 || st.Bytes <= 0 {
			t.Fatalf("round %d: Entries %d, Bytes %d after one Set", i, st.Entries, st.Bytes)
		}
		_ = s.Close()
	}
}

// A store under far more row tags than MaxTags keeps its versions bounded,
// and never serves stale: readers stamp, read the truth, store it; writers
// move the truth, then invalidate. A hit must show a value at least as new
// as the truth when the lookup began, while sweeps drop versions under
// the readers' feet.
func TestTagVersionsBounded(t *testing.T) {
	const maxTags, keys = 200, 5000
	s := newStore(t, &Options{MaxTags: maxTags})
	ctx := context.Background()
	var truth [keys]atomic.Int64
	var hits, sweeps atomic.Int64
	var wg sync.WaitGroup
	var mu sync.Mutex
	var failure string
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 6000 {
				k := (i*7919 + g*104729) % keys
				if g == 0 && i%7 == 0 {
					k = i % 20 // some hot keys, kept by their use
				}
				key, tag := fmt.Sprint("k", k), fmt.Sprint("row:t(id=", k, ")")
				if i%5 == 0 {
					truth[k].Add(1)
					if err := s.InvalidateTags(ctx, tag); err != nil {
						t.Error(err)
						return
					}
					continue
				}
				before := truth[k].Load()
				v, hit, st, err := s.Lookup(ctx, key, []string{"table:t", tag})
				if err != nil {
					t.Error(err)
					return
				}
				if hit {
					hits.Add(1)
					if got := v.(int64); got < before {
						mu.Lock()
						failure = fmt.Sprintf("key %d: served %d after the truth was %d", k, got, before)
						mu.Unlock()
					}
					continue
				}
				if err := s.Set(ctx, key, truth[k].Load(), 8, 0, st); err != nil {
					t.Error(err)
					return
				}
				if n := s.ntags.Load(); n > maxTags+maxTags/4+4 { // others add while one sweeps
					mu.Lock()
					failure = fmt.Sprintf("%d tag versions kept, bound %d", n, maxTags)
					mu.Unlock()
				}
				if s.ntags.Load() < maxTags-maxTags/8+2 {
					sweeps.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	if failure != "" {
		t.Fatal(failure)
	}
	if hits.Load() == 0 || sweeps.Load() == 0 {
		t.Fatalf("the test proves nothing: %d hits, %d reads just after a sweep", hits.Load(), sweeps.Load())
	}
	if _, ok := s.versions.Load(tagstore.AllTag); !ok {
		t.Fatal("AllTag's version was dropped")
	}
	if _, err := s.Stamp(ctx, []string{"row:t(id=last)"}); err != nil {
		t.Fatal(err)
	}
	if n := s.ntags.Load(); n > maxTags {
		t.Fatalf("%d tag versions kept after the load, bound %d", n, maxTags)
	}
	// A hot key's entry survives the sweeps (its version is used).
	put(t, s, "hot", int64(1), "row:t(id=hot)")
	for i := range 3 * maxTags {
		if _, hit := get(t, s, "hot", "row:t(id=hot)"); !hit {
			t.Fatalf("the hot entry was dropped after %d new tags", i)
		}
		if _, err := s.Stamp(ctx, []string{fmt.Sprint("row:t(id=cold", i, ")")}); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("%d hits; %d tag versions at the end", hits.Load(), s.ntags.Load())
}

// Invalidating a tag that has no version creates none (a write of a row
// never read), and leaves nothing stale.
func TestInvalidateWithoutVersionCreatesNone(t *testing.T) {
	ctx := context.Background()
	s := newStore(t, nil)
	put(t, s, "k", "old", "row:t(id=1)")
	n := s.ntags.Load()
	if err := s.InvalidateTags(ctx, "row:t(id=2)", "row:t(id=3)"); err != nil {
		t.Fatal(err)
	}
	if got := s.ntags.Load(); got != n {
		t.Fatalf("%d tag versions after invalidating unknown tags, want %d", got, n)
	}
	if err := s.InvalidateTags(ctx, "row:t(id=1)"); err != nil {
		t.Fatal(err)
	}
	if _, hit := get(t, s, "k", "row:t(id=1)"); hit {
		t.Fatal("served after invalidation")
	}
}
