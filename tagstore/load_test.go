package tagstore_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/yokedcache/yoked/tagstore"
	"github.com/yokedcache/yoked/tagstore/memory"
)

func newMemory(t testing.TB) *memory.Store {
	t.Helper()
	s, err := memory.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// countingStore counts Lookups and can fail Lookup or Set.
type countingStore struct {
	tagstore.Store
	lookups   atomic.Int64
	lookupErr error
	setErr    error
	sets      atomic.Int64
}

func (c *countingStore) Lookup(ctx context.Context, key string, tags []string) (any, bool, tagstore.Stamp, error) {
	c.lookups.Add(1)
	if c.lookupErr != nil {
		return nil, false, tagstore.Stamp{}, c.lookupErr
	}
	return c.Store.Lookup(ctx, key, tags)
}

func (c *countingStore) Set(ctx context.Context, key string, v any, size int, ttl time.Duration, st tagstore.Stamp) error {
	c.sets.Add(1)
	if c.setErr != nil {
		return c.setErr
	}
	return c.Store.Set(ctx, key, v, size, ttl, st)
}

var tags = []string{"table:users"}

func TestGetOrLoadCollapsesConcurrentLoads(t *testing.T) {
	const n = 8
	cs := &countingStore{Store: newMemory(t)}
	l := tagstore.NewLoader(cs)
	ctx := context.Background()
	var loads atomic.Int64
	started, release := make(chan struct{}), make(chan struct{})
	load := func(context.Context) (any, int, error) {
		if loads.Add(1) == 1 {
			close(started)
			<-release
		}
		return "v", 1, nil
	}
	var wg sync.WaitGroup
	results := make([]any, n)
	errs := make([]error, n)
	wg.Go(func() { results[0], errs[0] = l.GetOrLoad(ctx, "k", 0, tags, load) })
	<-started
	for i := 1; i < n; i++ {
		wg.Go(func() { results[i], errs[i] = l.GetOrLoad(ctx, "k", 0, tags, load) })
	}
	// Every follower has missed; give them a moment to join the flight.
	for cs.lookups.Load() < n {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(20 * time.Millisecond)
	close(release)
	wg.Wait()
	for i := range n {
		if errs[i] != nil || results[i] != "v" {
			t.Fatalf("caller %d: %v, %v", i, results[i], errs[i])
		}
	}
	if got := loads.Load(); got != 1 {
		t.Fatalf("load ran %d times, want 1", got)
	}
	// And the value is now served from the store.
	v, err := l.GetOrLoad(ctx, "k", 0, tags, func(context.Context) (any, int, error) {
		return nil, 0, errors.New("must not load")
	})
	if err != nil || v != "v" {
		t.Fatalf("after load: %v, %v", v, err)
	}
}

// A reader that stamped after an invalidation must not share a load that
// started before it: that load may have read data from before the write.
func TestGetOrLoadDifferentVersionsDoNotShare(t *testing.T) {
	s := newMemory(t)
	l := tagstore.NewLoader(s)
	ctx := context.Background()
	started, release := make(chan struct{}), make(chan struct{})
	var wg sync.WaitGroup
	var old any
	wg.Go(func() {
		old, _ = l.GetOrLoad(ctx, "k", 0, tags, func(context.Context) (any, int, error) {
			close(started)
			<-release
			return "before write", 1, nil
		})
	})
	<-started
	if err := s.InvalidateTags(ctx, "table:users"); err != nil {
		t.Fatal(err)
	}
	// The leader is still blocked: if this call joined its flight it would
	// block too.
	var v any
	var err error
	done := make(chan struct{})
	go func() {
		defer close(done)
		v, err = l.GetOrLoad(ctx, "k", 0, tags, func(context.Context) (any, int, error) {
			return "after write", 1, nil
		})
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		close(release)
		wg.Wait()
		<-done
		t.Fatalf("the reader after the write waited for the load that began before it, and got %v", v)
	}
	close(release)
	wg.Wait()
	if err != nil || v != "after write" {
		t.Fatalf("reader after the write got %v, %v", v, err)
	}
	if old != "before write" {
		t.Fatalf("leader got %v", old)
	}
	// The leader's value was stamped before the write: never stored over it.
	v, err = l.GetOrLoad(ctx, "k", 0, tags, func(context.Context) (any, int, error) {
		return nil, 0, errors.New("must not load")
	})
	if err != nil || v != "after write" {
		t.Fatalf("cached value %v, %v; want after write", v, err)
	}
}

func TestGetOrLoadErrors(t *testing.T) {
	errLoad := errors.New("load failed")
	errSet := errors.New("set failed")
	tests := []struct {
		name      string
		lookupErr error
		setErr    error
		loadErr   error
		wantErr   error
		wantSets  int64
		wantLoads int64 // over two calls
	}{
		{"load error is returned and not cached", nil, nil, errLoad, errLoad, 0, 2},
		{"bypass loads without storing", tagstore.ErrBypass, nil, nil, nil, 0, 2},
		{"lookup error fails open", errors.New("store down"), nil, nil, nil, 0, 2},
		{"set error is ignored", nil, errSet, nil, nil, 2, 2},
		{"healthy store loads once", nil, nil, nil, nil, 1, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cs := &countingStore{Store: newMemory(t), lookupErr: tt.lookupErr, setErr: tt.setErr}
			l := tagstore.NewLoader(cs)
			var loads atomic.Int64
			for range 2 {
				v, err := l.GetOrLoad(context.Background(), "k", time.Minute, tags, func(context.Context) (any, int, error) {
					loads.Add(1)
					if tt.loadErr != nil {
						return nil, 0, tt.loadErr
					}
					return "v", 1, nil
				})
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				if err == nil && v != "v" {
					t.Fatalf("value = %v", v)
				}
			}
			if got := loads.Load(); got != tt.wantLoads {
				t.Errorf("loads = %d, want %d", got, tt.wantLoads)
			}
			if got := cs.sets.Load(); got != tt.wantSets {
				t.Errorf("sets = %d, want %d", got, tt.wantSets)
			}
		})
	}
}

// A caller whose context ended must not fail the others that shared its load.
func TestGetOrLoadLeaderCanceled(t *testing.T) {
	cs := &countingStore{Store: newMemory(t)}
	l := tagstore.NewLoader(cs)
	leaderCtx, cancel := context.WithCancel(context.Background())
	started := make(chan struct{})
	var wg sync.WaitGroup
	var leaderErr error
	wg.Go(func() {
		_, leaderErr = l.GetOrLoad(leaderCtx, "k", 0, tags, func(ctx context.Context) (any, int, error) {
			close(started)
			<-ctx.Done()
			return nil, 0, ctx.Err()
		})
	})
	<-started
	var v any
	var err error
	wg.Go(func() {
		v, err = l.GetOrLoad(context.Background(), "k", 0, tags, func(context.Context) (any, int, error) {
			return "mine", 1, nil
		})
	})
	for cs.lookups.Load() < 2 {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(10 * time.Millisecond)
	cancel()
	wg.Wait()
	if !errors.Is(leaderErr, context.Canceled) {
		t.Fatalf("leader err = %v", leaderErr)
	}
	if err != nil || v != "mine" {
		t.Fatalf("follower got %v, %v", v, err)
	}
}

func ExampleLoader_GetOrLoad() {
	store, _ := memory.New(&memory.Options{DefaultTTL: time.Minute})
	defer store.Close()
	loader := tagstore.NewLoader(store)
	ctx := context.Background()

	queries := 0
	countUsers := func(context.Context) (any, int, error) {
		queries++ // stands for a query to the database
		return 42, 8, nil
	}
	for range 3 {
		n, _ := loader.GetOrLoad(ctx, "users:count", 0, []string{"table:users"}, countUsers)
		fmt.Println("users:", n)
	}
	// A write to users invalidates its tag; the next read loads again.
	_ = store.InvalidateTags(ctx, "table:users")
	n, _ := loader.GetOrLoad(ctx, "users:count", 0, []string{"table:users"}, countUsers)
	fmt.Println("users:", n, "queries:", queries)
	// Output:
	// users: 42
	// users: 42
	// users: 42
	// users: 42 queries: 2
}
