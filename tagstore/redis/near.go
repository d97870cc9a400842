package redisstore

import (
	"context"
	"encoding/binary"
	"errors"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/yokedcache/yoked/tagstore"
)

// Invalidation messages on the namespace channel: allMessage, or 't'
// followed by (uvarint length, tag) pairs.
const allMessage = "a"

func tagsMessage(tags []string) string {
	n := 1
	for _, t := range tags {
		n += binary.MaxVarintLen64 + len(t)
	}
	b := make([]byte, 1, n)
	b[0] = 't'
	for _, t := range tags {
		b = binary.AppendUvarint(b, uint64(len(t)))
		b = append(b, t...)
	}
	return string(b)
}

// parseMessage returns the tags of a message, or all=true for allMessage
// and anything it cannot read.
func parseMessage(m string) (tags []string, all bool) {
	if len(m) == 0 || m[0] != 't' {
		return nil, true
	}
	b := []byte(m[1:])
	for len(b) > 0 {
		l, k := binary.Uvarint(b)
		if k <= 0 || l > uint64(len(b)-k) {
			return nil, true
		}
		tags = append(tags, string(b[k:k+int(l)]))
		b = b[k+int(l):]
	}
	return tags, false
}

// near is the L1: an in-process store used only while this process is
// subscribed to the namespace's invalidations.
//
// Coherence rests on two rules. (1) An entry is copied into L1 under an L1
// stamp taken before the Redis read that validated it, so an invalidation
// applied to L1 in between makes the copy unservable. (2) While the
// subscription is down L1 is not used at all; losing it and regaining it
// both invalidate all of L1, so messages missed in between cannot matter.
type near struct {
	s       *Store
	l1      tagstore.Store
	enabled atomic.Bool
	gen     atomic.Uint64                // bumped on every down and up
	drops   atomic.Uint64                // subscriptions lost while L1 was on
	ps      atomic.Pointer[redis.PubSub] // the current subscription, closed to stop run
	cancel  context.CancelFunc
	done    chan struct{}
}

// l1Ticket is what a Lookup that missed L1 needs to fill it afterwards.
type l1Ticket struct {
	stamp tagstore.Stamp
	gen   uint64
	tags  []string
}

func startNear(s *Store, l1 tagstore.Store) *near {
	ctx, cancel := context.WithCancel(context.Background())
	n := &near{s: s, l1: l1, cancel: cancel, done: make(chan struct{})}
	go n.run(ctx)
	return n
}

func (n *near) lookup(ctx context.Context, key string, tags []string) (any, bool, l1Ticket) {
	if !n.enabled.Load() {
		return nil, false, l1Ticket{}
	}
	gen := n.gen.Load()
	v, hit, st, err := n.l1.Lookup(ctx, key, tags)
	if err != nil {
		return nil, false, l1Ticket{}
	}
	if hit && n.enabled.Load() && n.gen.Load() == gen {
		return v, true, l1Ticket{}
	}
	return nil, false, l1Ticket{stamp: st, gen: gen, tags: tags}
}

// fill copies a value just validated in Redis into L1 under the ticket's
// stamp (taken before the Redis read), to expire with the Redis entry or
// after L1TTL, whichever comes first.
func (n *near) fill(ctx context.Context, t l1Ticket, key string, v any, size int, expiry time.Time) {
	ttl := min(n.s.opt.L1TTL, time.Until(expiry))
	if ttl <= 0 || !t.stamp.Valid() || !n.enabled.Load() || n.gen.Load() != t.gen {
		return
	}
	_ = n.l1.Set(ctx, key, v, size, ttl, t.stamp)
}

func (n *near) invalidateTags(tags []string) {
	if err := n.l1.InvalidateTags(context.Background(), tags...); err != nil {
		n.invalidateAll()
	}
}

func (n *near) invalidateAll() {
	if err := n.l1.InvalidateAll(context.Background()); err != nil {
		// An L1 that cannot invalidate cannot be trusted.
		n.enabled.Store(false)
		n.gen.Add(1)
		n.s.opt.Logger.Error("redisstore: L1 invalidation failed; L1 disabled", "err", err)
	}
}

func (n *near) delete(ctx context.Context, keys []string) {
	if err := n.l1.Delete(ctx, keys...); err != nil {
		n.invalidateAll()
	}
}

// down stops serving L1 and invalidates it.
func (n *near) down(reason error) {
	if n.enabled.Swap(false) {
		n.drops.Add(1)
		n.s.opt.Logger.Warn("redisstore: invalidation subscription lost; L1 off", "namespace", n.s.opt.Namespace, "err", reason)
	}
	n.gen.Add(1)
	n.invalidateAll()
	_ = n.l1.Flush(context.Background())
}

// up is called on every subscription confirmation: whatever was published
// before it may have been missed, so L1 starts from nothing.
func (n *near) up() {
	n.gen.Add(1)
	if err := n.l1.InvalidateAll(context.Background()); err == nil {
		n.enabled.Store(true)
	}
}

func (n *near) run(ctx context.Context) {
	defer close(n.done)
	hb := n.s.opt.L1Heartbeat
	ps := n.subscribe(ctx)
	defer func() { _ = n.ps.Load().Close() }()
	pinged := false
	for ctx.Err() == nil {
		msg, err := ps.ReceiveTimeout(ctx, hb)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			var ne interface{ Timeout() bool }
			if errors.As(err, &ne) && ne.Timeout() && n.enabled.Load() {
				if !pinged {
					pinged = true
					if ps.Ping(ctx) == nil {
						continue
					}
				}
				// Silent for two heartbeats: start over on a new connection.
				n.down(err)
				_ = ps.Close()
				ps = n.subscribe(ctx)
				pinged = false
				continue
			}
			n.down(err)
			pinged = false
			select {
			case <-ctx.Done():
			case <-time.After(min(hb, 100*time.Millisecond)):
			}
			continue
		}
		pinged = false
		switch m := msg.(type) {
		case *redis.Subscription:
			if m.Kind == "subscribe" && m.Channel == n.s.channel {
				n.up()
			}
		case *redis.Message:
			if tags, all := parseMessage(m.Payload); all {
				n.invalidateAll()
			} else {
				n.invalidateTags(tags)
			}
		}
	}
}

func (n *near) subscribe(ctx context.Context) *redis.PubSub {
	ps := n.s.c.Subscribe(ctx, n.s.channel)
	n.ps.Store(ps)
	if ctx.Err() != nil { // close ran before the Store
		_ = ps.Close()
	}
	return ps
}

func (n *near) close() error {
	n.cancel()
	if ps := n.ps.Load(); ps != nil {
		_ = ps.Close() // interrupts a blocked receive
	}
	<-n.done
	n.enabled.Store(false)
	return n.l1.Close()
}
