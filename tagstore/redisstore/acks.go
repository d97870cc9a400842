package redisstore

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// An invalidation that other processes' L1s must apply before it returns is
// published as ackedMessage: 'i', the writer's id and the message's sequence
// number (16 hex digits each), then the plain message. Every L1 that applies
// it publishes its own id and the sequence number on the writer's ack
// channel ("{yoked:<ns>}:ack:<writer id>"); acknowledgements of one burst
// follow the id in one payload. The writer acknowledges its own message
// too: an L1 writer when the message comes back on its subscription, a
// writer without an L1 through a second publish on its ack channel by the
// same script (see publishLua). Either proves that the writer's
// subscription was alive after the publish, so it has heard every
// heartbeat published before it.
const idLen = 16

func hex16(v uint64) string {
	const digits = "0123456789abcdef"
	var b [idLen]byte
	for i := idLen - 1; i >= 0; i-- {
		b[i] = digits[v&0xf]
		v >>= 4
	}
	return string(b[:])
}

// splitAcked returns the writer and sequence number of an acked message and
// the plain message inside; ok is false for a plain message.
func splitAcked(m string) (writer, seq, inner string, ok bool) {
	if len(m) < 1+2*idLen || m[0] != 'i' {
		return "", "", m, false
	}
	return m[1 : 1+idLen], m[1+idLen : 1+2*idLen], m[1+2*idLen:], true
}

// acks counts the acknowledgements of this Store's own invalidations.
type acks struct {
	writer string // this Store's id, random
	seq    atomic.Uint64
	ready  atomic.Bool // the ack channel is subscribed

	mu    sync.Mutex
	waits map[string]*ackWait // by sequence number
}

type ackWait struct {
	got    atomic.Int64  // distinct processes that acknowledged
	signal chan struct{} // cap 1, poked on every acknowledgement
	mu     sync.Mutex
	from   map[string]bool // ids of the processes that acknowledged
}

func (w *ackWait) acked(id string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.from[id]
}

func newAcks() *acks {
	return &acks{writer: hex16(newVersion()), waits: make(map[string]*ackWait)}
}

// register returns the sequence number of a new message and its counter.
func (a *acks) register() (string, *ackWait) {
	seq := hex16(a.seq.Add(1))
	w := &ackWait{signal: make(chan struct{}, 1), from: map[string]bool{}}
	a.mu.Lock()
	a.waits[seq] = w
	a.mu.Unlock()
	return seq, w
}

func (a *acks) forget(seq string) {
	a.mu.Lock()
	delete(a.waits, seq)
	a.mu.Unlock()
}

// received counts the acknowledgements in payload: the acknowledging
// process's id, then sequence numbers.
func (a *acks) received(payload string) {
	if len(payload) < idLen {
		return
	}
	from := payload[:idLen]
	a.mu.Lock()
	defer a.mu.Unlock()
	for payload = payload[idLen:]; len(payload) >= idLen; payload = payload[idLen:] {
		if w := a.waits[payload[:idLen]]; w != nil {
			w.mu.Lock()
			if !w.from[from] {
				w.from[from] = true
				w.got.Add(1)
			}
			w.mu.Unlock()
			select {
			case w.signal <- struct{}{}:
			default:
			}
		}
	}
}

// publishAcked publishes msg through run (which passes pub, the publish
// arguments of publishLua, to a script and returns the number of
// subscribers that received the message) and then waits until every L1
// that received it or may still answer has applied it, or Options.L1Fence
// has passed since the publish was confirmed, whichever comes first (see
// the package comment for why the fence suffices). The receiver count is
// exact on a single node and, with sharded pub/sub in the namespace's slot,
// on a Cluster; a Ring's is not trusted, so there the full fence is waited
// on every invalidation.
func (s *Store) publishAcked(ctx context.Context, msg string, run func(pub []any) (int64, error)) error {
	t, err := s.publish(msg, run)
	if err != nil {
		return err
	}
	return s.waitAcks(ctx, t)
}

// ackTicket is a published message whose acknowledgements are awaited.
type ackTicket struct {
	seq string
	w   *ackWait
	n   int64     // receivers, as counted by PUBLISH
	at  time.Time // when the publish was confirmed
	// sent is when the publish was sent: every L1 that may still answer
	// from before the message was seen alive (its heartbeat) after
	// sent-2·L1Fence.
	sent time.Time
}

// publish publishes msg through run, registered for acknowledgements; the
// caller must pass the ticket to waitAcks or forget it.
func (s *Store) publish(msg string, run func(pub []any) (int64, error)) (ackTicket, error) {
	seq, w := s.acks.register()
	self := ""
	if s.near == nil {
		self = s.acks.writer + seq // see publishLua
	}
	sent := time.Now()
	n, err := run(s.pubArgs("i"+s.acks.writer+seq+msg, self))
	if err != nil {
		s.acks.forget(seq)
		return ackTicket{}, err
	}
	return ackTicket{seq: seq, w: w, n: n, at: time.Now(), sent: sent}, nil
}

// waitAcks waits for t's acknowledgements or its fence (see publishAcked).
func (s *Store) waitAcks(ctx context.Context, t ackTicket) error {
	defer s.acks.forget(t.seq)
	fence := time.NewTimer(s.opt.L1Fence - time.Since(t.at))
	defer fence.Stop()
	// PUBLISH counts the subscribers at the time of the publish; an L1
	// whose subscription died just before (a restart, CLIENT KILL) is not
	// counted but may answer until its fence runs out. So the count is
	// trusted only when every process whose heartbeat this one saw lately
	// acknowledged too, only after this process's own subscription has
	// been up long enough to have seen them, and only once its own
	// acknowledgement proves that subscription was still alive after the
	// publish.
	sub := s.sub
	counted := s.countsReceivers && sub != nil && s.acks.ready.Load() && sub.upFor(2*s.opt.L1Fence)
	need := t.n // an L1 writer's own subscription is one of the receivers
	if s.near == nil {
		need++ // the writer's own acknowledgement, published beside the message
	}
	since := t.sent.Add(-2 * s.opt.L1Fence)
	for !counted || t.w.got.Load() < need || !t.w.acked(s.acks.writer) || !sub.allAcked(t.w, since) {
		select {
		case <-t.w.signal:
		case <-fence.C:
			s.fenceWaits.Add(1)
			return nil
		case <-ctx.Done():
			return fmt.Errorf("redisstore: waiting for %d processes to drop the invalidated tags from their L1: %w", t.n, ctx.Err())
		}
	}
	return nil
}

// acker publishes acknowledgements for the messages this process applied,
// off the subscription's receive loop. A full queue drops them: the writer
// then waits for its fence, which is safe.
type acker struct {
	s     *Store
	queue chan ackItem
}

type ackItem struct{ writer, seq string }

func (a *acker) enqueue(writer, seq string) {
	select {
	case a.queue <- ackItem{writer, seq}:
	default:
	}
}

func (a *acker) run(ctx context.Context) {
	batch := make(map[string]string)
	for {
		select {
		case <-ctx.Done():
			return
		case it := <-a.queue:
			batch[it.writer] += it.seq
		}
		for more := true; more && len(batch) < 64; {
			select {
			case it := <-a.queue:
				batch[it.writer] += it.seq
			default:
				more = false
			}
		}
		pctx, cancel := context.WithTimeout(ctx, a.s.opt.Timeout)
		pipe := a.s.c.Pipeline()
		for writer, seqs := range batch {
			if a.s.sharded {
				pipe.SPublish(pctx, a.s.ackPre+writer, a.s.acks.writer+seqs)
			} else {
				pipe.Publish(pctx, a.s.ackPre+writer, a.s.acks.writer+seqs)
			}
		}
		_, _ = pipe.Exec(pctx)
		cancel()
		clear(batch)
	}
}
