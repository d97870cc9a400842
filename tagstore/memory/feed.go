package memory

import (
	"context"
	"sync"
	"time"

	"github.com/yokedcache/yoked/tagstore"
)

// feedState holds the leases and marks of change feeds (package changefeed)
// that run in this process against this store.
type feedState struct {
	mu     sync.Mutex
	leases map[string]lease
	marks  map[string][]byte
}

type lease struct {
	holder string
	until  time.Time
}

// AcquireLease takes the lease name for holder for ttl, or renews it when
// holder already holds it, and reports whether holder holds it afterwards.
// A lease whose ttl ran out without renewal is free.
func (s *Store) AcquireLease(ctx context.Context, name, holder string, ttl time.Duration) (bool, error) {
	if s.closed.Load() {
		return false, tagstore.ErrClosed
	}
	f := &s.feed
	f.mu.Lock()
	defer f.mu.Unlock()
	now := time.Now()
	if l, ok := f.leases[name]; ok && l.holder != holder && now.Before(l.until) {
		return false, nil
	}
	if f.leases == nil {
		f.leases = map[string]lease{}
	}
	f.leases[name] = lease{holder: holder, until: now.Add(ttl)}
	return true, nil
}

// ReleaseLease frees the lease name if holder holds it.
func (s *Store) ReleaseLease(ctx context.Context, name, holder string) error {
	f := &s.feed
	f.mu.Lock()
	defer f.mu.Unlock()
	if l, ok := f.leases[name]; ok && l.holder == holder {
		delete(f.leases, name)
	}
	return nil
}

// SetMark stores value under name, beside the entries of the store but
// apart from them: Flush and invalidation leave marks alone.
func (s *Store) SetMark(ctx context.Context, name string, value []byte) error {
	if s.closed.Load() {
		return tagstore.ErrClosed
	}
	f := &s.feed
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.marks == nil {
		f.marks = map[string][]byte{}
	}
	f.marks[name] = append([]byte(nil), value...)
	return nil
}

// Mark returns the value SetMark stored under name, or nil when there is none.
func (s *Store) Mark(ctx context.Context, name string) ([]byte, error) {
	if s.closed.Load() {
		return nil, tagstore.ErrClosed
	}
	f := &s.feed
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]byte(nil), f.marks[name]...), nil
}
