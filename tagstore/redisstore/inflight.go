package redisstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/yokedcache/yoked/tagstore"
)

var _ tagstore.WriteMarker = (*Store)(nil)

// Writes in flight (tagstore.WriteMarker). MarkWrite replaces each tag's
// version by a marker, "!" followed by the mark's expiry, and records the
// mark in the tag's mark set "{yoked:<ns>}:f:<tag>" (a sorted set of mark
// ids scored by expiry), in one script on the version slot that also
// publishes the tags to every L1. Readers get the marker from the MGET of
// versions they already send and answer tagstore.ErrInFlight: they neither
// serve nor store, and since the old version is gone, nothing stored
// before the mark is served again. EndWrite removes the mark and deletes
// the version (or leaves the marker of other marks still in flight), which
// the next reader replaces by a fresh version, and publishes again.
//
// The marker expires with the latest mark (Options.WriteMarkTTL), so a
// writer that dies between the two leaves its tags uncached for that long,
// never for good. If a write outlives its mark, readers fill again before
// it commits; its EndWrite deletes those versions as any invalidation does,
// so only a write that outlives its mark AND cannot reach Redis at its end
// leaves stale entries behind.
//
// L1: the mark's message is acknowledged like an invalidation's. EndWrite
// first waits for those acknowledgements (or the fence since the mark; they
// usually arrived while the database wrote), so that every L1 has dropped
// the tags even when the end cannot reach Redis. While a tag is in flight
// no process fills its L1 with it (a fill follows a Redis hit), so when the
// mark was still in place at the end, the end publishes nothing and waits
// for nothing: a write without L1s anywhere costs two scripts, and two
// published messages (the mark's and its writer's own acknowledgement).

// markState is what a mark carries between MarkWrite and EndWrite.
type markState struct {
	mu     sync.Mutex
	ticket ackTicket
	waited bool // the mark's acknowledgements were awaited
	local  bool // counted in Store.local until EndWrite returns
}

// localMarks counts, by tag, this Store's own marks from just before
// MarkWrite sends the mark until EndWrite returns (or MarkWrite fails).
// A Lookup or Stamp of such a tag answers tagstore.ErrInFlight without
// asking Redis, which would answer the same while the mark is in place; a
// process that reads what it is writing saves the round trip. Answering
// ErrInFlight is always safe (nothing is served or stored), so it does not
// matter that the mark in Redis may expire or end a little earlier.
type localMarks struct {
	n    atomic.Int64 // marks counted; 0: nothing to look up
	mu   sync.Mutex
	tags map[string]int
}

func (l *localMarks) add(tags []string) {
	l.mu.Lock()
	if l.tags == nil {
		l.tags = map[string]int{}
	}
	for _, t := range tags {
		l.tags[t]++
	}
	l.n.Add(1)
	l.mu.Unlock()
}

func (l *localMarks) remove(tags []string) {
	l.mu.Lock()
	for _, t := range tags {
		if l.tags[t]--; l.tags[t] <= 0 {
			delete(l.tags, t)
		}
	}
	l.n.Add(-1)
	l.mu.Unlock()
}

// any reports whether one of tags (or tagstore.AllTag) is marked by this
// Store. It costs one atomic load while nothing is.
func (l *localMarks) any(tags []string) bool {
	if l.n.Load() == 0 {
		return false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.tags[tagstore.AllTag] > 0 {
		return true
	}
	for _, t := range tags {
		if l.tags[t] > 0 {
			return true
		}
	}
	return false
}

func (s *Store) markKeys(tags []string) []string {
	keys := make([]string, 2*len(tags))
	for i, t := range tags {
		keys[i] = s.vprefix + t
		keys[len(tags)+i] = s.fprefix + t
	}
	return keys
}

func messageFor(tags []string) string {
	for _, t := range tags {
		if t == tagstore.AllTag {
			return allMessage
		}
	}
	return tagsMessage(tags)
}

// MarkWrite implements tagstore.WriteMarker. It is bounded by
// Options.Timeout; with tagstore.WithoutBreaker it is sent even while the
// breaker is open.
func (s *Store) MarkWrite(ctx context.Context, tags []string) (tagstore.WriteMark, error) {
	if s.closed.Load() {
		return tagstore.WriteMark{}, tagstore.ErrClosed
	}
	if len(tags) == 0 {
		return tagstore.WriteMark{}, errors.New("redisstore: MarkWrite without tags")
	}
	if !tagstore.BreakerIgnored(ctx) && !s.br.allowInvalidation() {
		return tagstore.WriteMark{}, tagstore.ErrBypass
	}
	if s.near != nil {
		defer s.near.drop(tags)
	}
	parent := ctx
	ctx, cancel := context.WithTimeout(ctx, s.opt.Timeout)
	defer cancel()
	id := hex16(newVersion())
	keys := s.markKeys(tags)
	s.local.add(tags) // before the mark can be in place
	ttl := s.opt.WriteMarkTTL.Milliseconds()
	t, err := s.publish(messageFor(tags), func(pub []any) (int64, error) {
		n, err := markScript.Run(ctx, s.c, keys, append([]any{id, ttl}, pub...)...).Int64()
		return n, s.end(parent, err)
	})
	if err != nil {
		s.local.remove(tags)
		return tagstore.WriteMark{}, fmt.Errorf("redisstore: marking a write to %d tags: %w", len(tags), err)
	}
	s.marks.Add(1)
	return tagstore.WriteMark{Tags: tags, ID: id, State: &markState{ticket: t, local: true}}, nil
}

// EndWrite implements tagstore.WriteMarker. The script is bounded by
// Options.InvalidateTimeout, as an invalidation is (under the stale-read
// checker's faults a read's short Timeout failed ends again and again while
// other processes read, which served what the write changed); each wait for
// acknowledgements by Options.L1Fence.
func (s *Store) EndWrite(ctx context.Context, m tagstore.WriteMark) error {
	_, err := s.endWrite(ctx, m, "")
	return err
}

var _ tagstore.EndReader = (*Store)(nil)

// EndWriteRead implements tagstore.EndReader: EndWrite, whose script also
// reads the version of tag after it ended the mark, in the same round trip.
func (s *Store) EndWriteRead(ctx context.Context, m tagstore.WriteMark, tag string) (uint64, error) {
	raw, err := s.endWrite(ctx, m, s.vprefix+tag)
	if err != nil {
		return 0, err
	}
	str, _ := raw.(string)
	if str == "" || str[0] == '!' { // no version, or a write in flight
		return 0, nil
	}
	v, err := strconv.ParseUint(str, 16, 64)
	if err != nil {
		return 0, nil // not a version: matches none (the write has ended)
	}
	return v, nil
}

// endWrite ends m and, unless readKey is empty, returns the value of
// readKey (nil or a string) read by the same script after the end.
func (s *Store) endWrite(ctx context.Context, m tagstore.WriteMark, readKey string) (any, error) {
	if s.closed.Load() {
		return nil, tagstore.ErrClosed
	}
	st, ok := m.State.(*markState)
	if !ok || len(m.Tags) == 0 {
		return nil, errors.New("redisstore: EndWrite with a mark this store did not make")
	}
	// Whatever the outcome: a failed end is retried by the caller, whose
	// tags meanwhile bypass the cache on its side (and the mark stays in
	// Redis until it expires).
	defer func() {
		st.mu.Lock()
		if st.local {
			st.local = false
			s.local.remove(m.Tags)
		}
		st.mu.Unlock()
	}()
	if !tagstore.BreakerIgnored(ctx) && !s.br.allowInvalidation() {
		return nil, tagstore.ErrBypass
	}
	if s.near != nil {
		defer s.near.drop(m.Tags)
	}
	st.mu.Lock()
	if !st.waited {
		st.waited = true
		if err := s.waitAcks(ctx, st.ticket); err != nil {
			st.mu.Unlock()
			return nil, err
		}
	}
	st.mu.Unlock()
	parent := ctx
	sctx, cancel := context.WithTimeout(ctx, s.opt.InvalidateTimeout)
	defer cancel()
	keys := s.markKeys(m.Tags)
	if readKey != "" {
		keys = append(keys, readKey)
	}
	intact := false
	var read any
	t, err := s.publish(messageFor(m.Tags), func(pub []any) (int64, error) {
		r, err := endScript.Run(sctx, s.c, keys, append([]any{m.ID}, pub...)...).Slice()
		if err = s.end(parent, err); err != nil {
			return 0, err
		}
		if len(r) != 3 {
			return 0, fmt.Errorf("redisstore: end script returned %d values", len(r))
		}
		n, ok1 := r[0].(int64)
		in, ok2 := r[1].(int64)
		_, isStr := r[2].(string)
		if !ok1 || !ok2 || (r[2] != nil && !isStr) {
			return 0, fmt.Errorf("redisstore: end script returned %T, %T, %T", r[0], r[1], r[2])
		}
		intact, read = in == 1, r[2]
		return n, nil
	})
	if err != nil {
		return nil, fmt.Errorf("redisstore: ending a write to %d tags: %w", len(m.Tags), err)
	}
	s.invalidations.Add(uint64(len(m.Tags)))
	if intact {
		// Nothing was published (see endScript).
		s.acks.forget(t.seq)
		return read, nil
	}
	s.expiredMarks.Add(1)
	return read, s.waitAcks(ctx, t)
}
