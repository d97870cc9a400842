package redisstore

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/yokedcache/yoked/tagstore"
)

// Shared counters. Every Store adds what it counted (hits, misses, sets,
// deletes, invalidations, errors) to one hash per namespace,
// "{yoked:<ns>}:stats", so that an operator sees the whole fleet's traffic
// from any process. The hot path only increments in-process atomics; a
// background goroutine adds the deltas since its last successful push every
// Options.StatsInterval (one HINCRBY per changed field, in one MULTI/EXEC),
// and Close pushes once more. A push that fails keeps the deltas for the
// next one: they are plain numbers, so nothing grows while Redis is away,
// and nothing waits on a push but the goroutine itself. A push whose reply
// is lost after Redis applied it is sent again, so the shared counters may
// count a little more than happened, never less (for what has been pushed).
//
// The counters survive Flush: they describe traffic, which removing the
// namespace's entries does not undo, and Flush's contract is entries and
// versions only. ResetSharedStats clears them explicitly.

// statFields are the hash's fields, in the order of counterValues.
var statFields = [...]string{"hits", "misses", "sets", "deletes", "invalidations", "errors"}

type counterValues [len(statFields)]uint64

// publisher pushes a Store's counters into the shared hash.
type publisher struct {
	s        *Store
	key      string
	mu       sync.Mutex // one push at a time; guards sent
	sent     counterValues
	failures atomic.Uint64
	stop     chan struct{}
	done     chan struct{}
}

func (s *Store) counterValues() counterValues {
	return counterValues{s.hits.Load(), s.misses.Load(), s.sets.Load(), s.deletes.Load(), s.invalidations.Load(), s.errs.Load()}
}

// startPublisher starts the periodic push, unless interval is negative.
func startPublisher(s *Store, interval time.Duration) *publisher {
	p := &publisher{s: s, key: "{yoked:" + s.opt.Namespace + "}:stats", stop: make(chan struct{}), done: make(chan struct{})}
	if interval < 0 {
		close(p.done)
		return p
	}
	go func() {
		defer close(p.done)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-p.stop:
				return
			case <-t.C:
				ctx, cancel := context.WithTimeout(context.Background(), s.opt.InvalidateTimeout)
				_ = p.push(ctx) // counted in failures; the deltas wait for the next tick
				cancel()
			}
		}
	}()
	return p
}

// push adds the counters' growth since the last successful push to the
// shared hash.
func (p *publisher) push(ctx context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	cur := p.s.counterValues()
	pipe := p.s.c.TxPipeline()
	n := 0
	for i, f := range statFields {
		if d := cur[i] - p.sent[i]; d > 0 {
			pipe.HIncrBy(ctx, p.key, f, int64(d))
			n++
		}
	}
	if n == 0 {
		return nil
	}
	if _, err := pipe.Exec(ctx); err != nil {
		p.failures.Add(1)
		return err
	}
	p.sent = cur
	return nil
}

// close stops the periodic push and pushes what is left, within timeout.
func (p *publisher) close(timeout time.Duration) error {
	close(p.stop)
	<-p.done
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := p.push(ctx); err != nil {
		return fmt.Errorf("redisstore: pushing the last counters: %w", err)
	}
	return nil
}

// SharedStats returns the counters every process using the namespace has
// pushed (see the package comment), after pushing this Store's own pending
// counts, so they include everything this Store counted before the call.
// Other processes' counts lag by up to their Options.StatsInterval. Entries
// and Bytes are -1 (Usage measures them).
func (s *Store) SharedStats(ctx context.Context) (tagstore.Stats, error) {
	if s.closed.Load() {
		return tagstore.Stats{}, tagstore.ErrClosed
	}
	if err := s.pub.push(ctx); err != nil {
		return tagstore.Stats{}, fmt.Errorf("redisstore: pushing this process's counters: %w", err)
	}
	m, err := s.c.HGetAll(ctx, s.pub.key).Result()
	if err != nil {
		return tagstore.Stats{}, fmt.Errorf("redisstore: reading shared counters: %w", err)
	}
	var v counterValues
	for i, f := range statFields {
		raw, ok := m[f]
		if !ok {
			continue
		}
		if v[i], err = strconv.ParseUint(raw, 10, 64); err != nil {
			return tagstore.Stats{}, fmt.Errorf("redisstore: shared counter %s is %q, not a count", f, raw)
		}
	}
	return tagstore.Stats{
		Hits: v[0], Misses: v[1], Sets: v[2], Deletes: v[3], Invalidations: v[4], Errors: v[5],
		Entries: -1, Bytes: -1,
	}, nil
}

// ResetSharedStats sets the namespace's shared counters to zero. Counts
// other processes have not pushed yet arrive afterwards and are kept; this
// Store's are dropped.
func (s *Store) ResetSharedStats(ctx context.Context) error {
	if s.closed.Load() {
		return tagstore.ErrClosed
	}
	s.pub.mu.Lock()
	defer s.pub.mu.Unlock()
	if err := s.c.Del(ctx, s.pub.key).Err(); err != nil {
		return fmt.Errorf("redisstore: resetting shared counters: %w", err)
	}
	s.pub.sent = s.counterValues()
	return nil
}
