package redisstore

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"sync"
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
// subscribed to the namespace's invalidations. A near without an L1 (l1
// nil) only listens: it hears the L1 processes' heartbeats and the
// acknowledgements of its Store's invalidations, so that a writer without
// an L1 counts exactly whom it must wait for (acks.go).
//
// Coherence rests on three rules. (1) An entry is copied into L1 under an L1
// stamp taken before the Redis read that validated it, so an invalidation
// applied to L1 in between makes the copy unservable. (2) While the
// subscription is down L1 is not used at all; losing it and regaining it
// both invalidate all of L1, so messages missed in between cannot matter.
// (3) The fence: L1 answers at time r only if its own heartbeat sent after
// r-L1Fence has come back on the subscription, so every message published
// before that heartbeat has been applied (see the package comment).
type near struct {
	s       *Store
	l1      tagstore.Store
	enabled atomic.Bool
	gen     atomic.Uint64                // bumped on every down and up
	drops   atomic.Uint64                // subscriptions lost while L1 was on
	ps      atomic.Pointer[redis.PubSub] // the current subscription, closed to stop run
	cancel  context.CancelFunc
	done    chan struct{}

	epoch time.Time    // origin of the monotonic clock below
	fence atomic.Int64 // send time (since epoch) of the last own heartbeat received
	acker acker
	// upAt is when the subscription was last confirmed (since epoch), -1
	// while it is down.
	upAt atomic.Int64

	// members are the other processes whose heartbeats arrived, with the
	// time (since epoch) of the last one.
	membersMu sync.Mutex
	members   map[string]int64

	// beforeMessage, if set, runs before each invalidation message is
	// applied (tests use it to hold the receive loop back).
	beforeMessage atomic.Pointer[func()]
}

// l1Ticket is what a Lookup that missed L1 needs to fill it afterwards.
type l1Ticket struct {
	stamp tagstore.Stamp
	gen   uint64
	tags  []string
}

func startNear(s *Store, l1 tagstore.Store) *near {
	ctx, cancel := context.WithCancel(context.Background())
	n := &near{s: s, l1: l1, cancel: cancel, done: make(chan struct{}), epoch: time.Now(), members: map[string]int64{}}
	n.acker = acker{s: s, queue: make(chan ackItem, 1024)}
	n.resetFence()
	n.upAt.Store(-1)
	go n.run(ctx)
	if l1 != nil {
		go n.acker.run(ctx)
		go n.heartbeat(ctx)
	}
	return n
}

// Heartbeats. Every L1 process publishes "h", its id and the send time on
// the namespace's heartbeat channel every L1Fence/4. Its own heartbeat
// coming back on its subscription proves that every message published
// before it was sent has been applied (both channels are in the
// namespace's slot, so one node delivers them in order), which is what the
// fence needs; the other processes' heartbeats tell a writer which L1s may
// be answering, so that it does not trust a PUBLISH count that missed one
// whose subscription just died. Heartbeats have their own channel so that
// a Store without an L1 can hear them without being counted as a receiver
// of the invalidations.
const heartbeatPrefix = 'h'

func (n *near) heartbeat(ctx context.Context) {
	t := time.NewTicker(max(n.s.opt.L1Fence/4, time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		msg := string(heartbeatPrefix) + n.s.acks.writer + strconv.FormatInt(n.now(), 10)
		pctx, cancel := context.WithTimeout(ctx, n.s.opt.Timeout)
		_ = n.s.publishTo(pctx, n.s.hbChannel, msg)
		cancel()
	}
}

// heard handles a heartbeat; it reports whether m is one.
func (n *near) heard(m string) bool {
	if len(m) < 1+idLen || m[0] != heartbeatPrefix {
		return false
	}
	id := m[1 : 1+idLen]
	if id == n.s.acks.writer {
		if sent, err := strconv.ParseInt(m[1+idLen:], 10, 64); err == nil && sent > n.fence.Load() {
			n.fence.Store(sent)
		}
		return true
	}
	n.membersMu.Lock()
	n.members[id] = n.now()
	if len(n.members) > 4096 {
		for k, at := range n.members {
			if n.now()-at > int64(time.Minute) {
				delete(n.members, k)
			}
		}
	}
	n.membersMu.Unlock()
	return true
}

// upFor reports whether the subscription has been up for at least d.
func (n *near) upFor(d time.Duration) bool {
	at := n.upAt.Load()
	return at >= 0 && n.now()-at >= int64(d)
}

// allAcked reports whether every other process heard from after since has
// acknowledged w.
func (n *near) allAcked(w *ackWait, since time.Time) bool {
	cut := int64(since.Sub(n.epoch))
	n.membersMu.Lock()
	defer n.membersMu.Unlock()
	for id, at := range n.members {
		if at >= cut && !w.acked(id) {
			return false
		}
	}
	return true
}

// now is the time since n.epoch, on the monotonic clock.
func (n *near) now() int64 { return int64(time.Since(n.epoch)) }

// fenced reports whether the last handled pong is too old for L1 to answer.
func (n *near) fenced() bool { return n.now()-n.fence.Load() >= int64(n.s.opt.L1Fence) }

func (n *near) resetFence() { n.fence.Store(-int64(n.s.opt.L1Fence)) }

func (n *near) lookup(ctx context.Context, key string, tags []string) (any, bool, l1Ticket) {
	if !n.enabled.Load() || n.fenced() {
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

// drop invalidates tags in L1 (all of L1 when they include AllTag).
func (n *near) drop(tags []string) {
	for _, t := range tags {
		if t == tagstore.AllTag {
			n.invalidateAll()
			return
		}
	}
	n.invalidateTags(tags)
}

func (n *near) invalidateAll() {
	if n.l1 == nil {
		return
	}
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
	n.s.acks.ready.Store(false)
	n.upAt.Store(-1)
	n.resetFence()
	n.gen.Add(1)
	if n.l1 != nil {
		n.invalidateAll()
		_ = n.l1.Flush(context.Background())
	}
}

// up is called on every subscription confirmation: whatever was published
// before it may have been missed, so L1 starts from nothing.
func (n *near) up() {
	n.upAt.Store(n.now())
	n.gen.Add(1)
	if n.l1 == nil {
		return
	}
	if err := n.l1.InvalidateAll(context.Background()); err == nil {
		n.enabled.Store(true)
	}
}

// run receives invalidations, heartbeats, pongs and acknowledgements on one
// connection, pinging it every L1Fence/4. A subscription without a pong for
// L1Heartbeat, or unsubscribed by the server (a Cluster slot that moved),
// is given up and made again.
func (n *near) run(ctx context.Context) {
	defer close(n.done)
	every := max(n.s.opt.L1Fence/4, time.Millisecond)
	ps := n.subscribe(ctx)
	defer func() { _ = n.ps.Load().Close() }()
	var pinged, ponged time.Time // local, monotonic
	ponged = time.Now()
	for ctx.Err() == nil {
		if time.Since(pinged) >= every {
			if ps.Ping(ctx, strconv.FormatInt(n.now(), 10)) == nil {
				pinged = time.Now()
			}
		}
		msg, err := ps.ReceiveTimeout(ctx, every)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			var ne interface{ Timeout() bool }
			if errors.As(err, &ne) && ne.Timeout() {
				if n.enabled.Load() && time.Since(ponged) > n.s.opt.L1Heartbeat {
					// Silent for a heartbeat: start over on a new connection.
					n.down(err)
					_ = ps.Close()
					ps = n.subscribe(ctx)
					ponged = time.Now()
				}
				continue
			}
			n.down(err)
			select {
			case <-ctx.Done():
			case <-time.After(min(n.s.opt.L1Heartbeat, 100*time.Millisecond)):
			}
			pinged = time.Time{}
			ponged = time.Now()
			continue
		}
		switch m := msg.(type) {
		case *redis.Subscription:
			switch m.Kind {
			case "subscribe", "ssubscribe":
				if m.Channel == n.channels()[0] {
					n.up()
					pinged = time.Time{}
				}
				if m.Channel == n.s.ackChannel() {
					n.s.acks.ready.Store(true)
				}
			default: // the server dropped a channel: start over
				n.down(fmt.Errorf("redisstore: server ended the subscription to %s", m.Channel))
				_ = ps.Close()
				ps = n.subscribe(ctx)
				ponged = time.Now()
			}
		case *redis.Pong:
			ponged = time.Now()
		case *redis.Message:
			switch m.Channel {
			case n.s.channel:
			case n.s.hbChannel:
				if n.heard(m.Payload) {
					ponged = time.Now()
				}
				continue
			default:
				n.s.acks.received(m.Payload)
				continue
			}
			if n.l1 == nil {
				continue
			}
			if f := n.beforeMessage.Load(); f != nil {
				(*f)()
			}
			writer, seq, inner, acked := splitAcked(m.Payload)
			if tags, all := parseMessage(inner); all {
				n.invalidateAll()
			} else {
				n.invalidateTags(tags)
			}
			switch {
			case !acked:
			case writer == n.s.acks.writer:
				n.s.acks.received(n.s.acks.writer + seq) // our own message: no round trip
			default:
				n.acker.enqueue(writer, seq)
			}
		}
	}
}

// channels are the channels n subscribes to, the first one confirming the
// subscription: invalidations (L1 only), heartbeats, acknowledgements.
func (n *near) channels() []string {
	if n.l1 == nil {
		return []string{n.s.hbChannel, n.s.ackChannel()}
	}
	return []string{n.s.channel, n.s.hbChannel, n.s.ackChannel()}
}

func (n *near) subscribe(ctx context.Context) *redis.PubSub {
	var ps *redis.PubSub
	if n.s.sharded {
		ps = n.s.c.SSubscribe(ctx, n.channels()...)
	} else {
		ps = n.s.c.Subscribe(ctx, n.channels()...)
	}
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
	if n.l1 == nil {
		return nil
	}
	return n.l1.Close()
}
