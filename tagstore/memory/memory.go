package memory

import (
	"context"
	"errors"
	"fmt"
	"path"
	"sync"
	"sync/atomic"
	"time"

	"github.com/maypok86/otter/v2"

	"github.com/yokedcache/yoked/tagstore"
)

var _ tagstore.Store = (*Store)(nil)

// DefaultMaxBytes is the bound used when Options.MaxBytes is zero.
const DefaultMaxBytes = 64 << 20

// entryOverhead is added to every entry's size for the key, the version checks
// and the map's bookkeeping, so that many tiny entries still count.
const entryOverhead = 96

// DefaultMaxTags is the bound on tag versions when Options.MaxTags is zero
// (a version costs about 100 bytes with its tag).
const DefaultMaxTags = 1 << 17

// noExpiry stands for "never expires" where otter needs a duration.
const noExpiry = 50 * 365 * 24 * time.Hour

// clock is the process-wide source of versions. Every new or bumped version
// is a fresh value of it, so a tag's version never returns to an earlier
// value, in any store of the process, even after Flush. Zero is never handed
// out: it marks a version cell that was removed.
var clock atomic.Uint64

func nextVersion() uint64 { return clock.Add(1) }

// Options configure a Store. The zero value is usable.
type Options struct {
	// MaxBytes bounds the summed sizes of the entries (as given to Set, plus
	// a small per-entry overhead). Zero means DefaultMaxBytes; entries larger
	// than the bound are not stored. Tag versions are not counted: there is
	// one per tag, and tags are few (one per table).
	MaxBytes int64
	// DefaultTTL is the lifetime of entries stored with ttl 0. Zero means
	// they do not expire (they still go when evicted or invalidated).
	DefaultTTL time.Duration
	// MaxTags bounds the number of tag versions kept (zero means
	// DefaultMaxTags; tags created while a sweep runs may pass it by up to
	// a quarter).
	// Row tags give a version to every key read, so they are bounded like
	// entries: when a new tag would pass the bound, about an eighth of the
	// versions are dropped, those not used since the last such sweep
	// first. A dropped version is a miss for every entry stored
	// under it, and the tag gets a fresh version when next used (versions
	// never repeat), so dropping one never serves anything stale. AllTag is
	// never dropped.
	MaxTags int

	// now replaces the wall clock of expiry in tests; nil means time.Now.
	now otter.Clock
}

// version is the current version of one tag. It is shared by pointer with
// every entry stored under the tag; zero means the tag was flushed and the
// cell is no longer reachable from the store.
type version struct {
	v atomic.Uint64
	// used is set when the version is read, cleared by a sweep (MaxTags):
	// a sweep drops the versions it finds unused since the last one.
	used atomic.Bool
}

// check is one tag an entry depends on and the version it was stored under.
type check struct {
	cell *version
	want uint64
}

type entry struct {
	value  any
	weight uint32
	ttl    time.Duration
	checks []check
}

// fresh reports whether every tag of e still has the version e was stored under.
func (e *entry) fresh() bool {
	for i := range e.checks {
		c := e.checks[i].cell
		if c.v.Load() != e.checks[i].want {
			return false
		}
		if !c.used.Load() {
			c.used.Store(true)
		}
	}
	return true
}

// Store is the in-process tagstore.Store. Create it with New.
type Store struct {
	entries    *otter.Cache[string, *entry]
	versions   sync.Map // tag string -> *version
	ntags      atomic.Int64
	maxTags    int64
	sweeping   sync.Mutex
	defaultTTL time.Duration
	maxWeight  uint64
	closed     atomic.Bool
	closeOnce  sync.Once
	feed       feedState // leases and marks of change feeds (feed.go)

	hits, misses, sets, deletes, invalidations, errs atomic.Uint64
}

// New returns an empty Store. opts may be nil.
func New(opts *Options) (*Store, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.MaxBytes < 0 {
		return nil, fmt.Errorf("memory: MaxBytes %d is negative", o.MaxBytes)
	}
	if o.DefaultTTL < 0 {
		return nil, fmt.Errorf("memory: DefaultTTL %v is negative", o.DefaultTTL)
	}
	if o.MaxTags < 0 {
		return nil, fmt.Errorf("memory: MaxTags %d is negative", o.MaxTags)
	}
	if o.MaxTags == 0 {
		o.MaxTags = DefaultMaxTags
	}
	if o.MaxBytes == 0 {
		o.MaxBytes = DefaultMaxBytes
	}
	s := &Store{defaultTTL: o.DefaultTTL, maxWeight: uint64(o.MaxBytes), maxTags: int64(o.MaxTags)}
	c, err := otter.New(&otter.Options[string, *entry]{
		MaximumWeight: uint64(o.MaxBytes),
		Weigher:       func(_ string, e *entry) uint32 { return e.weight },
		ExpiryCalculator: otter.ExpiryWritingFunc(func(e otter.Entry[string, *entry]) time.Duration {
			return e.Value.ttl
		}),
		Clock: o.now,
		// Maintenance (draining otter's read and write buffers, eviction,
		// expiry) runs on the goroutine that triggered it. otter's default
		// starts a goroutine for it, which on every store and every few
		// reads woke an idle thread: about 3–5 µs of latency per miss on an otherwise idle core (BenchmarkPaired, hit and miss/floor about 3–5% faster inline).
		Executor: func(fn func()) { fn() },
	})
	if err != nil {
		return nil, fmt.Errorf("memory: %w", err)
	}
	s.entries = c
	return s, nil
}

// cell returns the live version cell of tag, creating it with a fresh
// version when the tag has none.
func (s *Store) cell(tag string) *version {
	if c, ok := s.versions.Load(tag); ok {
		return c.(*version)
	}
	n := &version{}
	n.v.Store(nextVersion())
	c, loaded := s.versions.LoadOrStore(tag, n)
	if !loaded {
		if n := s.ntags.Add(1); n > s.maxTags {
			s.sweep(n > s.maxTags+s.maxTags/4)
		}
	}
	return c.(*version)
}

// drop removes the version cell c of tag: no entry stored under it is
// served again, and the tag gets a fresh version when next used.
func (s *Store) drop(tag string, c *version) {
	c.v.Store(0)
	if s.versions.CompareAndDelete(tag, c) {
		s.ntags.Add(-1)
	}
}

// sweep drops versions until an eighth below MaxTags: those not used since
// the last sweep first (a second chance for the others), never AllTag's.
// One sweep runs at a time; a caller that finds one running goes on, or,
// with wait (the count passed the bound by a quarter: tags come faster
// than one sweep drops them), waits for it and sweeps again if need be.
func (s *Store) sweep(wait bool) {
	if wait {
		s.sweeping.Lock()
	} else if !s.sweeping.TryLock() {
		return
	}
	defer s.sweeping.Unlock()
	target := s.maxTags - s.maxTags/8
	for pass := 0; pass < 3 && s.ntags.Load() > target; pass++ {
		s.versions.Range(func(k, v any) bool {
			if s.ntags.Load() <= target {
				return false
			}
			c := v.(*version)
			if k.(string) != tagstore.AllTag && !c.used.Swap(false) {
				s.drop(k.(string), c)
			}
			return true
		})
	}
}

// current returns the live cell of tag and its version, never zero.
func (s *Store) current(tag string) (*version, uint64) {
	for {
		c := s.cell(tag)
		if v := c.v.Load(); v != 0 {
			if !c.used.Load() {
				c.used.Store(true)
			}
			return c, v
		}
		// Flushed or dropped under our feet: make sure the dead cell is
		// gone from the map and retry with the one that replaces it.
		s.drop(tag, c)
	}
}

// bump gives tag a fresh version. A tag without one is left without: no
// entry stored under a version of it can be served (its cell is dead), and
// a stamp taken from that cell cannot be stored under (Set finds the cell
// gone), so a write of a row never read creates no version.
func (s *Store) bump(tag string) {
	for {
		v, ok := s.versions.Load(tag)
		if !ok {
			return
		}
		c := v.(*version)
		old := c.v.Load()
		if old == 0 {
			s.drop(tag, c)
			continue
		}
		if c.v.CompareAndSwap(old, nextVersion()) {
			return
		}
	}
}

// Lookup implements tagstore.Store. A hit does not allocate.
func (s *Store) Lookup(ctx context.Context, key string, tags []string) (any, bool, tagstore.Stamp, error) {
	if s.closed.Load() {
		return nil, false, tagstore.Stamp{}, tagstore.ErrClosed
	}
	if e, ok := s.entries.GetIfPresent(key); ok {
		if e.fresh() {
			s.hits.Add(1)
			return e.value, true, tagstore.Stamp{}, nil
		}
		// Stale: drop it unless a fresh one replaced it meanwhile.
		s.entries.ComputeIfPresent(key, func(cur *entry) (*entry, otter.ComputeOp) {
			if cur == e {
				return nil, otter.InvalidateOp
			}
			return cur, otter.CancelOp
		})
	}
	s.misses.Add(1)
	return nil, false, s.stamp(tags), nil
}

// Stamp implements tagstore.Store.
func (s *Store) Stamp(ctx context.Context, tags []string) (tagstore.Stamp, error) {
	if s.closed.Load() {
		return tagstore.Stamp{}, tagstore.ErrClosed
	}
	return s.stamp(tags), nil
}

func (s *Store) stamp(tags []string) tagstore.Stamp {
	st := tagstore.Stamp{
		Tags:     make([]string, 0, len(tags)+1),
		Versions: make([]uint64, 0, len(tags)+1),
	}
	add := func(t string) {
		for _, have := range st.Tags {
			if have == t {
				return
			}
		}
		st.Tags = append(st.Tags, t)
		_, v := s.current(t)
		st.Versions = append(st.Versions, v)
	}
	add(tagstore.AllTag)
	for _, t := range tags {
		add(t)
	}
	return st
}

// Set implements tagstore.Store. It stores nothing, and returns nil, when a
// version of stamp has already moved, or when size alone exceeds MaxBytes. A
// stamp that lacks AllTag was not made by a Store and is rejected.
func (s *Store) Set(ctx context.Context, key string, value any, size int, ttl time.Duration, stamp tagstore.Stamp) error {
	if s.closed.Load() {
		return tagstore.ErrClosed
	}
	if !stamp.Valid() {
		s.errs.Add(1)
		return errors.New("memory: Set with an invalid stamp")
	}
	if ttl < 0 {
		s.errs.Add(1)
		return fmt.Errorf("memory: Set with negative ttl %v", ttl)
	}
	if size < 0 {
		size = 0
	}
	if ttl == 0 {
		ttl = s.defaultTTL
	}
	if ttl == 0 {
		ttl = noExpiry
	}
	w := uint64(size) + uint64(len(key)) + entryOverhead
	if w > s.maxWeight || w > 1<<32-1 {
		return nil
	}
	e := &entry{value: value, weight: uint32(w), ttl: ttl, checks: make([]check, len(stamp.Tags))}
	hasAll := false
	for i, t := range stamp.Tags {
		c, ok := s.versions.Load(t)
		if !ok {
			return nil // flushed since the stamp: nothing to vouch for
		}
		cell := c.(*version)
		if stamp.Versions[i] == 0 || cell.v.Load() != stamp.Versions[i] {
			return nil // invalidated since the stamp
		}
		e.checks[i] = check{cell: cell, want: stamp.Versions[i]}
		hasAll = hasAll || t == tagstore.AllTag
	}
	if !hasAll {
		s.errs.Add(1)
		return errors.New("memory: Set with a stamp that lacks the AllTag version")
	}
	// A version may still move between the checks above and this write:
	// Lookup compares again, so such an entry is never served.
	s.entries.Set(key, e)
	s.sets.Add(1)
	return nil
}

// Delete implements tagstore.Store.
func (s *Store) Delete(ctx context.Context, keys ...string) error {
	if s.closed.Load() {
		return tagstore.ErrClosed
	}
	for _, k := range keys {
		if _, ok := s.entries.Invalidate(k); ok {
			s.deletes.Add(1)
		}
	}
	return nil
}

// InvalidateTags implements tagstore.Store: one version bump per tag,
// whatever the number of entries.
func (s *Store) InvalidateTags(ctx context.Context, tags ...string) error {
	if s.closed.Load() {
		return tagstore.ErrClosed
	}
	for _, t := range tags {
		s.bump(t)
		s.invalidations.Add(1)
	}
	return nil
}

// InvalidateAll implements tagstore.Store.
func (s *Store) InvalidateAll(ctx context.Context) error {
	return s.InvalidateTags(ctx, tagstore.AllTag)
}

// InvalidatePattern implements tagstore.Store. A malformed pattern is an
// error wrapping path.ErrBadPattern, and touches nothing.
func (s *Store) InvalidatePattern(ctx context.Context, pattern string) (int, error) {
	if s.closed.Load() {
		return 0, tagstore.ErrClosed
	}
	if _, err := path.Match(pattern, ""); err != nil {
		s.errs.Add(1)
		return 0, fmt.Errorf("memory: pattern %q: %w", pattern, err)
	}
	n := 0
	var tags []string
	s.versions.Range(func(k, _ any) bool {
		if ok, _ := path.Match(pattern, k.(string)); ok {
			tags = append(tags, k.(string))
		}
		return true
	})
	for _, t := range tags {
		s.bump(t)
		s.invalidations.Add(1)
		n++
	}
	var keys []string
	for k := range s.entries.Keys() {
		if ok, _ := path.Match(pattern, k); ok {
			keys = append(keys, k)
		}
	}
	for _, k := range keys {
		if _, ok := s.entries.Invalidate(k); ok {
			s.deletes.Add(1)
			n++
		}
	}
	return n, nil
}

// Flush implements tagstore.Store: every entry and every tag version of
// this store is removed. Entries stored concurrently under a stamp taken
// before Flush are never served, since their version cells are dead.
func (s *Store) Flush(ctx context.Context) error {
	if s.closed.Load() {
		return tagstore.ErrClosed
	}
	s.versions.Range(func(k, c any) bool {
		s.drop(k.(string), c.(*version))
		return true
	})
	s.entries.InvalidateAll()
	return nil
}

// Stats implements tagstore.Store. Entries and Bytes are estimates: the
// cache's pending bookkeeping is applied first, so that both count the same
// entries when no write runs concurrently (without it Bytes could lag behind
// Entries, reporting 0 bytes for a stored entry).
func (s *Store) Stats() tagstore.Stats {
	if !s.closed.Load() {
		s.entries.CleanUp()
	}
	return tagstore.Stats{
		Hits:          s.hits.Load(),
		Misses:        s.misses.Load(),
		Sets:          s.sets.Load(),
		Deletes:       s.deletes.Load(),
		Invalidations: s.invalidations.Load(),
		Errors:        s.errs.Load(),
		Entries:       int64(s.entries.EstimatedSize()),
		Bytes:         int64(s.entries.WeightedSize()),
	}
}

// Close implements tagstore.Store: it drops every entry and stops the
// cache's background work. It is idempotent; every other method then
// returns tagstore.ErrClosed.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.closed.Store(true)
		s.entries.InvalidateAll()
		s.entries.StopAllGoroutines()
	})
	return nil
}
