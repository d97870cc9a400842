package redisstore

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/yokedcache/yoked/internal/testenv"
	"github.com/yokedcache/yoked/tagstore"
)

// workload makes hits and misses hits and misses on s, under tag "t".
func workload(t *testing.T, s *Store, key string, hits, misses int) {
	t.Helper()
	ctx := context.Background()
	for range misses {
		if err := s.Delete(ctx, key); err != nil {
			t.Fatal(err)
		}
		_, hit, st, err := s.Lookup(ctx, key, []string{"t"})
		if err != nil || hit {
			t.Fatalf("want a miss: hit=%v err=%v", hit, err)
		}
		if err := s.Set(ctx, key, "v", 1, time.Minute, st); err != nil {
			t.Fatal(err)
		}
	}
	for range hits {
		if _, hit, _, err := s.Lookup(ctx, key, []string{"t"}); err != nil || !hit {
			t.Fatalf("want a hit: hit=%v err=%v", hit, err)
		}
	}
}

func sharedWant(t *testing.T, got tagstore.Stats, err error, want tagstore.Stats) {
	t.Helper()
	want.Entries, want.Bytes = -1, -1
	if err != nil || got != want {
		t.Errorf("SharedStats = %+v, %v\nwant          %+v", got, err, want)
	}
}

func TestSharedStatsAcrossStores(t *testing.T) {
	addr := testenv.Redis(t)
	ns := testenv.Name("t")
	manual := Options{Namespace: ns, StatsInterval: -1}
	a := newTestStore(t, addr, manual)
	b := newTestStore(t, addr, manual)
	ctx := context.Background()

	workload(t, a, "ka", 3, 2)
	workload(t, b, "kb", 1, 4)
	if err := b.InvalidateTags(ctx, "t", "u"); err != nil {
		t.Fatal(err)
	}
	// Nothing pushed a's counts yet: b sees only its own.
	got, err := b.SharedStats(ctx)
	sharedWant(t, got, err, tagstore.Stats{Hits: 1, Misses: 4, Sets: 4, Deletes: 4, Invalidations: 2})
	if err := a.Close(); err != nil { // pushes a's counts
		t.Fatal(err)
	}
	got, err = b.SharedStats(ctx)
	sharedWant(t, got, err, tagstore.Stats{Hits: 4, Misses: 6, Sets: 6, Deletes: 6, Invalidations: 2})
	// Pushed counts are not pushed twice.
	got, err = b.SharedStats(ctx)
	sharedWant(t, got, err, tagstore.Stats{Hits: 4, Misses: 6, Sets: 6, Deletes: 6, Invalidations: 2})

	// A store that pushes on its own, every 10ms: no call needed.
	c := newTestStore(t, addr, Options{Namespace: ns, StatsInterval: 10 * time.Millisecond})
	workload(t, c, "kc", 5, 1)
	waitFor(t, "c's hits pushed", func() bool {
		st, err := b.SharedStats(ctx)
		return err == nil && st.Hits == 9
	})

	// Flush leaves the counters; ResetSharedStats clears them.
	if err := b.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if st, err := b.SharedStats(ctx); err != nil || st.Hits != 9 {
		t.Errorf("after Flush: %+v, %v; want the counters kept", st, err)
	}
	if err := b.ResetSharedStats(ctx); err != nil {
		t.Fatal(err)
	}
	got, err = b.SharedStats(ctx)
	sharedWant(t, got, err, tagstore.Stats{})

	// Another namespace counts apart.
	other := newTestStore(t, addr, Options{StatsInterval: -1})
	workload(t, other, "k", 7, 1)
	got, err = b.SharedStats(ctx)
	sharedWant(t, got, err, tagstore.Stats{})
}

// privateStore is a Store on a private Redis, to stop and start.
func privateStore(t *testing.T, interval time.Duration) (*Store, *testenv.RedisServer) {
	srv := testenv.StartRedis(t)
	c := redis.NewClient(&redis.Options{Addr: srv.Addr(), ContextTimeoutEnabled: true, MaxRetries: -1})
	s, err := New(c, Options{Namespace: testenv.Name("t"), Timeout: time.Second, StatsInterval: interval})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close(); _ = c.Close() })
	return s, srv
}

// TestSharedStatsKeptThroughOutage: counts a push could not deliver are
// delivered by a later one, and the hit path never waits for pushes.
func TestSharedStatsKeptThroughOutage(t *testing.T) {
	s, srv := privateStore(t, 5*time.Millisecond)
	ctx := context.Background()
	var err error
	workload(t, s, "k", 10, 1)
	srv.Stop()
	waitFor(t, "a failed push", func() bool { return s.RedisStats().StatsPushFailures > 0 })
	if _, err := s.SharedStats(ctx); err == nil {
		t.Fatal("SharedStats answered with Redis down")
	}
	srv.Start()
	var got tagstore.Stats
	waitFor(t, "the counts delivered", func() bool {
		got, err = s.SharedStats(ctx)
		return err == nil
	})
	// The Redis that came back is empty (nothing persisted): what was
	// pushed before the outage is gone with it, so only counts still
	// pending can be there.
	if got.Hits > 10 || got.Misses > 1 {
		t.Errorf("after the outage: %+v; counted more than happened", got)
	}
	before := got
	workload(t, s, "k", 4, 1) // the restart invalidated the namespace: one miss first
	got, err = s.SharedStats(ctx)
	if err != nil || got.Hits != before.Hits+4 || got.Misses != before.Misses+1 {
		t.Errorf("after the outage, 4 more hits: %+v -> %+v, %v", before, got, err)
	}
}

func TestSharedStatsPendingThroughOutage(t *testing.T) {
	// Only explicit pushes: the counts stay pending until SharedStats.
	s, srv := privateStore(t, -1)
	ctx := context.Background()
	var err error
	workload(t, s, "k", 10, 1)
	srv.Stop()
	for range 3 {
		if _, err := s.SharedStats(ctx); err == nil {
			t.Fatal("SharedStats answered with Redis down")
		}
	}
	if s.RedisStats().StatsPushFailures != 3 {
		t.Errorf("push failures %d, want 3", s.RedisStats().StatsPushFailures)
	}
	srv.Start()
	var got tagstore.Stats
	waitFor(t, "Redis back", func() bool {
		got, err = s.SharedStats(ctx)
		return err == nil
	})
	// The pending counts all arrive, once.
	if got.Hits != 10 || got.Misses != 1 || got.Sets != 1 {
		t.Errorf("after the outage: %+v; want the 10 hits, 1 miss, 1 set kept pending", got)
	}
}
