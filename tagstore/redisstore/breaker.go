package redisstore

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// BreakerState is the state of the circuit breaker.
type BreakerState int

const (
	// BreakerClosed lets every operation through.
	BreakerClosed BreakerState = iota
	// BreakerOpen answers ErrBypass without touching Redis.
	BreakerOpen
	// BreakerHalfOpen lets one probe through; its outcome closes or reopens.
	BreakerHalfOpen
)

func (b BreakerState) String() string {
	switch b {
	case BreakerClosed:
		return "closed"
	case BreakerOpen:
		return "open"
	default:
		return "half-open"
	}
}

// breaker opens after a run of consecutive failures, stays open for a
// cool-down, then admits a single probe. While it is open, the Store also
// probes Redis in the background every probeEvery (see Store.probe), and
// the first answer closes it: after a short fault, a process does not wait
// out the cool-down while other processes already use Redis again (issue 9:
// a write this process could not announce to the store in that time left
// the others serving the old entries).
type breaker struct {
	threshold int
	cooldown  time.Duration
	// opened, if set, is called (without the lock) each time the breaker
	// opens.
	opened func()

	// healthy is true while closed with no failure counted: the fast path
	// of allow and success, so that healthy operations take no lock.
	healthy atomic.Bool

	mu       sync.Mutex
	state    BreakerState
	failures int
	until    time.Time
	opens    uint64
}

// allow reports whether an operation may go to Redis now.
func (b *breaker) allow() bool {
	if b.healthy.Load() {
		return true
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	switch b.state {
	case BreakerClosed:
		return true
	case BreakerOpen:
		if time.Now().Before(b.until) {
			return false
		}
		b.state = BreakerHalfOpen
		return true
	default: // a probe is in flight
		return false
	}
}

// allowInvalidation reports whether an invalidation may go to Redis now:
// unlike allow, it is not held back while a probe is in flight, and it does
// not take the probe's place. Only an open breaker within its cool-down
// refuses it.
func (b *breaker) allowInvalidation() bool {
	if b.healthy.Load() {
		return true
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.state != BreakerOpen || !time.Now().Before(b.until)
}

func (b *breaker) success() {
	if b.healthy.Load() {
		return
	}
	b.mu.Lock()
	b.state, b.failures = BreakerClosed, 0
	b.healthy.Store(true)
	b.mu.Unlock()
}

func (b *breaker) failure() {
	b.mu.Lock()
	b.healthy.Store(false)
	b.failures++
	opened := false
	if b.state == BreakerHalfOpen || (b.state == BreakerClosed && b.failures >= b.threshold) {
		b.state = BreakerOpen
		b.until = time.Now().Add(b.cooldown)
		b.opens++
		opened = true
	}
	b.mu.Unlock()
	if opened && b.opened != nil {
		b.opened()
	}
}

// Answering implements tagstore.Answerer: true while the breaker is
// closed with no failure counted since the last success.
func (s *Store) Answering() bool { return !s.closed.Load() && s.br.healthy.Load() }

// isOpen reports whether the breaker is open (within its cool-down or not).
func (b *breaker) isOpen() bool {
	if b.healthy.Load() {
		return false
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.state != BreakerClosed
}

// neutral ends a probe that proved nothing (the caller gave up): the next
// operation may probe again.
func (b *breaker) neutral() {
	b.mu.Lock()
	if b.state == BreakerHalfOpen {
		b.state = BreakerOpen
	}
	b.mu.Unlock()
}

func (b *breaker) snapshot() (BreakerState, uint64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.state, b.opens
}

// probeEvery is how often a Store pings Redis while its breaker is open.
const probeEvery = 5 * time.Millisecond

// probe pings Redis every probeEvery, each ping bounded by Options.Timeout,
// until one is answered (which closes the breaker), the breaker closed
// otherwise, or the Store is closed. One runs at a time; the breaker starts
// it when it opens.
func (s *Store) probe() {
	if !s.probing.CompareAndSwap(false, true) {
		return
	}
	go func() {
		for {
			s.probeUntilClosed()
			s.probing.Store(false)
			// The breaker may have opened again between the last check and
			// the flag's reset, without starting a prober.
			if s.closed.Load() || !s.br.isOpen() || !s.probing.CompareAndSwap(false, true) {
				return
			}
		}
	}()
}

func (s *Store) probeUntilClosed() {
	t := time.NewTicker(probeEvery)
	defer t.Stop()
	for range t.C {
		if s.closed.Load() || !s.br.isOpen() {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), s.opt.Timeout)
		err := s.c.Ping(ctx).Err()
		cancel()
		if err == nil {
			s.br.success()
			return
		}
	}
}
