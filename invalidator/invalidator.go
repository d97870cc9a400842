// Package invalidator decides when a write becomes visible to the cache: right
// after an autocommit write returns from the database, and when a transaction
// commits. It knows nothing of SQL or of database/sql; it is handed tags.
//
// Guarantee: when Invalidate (or Tx.Commit) returns, either the store has
// acknowledged the new versions of every tag, or the tags are recorded as
// pending in this Invalidator, Blocked reports true for them, and a background
// retry runs until the store acknowledges them. A reader that consults Blocked
// before the store therefore never gets an entry older than a write that has
// returned in this process.
package invalidator

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/yokedcache/yoked/tagstore"
)

// Store is what the invalidator needs of a tag store.
type Store interface {
	InvalidateTags(ctx context.Context, tags ...string) error
	InvalidateAll(ctx context.Context) error
}

// Options tune an Invalidator. The zero value is usable.
type Options struct {
	// Timeout bounds one attempt at invalidating (default 2s).
	Timeout time.Duration
	// RetryMin and RetryMax bound the backoff between background retries
	// (defaults 5ms and 25ms). Until a retry succeeds, other processes
	// sharing the store may serve entries older than the write as soon as
	// they reach the store again, so the interval stays short even through
	// a long outage (an attempt costs a refused dial or one store timeout,
	// in the background); retries ignore the store's circuit breaker
	// (tagstore.WithoutBreaker).
	RetryMin, RetryMax time.Duration
	// Logger receives failed attempts (default: discard).
	Logger *slog.Logger
}

// Invalidator turns committed writes into tag invalidations. It is safe for
// concurrent use.
type Invalidator struct {
	store Store
	opt   Options

	npending atomic.Int64 // fast path for Blocked
	tryMu    sync.Mutex   // one attempt at the pending work at a time
	mu       sync.Mutex
	// pending maps each tag waiting for a retry to the generation in which
	// it was last added; allGen is that of a pending InvalidateAll (0: none).
	// An attempt clears only what it covered: a tag added again while the
	// attempt ran (a later write, whose commit the attempt may have preceded)
	// stays pending.
	pending  map[string]uint64
	allGen   uint64
	gen      uint64
	marks    []tagstore.WriteMark // write marks whose end failed
	retrying bool
	closed   bool
	wake     chan struct{}
	done     chan struct{}

	invalidations atomic.Uint64
	failures      atomic.Uint64
	retries       atomic.Uint64
	markFailures  atomic.Uint64
}

// New returns an Invalidator writing to store.
func New(store Store, opt Options) *Invalidator {
	if opt.Timeout <= 0 {
		opt.Timeout = 2 * time.Second
	}
	if opt.RetryMin <= 0 {
		opt.RetryMin = 5 * time.Millisecond
	}
	if opt.RetryMax < opt.RetryMin {
		opt.RetryMax = max(25*time.Millisecond, opt.RetryMin)
	}
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	return &Invalidator{store: store, opt: opt, pending: map[string]uint64{}, wake: make(chan struct{}, 1), done: make(chan struct{})}
}

// Invalidate makes a write to tags (or, with all, to everything) visible.
// It ignores ctx's cancellation: a write that reached the database must be
// invalidated even if the caller gave up. It never returns an error: a failure
// leaves the tags pending (see the package comment).
func (i *Invalidator) Invalidate(ctx context.Context, tags []string, all bool) {
	if len(tags) == 0 && !all {
		return
	}
	i.invalidations.Add(1)
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), i.opt.Timeout)
	defer cancel()
	if err := i.attempt(ctx, tags, all); err != nil {
		i.failures.Add(1)
		i.opt.Logger.Warn("yoked: invalidation failed; retrying in background, bypassing cache for its tags",
			"tags", tags, "all", all, "err", err)
		i.addPending(tags, all)
	}
}

func (i *Invalidator) attempt(ctx context.Context, tags []string, all bool) error {
	if all {
		return i.store.InvalidateAll(ctx)
	}
	return i.store.InvalidateTags(ctx, tags...)
}

// Blocked reports whether reads depending on tags must bypass the cache
// because an invalidation of one of them (or of everything) is pending.
// It costs one atomic load when nothing is pending.
func (i *Invalidator) Blocked(tags []string) bool {
	if i.npending.Load() == 0 {
		return false
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.allGen != 0 {
		return true
	}
	for _, t := range tags {
		if _, ok := i.pending[t]; ok {
			return true
		}
	}
	return false
}

// Pending returns how many tags (plus one for a pending InvalidateAll) wait
// for a retry.
func (i *Invalidator) Pending() int { return int(i.npending.Load()) }

func (i *Invalidator) addPending(tags []string, all bool) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.gen++
	if all {
		i.allGen = i.gen
	}
	for _, t := range tags {
		i.pending[t] = i.gen
	}
	i.npending.Store(int64(len(i.pending)) + b2i(i.allGen != 0))
	if !i.retrying && !i.closed {
		i.retrying = true
		go i.retryLoop()
	}
}

func b2i(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

func (i *Invalidator) retryLoop() {
	delay := i.opt.RetryMin
	for {
		select {
		case <-time.After(delay):
		case <-i.done:
			return
		}
		i.retries.Add(1)
		ctx, cancel := context.WithTimeout(tagstore.WithoutBreaker(context.Background()), i.opt.Timeout)
		stop, err := i.attemptPending(ctx, true)
		cancel()
		if stop {
			return
		}
		if err == nil {
			delay = i.opt.RetryMin
		} else {
			i.opt.Logger.Debug("yoked: invalidation retry failed", "err", err)
			delay = min(delay*2, i.opt.RetryMax)
		}
	}
}

// attemptPending makes one attempt at every pending mark end and
// invalidation. From the retry loop, it reports whether the loop must stop
// (nothing is pending any more; decided under the lock addPending takes).
func (i *Invalidator) attemptPending(ctx context.Context, loop bool) (stop bool, err error) {
	i.tryMu.Lock()
	defer i.tryMu.Unlock()
	i.mu.Lock()
	tags := make([]string, 0, len(i.pending))
	gens := make([]uint64, 0, len(i.pending))
	for t, g := range i.pending {
		tags = append(tags, t)
		gens = append(gens, g)
	}
	allGen := i.allGen
	all := allGen != 0
	marks := i.marks
	i.mu.Unlock()
	// A mark whose end fails stays (its marker still holds readers off
	// until it expires), but does not hold back the pending tags: their
	// invalidation is what other processes wait for, and it may get
	// through where the end did not.
	ended := 0
	var markErr error
	if wm, ok := i.store.(tagstore.WriteMarker); ok {
		for _, m := range marks {
			if markErr = wm.EndWrite(ctx, m); markErr != nil {
				break
			}
			ended++
		}
	}
	if all {
		err = i.store.InvalidateAll(ctx)
	}
	if err == nil && len(tags) > 0 {
		err = i.store.InvalidateTags(ctx, tags...)
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	// Marks added while we were trying are appended after ours.
	i.marks = i.marks[ended:]
	if err != nil {
		return false, err
	}
	// Tags added (again) while we were trying stay pending for the next round.
	for k, t := range tags {
		if i.pending[t] == gens[k] {
			delete(i.pending, t)
		}
	}
	if all && i.allGen == allGen {
		i.allGen = 0
	}
	i.npending.Store(int64(len(i.pending)) + b2i(i.allGen != 0))
	if markErr != nil {
		return false, markErr
	}
	if loop && i.npending.Load() == 0 && len(i.marks) == 0 {
		i.retrying = false
		return true, nil
	}
	return false, nil
}

// Drain makes one attempt, bounded by ctx and ignoring the store's
// breaker, at everything pending: for Close, so that a process that exits
// soon after a failed invalidation does not leave it undone if the store
// answers again.
func (i *Invalidator) Drain(ctx context.Context) error {
	if i.npending.Load() == 0 {
		return nil
	}
	_, err := i.attemptPending(tagstore.WithoutBreaker(ctx), false)
	return err
}

// Write is one write announced to the store before it is sent (Prepare)
// and made visible after it returned (Done).
type Write struct {
	inv    *Invalidator
	tags   []string
	all    bool
	mark   tagstore.WriteMark
	marked bool
	// refused: the mark failed (the store's breaker is open, or it did not
	// answer within its timeout); Done does not wait on the store either.
	refused bool
}

// Prepare announces a write of tags before it is sent to the database,
// when the store supports it (tagstore.WriteMarker): from then on no
// process serves or stores the tags until Done. A write of anything (all)
// marks the tags it names, if any, and Done then also invalidates
// everything: the namespace itself is never marked (that would stop every
// read of every process while the write runs, and the driver reads its
// schema epoch through it), so only readers of the named tags are held off
// while it runs. If the store cannot be reached, Prepare returns an error
// when strict is set (the caller must not send the write: nothing is
// written and nothing goes stale); otherwise it returns a Write whose Done
// hands the tags to the background retry after the write (they are
// pending, as after a failed Invalidate): a store that did not answer is
// not waited for twice. Prepare ignores ctx's cancellation, like
// Invalidate.
func (i *Invalidator) Prepare(ctx context.Context, tags []string, all, strict bool) (*Write, error) {
	w := &Write{inv: i, tags: tags, all: all}
	wm, ok := i.store.(tagstore.WriteMarker)
	if !ok || (len(tags) == 0 && !all) {
		return w, nil
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), i.opt.Timeout)
	defer cancel()
	if len(tags) == 0 {
		// A write of anything that names no tag is only invalidated after
		// it returned; strict mode checks that the store answers.
		if !strict {
			return w, nil
		}
		m, err := wm.MarkWrite(ctx, []string{probeTag})
		if err == nil {
			err = wm.EndWrite(ctx, m)
		}
		if err != nil {
			i.markFailures.Add(1)
			return nil, fmt.Errorf("%w: %w", ErrUnreachable, err)
		}
		return w, nil
	}
	m, err := wm.MarkWrite(ctx, tags)
	if err != nil {
		i.markFailures.Add(1)
		if strict {
			return nil, fmt.Errorf("%w: %w", ErrUnreachable, err)
		}
		// The store did not answer in time: Done does not wait on it
		// again, the background retry takes over.
		w.refused = true
		return w, nil
	}
	w.mark, w.marked = m, true
	return w, nil
}

// probeTag is marked and unmarked by a strict write of anything, to check
// that the store answers; no entry depends on it.
const probeTag = "yoked:strict-probe"

// ErrUnreachable is returned by Prepare in strict mode when the store could
// not mark the write.
var ErrUnreachable = errors.New("yoked: cache store unreachable; write not sent (strict mode)")

// Done makes the write visible after it returned from the database,
// whatever its outcome, with the guarantee of Invalidate. A write whose mark
// failed goes straight to the background retry (an open breaker adds no
// wait, an unreachable store one timeout), unless the store answers again
// by now (tagstore.Answerer: another operation succeeded since the
// failure, as after a stall shorter than the write): then it is
// invalidated at once, before the write returns, since other processes
// may be reading the store again already.
func (w *Write) Done(ctx context.Context) { w.done(ctx, "") }

// DoneReading is Done that also reads the version of tag after the write
// ended, in the same round trip as the end when the store can
// (tagstore.EndReader) and the write was marked and names no "everything".
// ok is false when the version was not read that way (the store cannot, the
// write was not marked, or its end failed): the caller reads it itself.
// Version 0: tag has no version, or a write to it is in flight.
func (w *Write) DoneReading(ctx context.Context, tag string) (version uint64, ok bool) {
	if _, can := w.inv.store.(tagstore.EndReader); !can || !w.marked || w.all {
		w.done(ctx, "")
		return 0, false
	}
	return w.done(ctx, tag)
}

func (w *Write) done(ctx context.Context, read string) (version uint64, ok bool) {
	i := w.inv
	switch {
	case w.marked:
		i.invalidations.Add(1)
		wm := i.store.(tagstore.WriteMarker)
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), i.opt.Timeout)
		defer cancel()
		var err error
		if read != "" {
			version, err = i.store.(tagstore.EndReader).EndWriteRead(ctx, w.mark, read)
			ok = err == nil
		} else {
			err = wm.EndWrite(ctx, w.mark)
		}
		if err == nil && w.all {
			err = i.store.InvalidateAll(ctx)
		}
		if err != nil {
			i.failures.Add(1)
			i.opt.Logger.Warn("yoked: invalidation failed; retrying in background, bypassing cache for its tags",
				"tags", w.tags, "all", w.all, "err", err)
			i.mu.Lock()
			i.marks = append(i.marks, w.mark)
			i.mu.Unlock()
			i.addPending(w.tags, w.all)
		}
	case w.refused:
		if a, ok := i.store.(tagstore.Answerer); ok && a.Answering() {
			i.Invalidate(ctx, w.tags, w.all)
			return 0, false
		}
		if len(w.tags) > 0 || w.all {
			i.invalidations.Add(1)
			i.failures.Add(1)
			i.addPending(w.tags, w.all)
		}
	default:
		i.Invalidate(ctx, w.tags, w.all)
	}
	return version, ok
}

// Abandon ends a Write whose statement was not sent after all: its mark,
// if any, is ended (which invalidates, harmlessly); nothing else is done.
func (w *Write) Abandon(ctx context.Context) {
	if w.marked {
		w.Done(ctx)
	}
}

// Stats are the invalidator's counters.
type Stats struct {
	Invalidations uint64 `json:"invalidations"`
	Failures      uint64 `json:"failures"`
	Retries       uint64 `json:"retries"`
	MarkFailures  uint64 `json:"mark_failures"` // writes Prepare could not mark
	Pending       int    `json:"pending"`
}

// Stats returns the counters since New.
func (i *Invalidator) Stats() Stats {
	return Stats{Invalidations: i.invalidations.Load(), Failures: i.failures.Load(), Retries: i.retries.Load(), MarkFailures: i.markFailures.Load(), Pending: i.Pending()}
}

// Close stops the background retry. Pending tags stay blocked. Idempotent.
func (i *Invalidator) Close() {
	i.mu.Lock()
	defer i.mu.Unlock()
	if !i.closed {
		i.closed = true
		close(i.done)
	}
}

// Tx collects the tags a transaction writes. It is used by one goroutine at
// a time (database/sql serialises use of a transaction).
type Tx struct {
	inv  *Invalidator
	tags map[string]struct{}
	all  bool
}

// Begin starts collecting the writes of a transaction.
func (i *Invalidator) Begin() *Tx { return &Tx{inv: i} }

// Add records that the transaction wrote tags (or, with all, anything).
func (t *Tx) Add(tags []string, all bool) {
	if all {
		t.all = true
	}
	if len(tags) > 0 && t.tags == nil {
		t.tags = make(map[string]struct{}, len(tags))
	}
	for _, tag := range tags {
		t.tags[tag] = struct{}{}
	}
}

// Tags returns the tags collected so far (without the "everything" mark).
func (t *Tx) Tags() []string {
	tags := make([]string, 0, len(t.tags))
	for tag := range t.tags {
		tags = append(tags, tag)
	}
	return tags
}

// All reports whether the transaction wrote something that invalidates
// every tag.
func (t *Tx) All() bool { return t.all }

// Dirty reports whether the transaction has written anything so far.
func (t *Tx) Dirty() bool { return t.all || len(t.tags) > 0 }

// Commit is called after the database's commit returned commitErr. The
// collected tags are invalidated whatever commitErr is: a failed commit may
// still have committed (a lost connection), and invalidating more is safe.
func (t *Tx) Commit(ctx context.Context, commitErr error) {
	_ = commitErr
	t.Flush(ctx)
	t.tags, t.all = nil, false
}

// Prepare announces the transaction's writes before its COMMIT is sent
// (see Invalidator.Prepare) and stops collecting: the returned Write's Done,
// called after the COMMIT returned whatever its outcome, makes them
// visible. Nil error and a Write whose Done does nothing when the
// transaction wrote nothing.
func (t *Tx) Prepare(ctx context.Context, strict bool) (*Write, error) {
	if !t.Dirty() {
		return &Write{inv: t.inv}, nil
	}
	w, err := t.inv.Prepare(ctx, t.Tags(), t.all, strict)
	if err != nil {
		return nil, err
	}
	t.tags, t.all = nil, false
	return w, nil
}

// Rollback discards the collected tags: nothing the transaction wrote became
// visible.
func (t *Tx) Rollback() { t.tags, t.all = nil, false }

// Flush invalidates what the transaction has collected so far and keeps it
// collected: for a statement inside the transaction that may have committed
// part of it (a COMMIT or ROLLBACK TO typed by hand).
func (t *Tx) Flush(ctx context.Context) {
	if !t.Dirty() {
		return
	}
	t.inv.Invalidate(ctx, t.Tags(), t.all)
}
