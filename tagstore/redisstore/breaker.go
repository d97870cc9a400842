package redisstore

import (
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
// cool-down, then admits a single probe.
type breaker struct {
	threshold int
	cooldown  time.Duration

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
	defer b.mu.Unlock()
	b.healthy.Store(false)
	b.failures++
	if b.state == BreakerHalfOpen || (b.state == BreakerClosed && b.failures >= b.threshold) {
		b.state = BreakerOpen
		b.until = time.Now().Add(b.cooldown)
		b.opens++
	}
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
