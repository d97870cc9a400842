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
// it publishes the sequence number on the writer's ack channel
// ("yoked:<ns>:ack:<writer id>"); acknowledgements of one burst are
// concatenated in one payload.
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
	got    atomic.Int64
	signal chan struct{} // cap 1, poked on every acknowledgement
}

func newAcks() *acks {
	return &acks{writer: hex16(newVersion()), waits: make(map[string]*ackWait)}
}

// register returns the sequence number of a new message and its counter.
func (a *acks) register() (string, *ackWait) {
	seq := hex16(a.seq.Add(1))
	w := &ackWait{signal: make(chan struct{}, 1)}
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

// received counts the acknowledgements in payload.
func (a *acks) received(payload string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for ; len(payload) >= idLen; payload = payload[idLen:] {
		if w := a.waits[payload[:idLen]]; w != nil {
			w.got.Add(1)
			select {
			case w.signal <- struct{}{}:
			default:
			}
		}
	}
}

// publishAcked publishes msg through run (which returns the number of
// subscribers that received it) and then waits until every L1 that received
// it has applied it, or Options.L1Fence has passed since the publish was
// confirmed, whichever comes first (see the package comment for why the
// fence suffices). The receiver count is trusted only from a single node:
// in a Cluster or Ring a PUBLISH counts the receivers of one node only (the
// message reaches the others, the count does not), so there the full fence
// is waited on every invalidation.
func (s *Store) publishAcked(ctx context.Context, msg string, run func(payload string) (int64, error)) error {
	seq, w := s.acks.register()
	defer s.acks.forget(seq)
	n, err := run("i" + s.acks.writer + seq + msg)
	if err != nil || (n == 0 && s.countsReceivers) {
		return err
	}
	fence := time.NewTimer(s.opt.L1Fence)
	defer fence.Stop()
	counted := s.countsReceivers && s.near != nil && s.acks.ready.Load()
	for !counted || w.got.Load() < n {
		select {
		case <-w.signal:
		case <-fence.C:
			s.fenceWaits.Add(1)
			return nil
		case <-ctx.Done():
			return fmt.Errorf("redisstore: waiting for %d processes to drop the invalidated tags from their L1: %w", n, ctx.Err())
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
			pipe.Publish(pctx, a.s.ackPre+writer, seqs)
		}
		_, _ = pipe.Exec(pctx)
		cancel()
		clear(batch)
	}
}
