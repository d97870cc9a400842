package redisstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/yokedcache/yoked/tagstore"
)

// Leases and marks are for change feeds (package changefeed): one watcher
// per source holds a lease, and writes its heartbeat and stream position as
// marks. They live under "yoked:<ns>:feed:", apart from entries and
// versions, so Flush, invalidation and the inspection commands leave them
// alone.

// leaseScript takes KEYS[1] for holder ARGV[1] for ARGV[2] milliseconds when
// it is free or already ARGV[1]'s, and returns 1 if ARGV[1] holds it.
var leaseScript = redis.NewScript(`
local v = redis.call('GET', KEYS[1])
if v == false or v == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0`)

// releaseScript deletes KEYS[1] if ARGV[1] holds it.
var releaseScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0`)

func (s *Store) feedKey(kind, name string) string {
	return "yoked:" + s.opt.Namespace + ":feed:" + kind + ":" + name
}

// AcquireLease takes the lease name for holder for ttl (at least a
// millisecond), or renews it when holder already holds it, and reports
// whether holder holds it afterwards. A lease not renewed within its ttl
// expires in Redis and is free for the next caller.
func (s *Store) AcquireLease(ctx context.Context, name, holder string, ttl time.Duration) (bool, error) {
	if s.closed.Load() {
		return false, tagstore.ErrClosed
	}
	ms := ttl.Milliseconds()
	if ms < 1 {
		ms = 1
	}
	ctx, cancel := context.WithTimeout(ctx, s.opt.InvalidateTimeout)
	defer cancel()
	n, err := leaseScript.Run(ctx, s.c, []string{s.feedKey("lease", name)}, holder, ms).Int()
	if err != nil {
		return false, fmt.Errorf("redisstore: lease %s: %w", name, err)
	}
	return n == 1, nil
}

// ReleaseLease frees the lease name if holder holds it.
func (s *Store) ReleaseLease(ctx context.Context, name, holder string) error {
	if s.closed.Load() {
		return tagstore.ErrClosed
	}
	ctx, cancel := context.WithTimeout(ctx, s.opt.InvalidateTimeout)
	defer cancel()
	if err := releaseScript.Run(ctx, s.c, []string{s.feedKey("lease", name)}, holder).Err(); err != nil {
		return fmt.Errorf("redisstore: release lease %s: %w", name, err)
	}
	return nil
}

// SetMark stores value under name, without expiry.
func (s *Store) SetMark(ctx context.Context, name string, value []byte) error {
	if s.closed.Load() {
		return tagstore.ErrClosed
	}
	ctx, cancel := context.WithTimeout(ctx, s.opt.InvalidateTimeout)
	defer cancel()
	if err := s.c.Set(ctx, s.feedKey("mark", name), value, 0).Err(); err != nil {
		return fmt.Errorf("redisstore: set mark %s: %w", name, err)
	}
	return nil
}

// Mark returns the value SetMark stored under name, or nil when there is
// none (never set, or lost with the Redis data). It is bounded by
// Options.Timeout (readers poll it); the other methods by InvalidateTimeout.
func (s *Store) Mark(ctx context.Context, name string) ([]byte, error) {
	if s.closed.Load() {
		return nil, tagstore.ErrClosed
	}
	ctx, cancel := context.WithTimeout(ctx, s.opt.Timeout)
	defer cancel()
	b, err := s.c.Get(ctx, s.feedKey("mark", name)).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("redisstore: mark %s: %w", name, err)
	}
	return b, nil
}
