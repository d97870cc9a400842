package invalidator_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/yokedcache/yoked/invalidator"
	"github.com/yokedcache/yoked/tagstore"
)

// flakyStore fails while down is true and records what it was asked.
type flakyStore struct {
	mu    sync.Mutex
	down  bool
	tags  []string
	all   int
	calls int
}

var errDown = errors.New("store down")

func (s *flakyStore) InvalidateTags(_ context.Context, tags ...string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	if s.down {
		return errDown
	}
	s.tags = append(s.tags, tags...)
	return nil
}

func (s *flakyStore) InvalidateAll(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	if s.down {
		return errDown
	}
	s.all++
	return nil
}

func (s *flakyStore) setDown(d bool) {
	s.mu.Lock()
	s.down = d
	s.mu.Unlock()
}

func (s *flakyStore) seen() ([]string, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.tags...), s.all
}

func fast() invalidator.Options {
	return invalidator.Options{Timeout: time.Second, RetryMin: time.Millisecond, RetryMax: 5 * time.Millisecond}
}

func TestInvalidateReachesStore(t *testing.T) {
	s := &flakyStore{}
	inv := invalidator.New(s, fast())
	defer inv.Close()
	inv.Invalidate(context.Background(), []string{"table:a", "table:b"}, false)
	inv.Invalidate(context.Background(), nil, true)
	inv.Invalidate(context.Background(), nil, false) // nothing to do
	tags, all := s.seen()
	if !slices.Equal(tags, []string{"table:a", "table:b"}) || all != 1 {
		t.Fatalf("store saw %v, all=%d", tags, all)
	}
	if inv.Blocked([]string{"table:a"}) {
		t.Fatal("blocked without a failure")
	}
}

func TestCancelledContextStillInvalidates(t *testing.T) {
	s := &flakyStore{}
	inv := invalidator.New(s, fast())
	defer inv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	inv.Invalidate(ctx, []string{"table:a"}, false)
	if tags, _ := s.seen(); len(tags) != 1 {
		t.Fatal("a cancelled caller context skipped the invalidation of a committed write")
	}
}

func TestFailedInvalidationBlocksUntilRetried(t *testing.T) {
	s := &flakyStore{down: true}
	inv := invalidator.New(s, fast())
	defer inv.Close()
	inv.Invalidate(context.Background(), []string{"table:a"}, false)
	if !inv.Blocked([]string{"table:x", "table:a"}) {
		t.Fatal("tags of a failed invalidation are not blocked")
	}
	if inv.Blocked([]string{"table:b"}) {
		t.Fatal("an unrelated tag is blocked")
	}
	if inv.Pending() != 1 {
		t.Fatalf("pending = %d", inv.Pending())
	}
	time.Sleep(20 * time.Millisecond) // several failed retries
	if !inv.Blocked([]string{"table:a"}) {
		t.Fatal("unblocked while the store is still down")
	}
	s.setDown(false)
	deadline := time.Now().Add(5 * time.Second)
	for inv.Blocked([]string{"table:a"}) {
		if time.Now().After(deadline) {
			t.Fatal("never retried successfully")
		}
		time.Sleep(time.Millisecond)
	}
	if tags, _ := s.seen(); !slices.Contains(tags, "table:a") {
		t.Fatalf("unblocked but the store never got the tag: %v", tags)
	}
	if st := inv.Stats(); st.Failures != 1 || st.Retries == 0 || st.Pending != 0 {
		t.Fatalf("stats %+v", st)
	}
}

func TestFailedInvalidateAllBlocksEverything(t *testing.T) {
	s := &flakyStore{down: true}
	inv := invalidator.New(s, fast())
	defer inv.Close()
	inv.Invalidate(context.Background(), nil, true)
	if !inv.Blocked([]string{"table:anything"}) || !inv.Blocked(nil) {
		t.Fatal("a pending InvalidateAll must block every read")
	}
	s.setDown(false)
	deadline := time.Now().Add(5 * time.Second)
	for inv.Blocked(nil) {
		if time.Now().After(deadline) {
			t.Fatal("never retried")
		}
		time.Sleep(time.Millisecond)
	}
	if _, all := s.seen(); all != 1 {
		t.Fatalf("InvalidateAll reached the store %d times", all)
	}
}

func TestTxCommitRollbackFlush(t *testing.T) {
	s := &flakyStore{}
	inv := invalidator.New(s, fast())
	defer inv.Close()

	tx := inv.Begin()
	tx.Add([]string{"table:a"}, false)
	tx.Rollback()
	tx.Commit(context.Background(), nil)
	if tags, _ := s.seen(); len(tags) != 0 {
		t.Fatalf("rolled back writes were invalidated: %v", tags)
	}

	tx = inv.Begin()
	if tx.Dirty() {
		t.Fatal("new tx is dirty")
	}
	tx.Add([]string{"table:a"}, false)
	tx.Add([]string{"table:b", "table:a"}, false)
	tx.Flush(context.Background())
	if tags, _ := s.seen(); len(tags) != 2 {
		t.Fatalf("flush sent %v", tags)
	}
	tx.Commit(context.Background(), errors.New("ambiguous commit failure"))
	tags, _ := s.seen()
	slices.Sort(tags)
	if !slices.Equal(tags, []string{"table:a", "table:a", "table:b", "table:b"}) {
		t.Fatalf("commit after a failed commit must still invalidate: %v", tags)
	}
	tx = inv.Begin()
	tx.Add(nil, true)
	tx.Commit(context.Background(), nil)
	if _, all := s.seen(); all != 1 {
		t.Fatal("a transaction with an unknown write did not invalidate everything")
	}
}

// ctxStore fails the first call and records whether each call's context
// asked the store to ignore its breaker.
type ctxStore struct {
	mu      sync.Mutex
	ignored []bool
}

func (s *ctxStore) InvalidateTags(ctx context.Context, _ ...string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ignored = append(s.ignored, tagstore.BreakerIgnored(ctx))
	if len(s.ignored) == 1 {
		return errDown
	}
	return nil
}

func (s *ctxStore) InvalidateAll(ctx context.Context) error { return s.InvalidateTags(ctx) }

// Background retries must get through an open breaker: until one succeeds,
// other processes may serve entries older than the write (issue 9).
func TestRetriesIgnoreBreaker(t *testing.T) {
	s := &ctxStore{}
	inv := invalidator.New(s, fast())
	defer inv.Close()
	inv.Invalidate(context.Background(), []string{"table:a"}, false)
	deadline := time.Now().Add(5 * time.Second)
	for inv.Blocked([]string{"table:a"}) && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.ignored) < 2 || s.ignored[0] || !s.ignored[1] {
		t.Fatalf("calls ignoring the breaker: %v, want [false true]", s.ignored)
	}
}

// gateStore fails its first call, holds its second (the first retry) until
// released, and fails every call after that.
type gateStore struct {
	mu      sync.Mutex
	calls   int
	entered chan struct{}
	release chan struct{}
}

func (s *gateStore) InvalidateTags(context.Context, ...string) error {
	s.mu.Lock()
	s.calls++
	n := s.calls
	s.mu.Unlock()
	if n == 2 {
		close(s.entered)
		<-s.release
		return nil
	}
	return errDown
}

func (s *gateStore) InvalidateAll(ctx context.Context) error { return s.InvalidateTags(ctx) }

func (s *gateStore) n() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls
}

// A tag added again while a retry of it is running belongs to a later write,
// which may have committed after the retry's version bump: the retry must not
// clear it. Before the fix it did, the read bypass ended, and other processes
// could serve entries filled between the bump and that later commit.
func TestRetryKeepsTagsAddedDuringIt(t *testing.T) {
	for _, all := range []bool{false, true} {
		s := &gateStore{entered: make(chan struct{}), release: make(chan struct{})}
		inv := invalidator.New(s, fast())
		inv.Invalidate(context.Background(), []string{"table:a"}, all) // call 1 fails: pending
		select {
		case <-s.entered: // call 2, the first retry, is running
		case <-time.After(5 * time.Second):
			t.Fatal("no retry")
		}
		inv.Invalidate(context.Background(), []string{"table:a"}, all) // call 3 fails: pending again
		close(s.release)
		deadline := time.Now().Add(5 * time.Second)
		for s.n() < 4 { // the loop goes on only while something is still pending
			if !inv.Blocked([]string{"table:a"}) {
				t.Fatalf("all=%v: the retry cleared a tag added again while it ran", all)
			}
			if time.Now().After(deadline) {
				t.Fatalf("all=%v: no further retry", all)
			}
			time.Sleep(time.Millisecond)
		}
		if !inv.Blocked([]string{"table:a"}) {
			t.Fatalf("all=%v: tag unblocked while its last invalidation never reached the store", all)
		}
		inv.Close()
	}
}

// endlessMarks marks writes but cannot end them; invalidations get through.
type endlessMarks struct{ flakyStore }

func (s *endlessMarks) MarkWrite(_ context.Context, tags []string) (tagstore.WriteMark, error) {
	return tagstore.WriteMark{Tags: tags, ID: "m"}, nil
}

func (s *endlessMarks) EndWrite(context.Context, tagstore.WriteMark) error { return errDown }

// A mark whose end keeps failing stays to be ended, but the background
// retry still invalidates the pending tags: other processes wait for that
// invalidation, not for the end. Before, the retry stopped at the first
// failed end and never sent the invalidation.
func TestFailedMarkEndDoesNotHoldBackInvalidation(t *testing.T) {
	s := &endlessMarks{}
	inv := invalidator.New(s, fast())
	defer inv.Close()
	w, err := inv.Prepare(context.Background(), []string{"row:t(id=1)"}, false, false)
	if err != nil {
		t.Fatal(err)
	}
	w.Done(context.Background())
	deadline := time.Now().Add(5 * time.Second)
	for {
		if tags, _ := s.seen(); slices.Contains(tags, "row:t(id=1)") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the pending tag was never invalidated while the mark's end failed")
		}
		time.Sleep(time.Millisecond)
	}
}
