package redisstore

import (
	"context"
	"fmt"
	"path"
	"strings"
	"sync"

	"github.com/redis/go-redis/v9"

	"github.com/yokedcache/yoked/tagstore"
)

// scanBatch is the COUNT hint of SCAN and the size of each UNLINK or bump
// batch.
const scanBatch = 1000

// forEachNode calls fn with a client for every master holding data.
func (s *Store) forEachNode(ctx context.Context, fn func(ctx context.Context, c redis.Cmdable) error) error {
	switch c := s.c.(type) {
	case *redis.ClusterClient:
		return c.ForEachMaster(ctx, func(ctx context.Context, n *redis.Client) error { return fn(ctx, n) })
	case *redis.Ring:
		return c.ForEachShard(ctx, func(ctx context.Context, n *redis.Client) error { return fn(ctx, n) })
	default:
		return fn(ctx, s.c)
	}
}

// scan calls batch with the keys of one node matching match, a batch at a
// time.
func scan(ctx context.Context, c redis.Cmdable, match string, batch func([]string) error) error {
	var cursor uint64
	for {
		keys, next, err := c.Scan(ctx, cursor, match, scanBatch).Result()
		if err != nil {
			return err
		}
		if len(keys) > 0 {
			if err := batch(keys); err != nil {
				return err
			}
		}
		if next == 0 {
			return nil
		}
		cursor = next
	}
}

func unlink(ctx context.Context, c redis.Cmdable, keys []string) error {
	pipe := c.Pipeline()
	for _, k := range keys {
		pipe.Unlink(ctx, k) // one key per command: keys may span slots
	}
	_, err := pipe.Exec(ctx)
	return err
}

// redisGlob returns a Redis MATCH pattern that matches at least every string
// pattern matches under path.Match. Only * and ? are passed through (Redis's
// * also matches '/', so the result is a superset); anything else falls back
// to matching all and filtering here.
func redisGlob(pattern string) string {
	if strings.ContainsAny(pattern, `[]\`) {
		return "*"
	}
	return pattern
}

// InvalidatePattern implements tagstore.Store. It gives every matching tag
// a new version, deletes every entry whose key matches, and also deletes
// every entry whose key was too long to store verbatim (it cannot be matched
// without being read: when in doubt, invalidate more). Every process's L1 is
// invalidated as a whole.
func (s *Store) InvalidatePattern(ctx context.Context, pattern string) (int, error) {
	if s.closed.Load() {
		return 0, tagstore.ErrClosed
	}
	if _, err := path.Match(pattern, ""); err != nil {
		return 0, fmt.Errorf("redisstore: pattern %q: %w", pattern, err)
	}
	if s.near != nil {
		defer s.near.invalidateAll()
	}
	if err := s.begin(); err != nil {
		return 0, err
	}
	parent := ctx
	var (
		mu    sync.Mutex // ForEachMaster visits nodes concurrently
		tags  []string
		nkeys int
	)
	err := s.forEachNode(ctx, func(ctx context.Context, c redis.Cmdable) error {
		var local []string
		err := scan(ctx, c, s.vprefix+redisGlob(pattern), func(batch []string) error {
			for _, k := range batch {
				if t := strings.TrimPrefix(k, s.vprefix); t != tagstore.AllTag {
					if ok, _ := path.Match(pattern, t); ok {
						local = append(local, t)
					}
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		ekeys := 0
		del := func(batch []string) error {
			ekeys += len(batch)
			return unlink(ctx, c, batch)
		}
		kprefix := s.eprefix + "k:"
		err = scan(ctx, c, kprefix+redisGlob(pattern), func(batch []string) error {
			match := batch[:0]
			for _, k := range batch {
				if ok, _ := path.Match(pattern, strings.TrimPrefix(k, kprefix)); ok {
					match = append(match, k)
				}
			}
			if len(match) == 0 {
				return nil
			}
			return del(match)
		})
		if err == nil {
			err = scan(ctx, c, s.eprefix+"h:*", del)
		}
		s.deletes.Add(uint64(ekeys))
		mu.Lock()
		tags = append(tags, local...)
		nkeys += ekeys
		mu.Unlock()
		return err
	})
	if err == nil {
		for i := 0; i < len(tags) && err == nil; i += scanBatch {
			batch := tags[i:min(i+scanBatch, len(tags))]
			err = bumpScript.Run(ctx, s.c, s.versionKeys(batch), s.pubArgs(allMessage, "")...).Err()
			if err == nil {
				s.invalidations.Add(uint64(len(batch)))
			}
		}
	}
	if err == nil {
		// Every L1 drops everything: they may hold the deleted keys too.
		err = s.publishAcked(ctx, allMessage, func(pub []any) (int64, error) {
			return publishScript.Run(ctx, s.c, []string{s.allKey}, pub...).Int64()
		})
	}
	if err = s.end(parent, err); err != nil {
		return 0, fmt.Errorf("redisstore: invalidating pattern %q: %w", pattern, err)
	}
	return len(tags) + nkeys, nil
}

// Flush implements tagstore.Store: it bumps the namespace version first (so
// nothing of the namespace is served from the moment it starts), then
// unlinks every version and entry key of the namespace, and nothing else.
func (s *Store) Flush(ctx context.Context) error {
	if s.closed.Load() {
		return tagstore.ErrClosed
	}
	if err := s.InvalidateAll(ctx); err != nil {
		return err
	}
	if err := s.begin(); err != nil {
		return err
	}
	parent := ctx
	err := s.forEachNode(ctx, func(ctx context.Context, c redis.Cmdable) error {
		del := func(batch []string) error { return unlink(ctx, c, batch) }
		if err := scan(ctx, c, s.vprefix+"*", del); err != nil {
			return err
		}
		if err := scan(ctx, c, s.fprefix+"*", del); err != nil {
			return err
		}
		return scan(ctx, c, s.eprefix+"*", del)
	})
	if err = s.end(parent, err); err != nil {
		return fmt.Errorf("redisstore: flushing namespace %q: %w", s.opt.Namespace, err)
	}
	if s.near != nil {
		s.near.invalidateAll()
	}
	return nil
}
