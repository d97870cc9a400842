package redisstore

import (
	"context"
	"errors"
	"fmt"
	"github.com/yokedcache/yoked/internal/testenv"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/yokedcache/yoked/tagstore"
)

// put stores val under key and tags, through a Lookup miss.
func put(t testing.TB, s *Store, key, val string, tags ...string) {
	t.Helper()
	_, hit, st, err := s.Lookup(context.Background(), key, tags)
	if err != nil {
		t.Fatalf("Lookup(%q): %v", key, err)
	}
	if hit {
		t.Fatalf("Lookup(%q): unexpected hit", key)
	}
	if err := s.Set(context.Background(), key, []byte(val), len(val), 0, st); err != nil {
		t.Fatalf("Set(%q): %v", key, err)
	}
}

// get returns the value served for key ("" on a miss).
func get(t testing.TB, s *Store, key string, tags ...string) string {
	t.Helper()
	v, hit, _, err := s.Lookup(context.Background(), key, tags)
	if err != nil {
		t.Fatalf("Lookup(%q): %v", key, err)
	}
	if !hit {
		return ""
	}
	return string(v.([]byte))
}

// A Redis restarted from a snapshot older than the last invalidation must
// not serve the entries of the snapshot.
func TestRestoreOldSnapshotNoStale(t *testing.T) {
	srv := testenv.StartRedis(t)
	s := newTestStore(t, srv.Addr(), Options{Timeout: 2 * time.Second})
	raw := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	defer raw.Close()
	ctx := context.Background()

	put(t, s, "k", "v1", "t")
	if got := get(t, s, "k", "t"); got != "v1" {
		t.Fatalf("before snapshot: %q", got)
	}
	if err := raw.Save(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	dump := filepath.Join(srv.Dir(), "dump.rdb")
	old, err := os.ReadFile(dump)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.InvalidateTags(ctx, "t"); err != nil {
		t.Fatal(err)
	}
	put(t, s, "k", "v2", "t")
	if got := get(t, s, "k", "t"); got != "v2" {
		t.Fatalf("after invalidation: %q", got)
	}

	srv.Stop()
	if err := os.WriteFile(dump, old, 0o600); err != nil {
		t.Fatal(err)
	}
	srv.Start()

	// The scenario is real: the old entry and the old version are back.
	if n, err := raw.Exists(ctx, s.entryKey("k")).Result(); err != nil || n != 1 {
		t.Fatalf("restored snapshot lacks the old entry: %d %v", n, err)
	}
	if got := get(t, s, "k", "t"); got != "" {
		t.Fatalf("after restoring an old snapshot: served %q, want a miss", got)
	}
	if s.RedisStats().Restarts == 0 {
		t.Error("restart not counted")
	}
	put(t, s, "k", "v3", "t")
	if got := get(t, s, "k", "t"); got != "v3" {
		t.Fatalf("after refill: %q", got)
	}
}

// Redis dying, hanging and coming back: every operation answers within the
// timeout, the breaker opens and closes, and nothing old is served after.
func TestRedisDownFailsOpen(t *testing.T) {
	srv := testenv.StartRedis(t)
	const timeout = 50 * time.Millisecond
	s, err := NewFromURL("redis://"+srv.Addr()+"?namespace="+testenv.Name("t"), Options{
		Timeout: timeout, InvalidateTimeout: timeout, BreakerFailures: 3, BreakerCooldown: 100 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	put(t, s, "k", "v1", "t")

	// bounded runs op and fails the test if it took much longer than the
	// timeout; it returns op's error.
	bounded := func(what string, op func() error) error {
		t.Helper()
		start := time.Now()
		err := op()
		if d := time.Since(start); d > 10*timeout {
			t.Errorf("%s took %v with Redis unavailable", what, d)
		}
		return err
	}
	lookup := func() error { _, _, _, err := s.Lookup(ctx, "k", []string{"t"}); return err }

	for name, outage := range map[string]struct{ start, end func() }{
		"stopped": {srv.Stop, srv.Start},
		"hung": {
			func() { _ = srv.Signal(syscall.SIGSTOP) },
			func() { _ = srv.Signal(syscall.SIGCONT) },
		},
	} {
		outage.start()
		for i := range 6 {
			if err := bounded(name+" lookup", lookup); err == nil {
				t.Fatalf("%s: lookup %d succeeded", name, i)
			}
		}
		if err := bounded(name+" invalidate", func() error { return s.InvalidateTags(ctx, "t") }); err == nil {
			t.Fatalf("%s: InvalidateTags succeeded", name)
		}
		if st := s.RedisStats(); st.Breaker != BreakerOpen || st.BreakerOpens == 0 {
			t.Fatalf("%s: breaker %v after repeated failures (opens %d)", name, st.Breaker, st.BreakerOpens)
		}
		if err := lookup(); !errors.Is(err, tagstore.ErrBypass) {
			t.Fatalf("%s: lookup with the breaker open: %v, want ErrBypass", name, err)
		}
		outage.end()
		waitFor(t, name+": breaker closing", func() bool { return lookup() == nil })
		if got := get(t, s, "k", "t"); got == "v1" && name == "stopped" {
			t.Fatalf("%s: served %q written before Redis came back empty", name, got)
		}
		// The invalidation that failed during the outage is the caller's
		// to retry (the invalidator does); retried, it takes effect.
		if err := s.InvalidateTags(ctx, "t"); err != nil {
			t.Fatal(err)
		}
		if got := get(t, s, "k", "t"); got != "" {
			t.Fatalf("%s: served %q after the invalidation", name, got)
		}
		put(t, s, "k", "v1", "t")
	}
	if s.RedisStats().Errors == 0 {
		t.Error("errors not counted")
	}
}

// Under maxmemory with allkeys-lru, entries and versions are evicted at
// random; the store may lose entries and fail, but never serves a stale one.
// With 1mb, Redis 7 is already over the limit with one go-redis connection
// and refuses every write: everything must fail open. With 2mb the cache
// works and evicts.
func TestEvictionNeverStale(t *testing.T) {
	for _, c := range []struct {
		maxmemory string
		mustWork  bool
	}{{"1mb", false}, {"2mb", true}} {
		t.Run(c.maxmemory, func(t *testing.T) {
			srv := testenv.StartRedis(t, "--maxmemory", c.maxmemory, "--maxmemory-policy", "allkeys-lru")
			s := newTestStore(t, srv.Addr(), Options{Timeout: 2 * time.Second, BreakerFailures: 1 << 30})
			hits, failures := churn(t, s)
			t.Logf("%d hits, %d refused operations", hits, failures)
			if !c.mustWork {
				return
			}
			raw := redis.NewClient(&redis.Options{Addr: srv.Addr()})
			defer raw.Close()
			info, err := raw.Info(context.Background(), "stats").Result()
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(info, "evicted_keys:0\r") {
				t.Fatal("nothing was evicted: the test proved nothing")
			}
			if hits == 0 {
				t.Fatal("no hits: the test proved nothing")
			}
		})
	}
}

// churn runs a sequential mix of reads and writes over 8 tags, checking
// every hit against the truth. A failed invalidation blocks its tag until a
// later one succeeds, as the invalidator does.
func churn(t *testing.T, s *Store) (hits, failures int) {
	ctx := context.Background()
	const tags = 8
	var truth [tags]int
	var blocked [tags]bool
	pad := strings.Repeat("x", 30000)
	for i := range 4000 {
		tag := i % tags
		name := "t" + strconv.Itoa(tag)
		key := name + "-" + strconv.Itoa(i%40)
		if i%25 == 0 {
			truth[tag]++
			blocked[tag] = s.InvalidateTags(ctx, name) != nil
			if blocked[tag] {
				failures++
			}
			continue
		}
		if blocked[tag] {
			continue // the caller reads the database
		}
		v, hit, st, err := s.Lookup(ctx, key, []string{name})
		if err != nil {
			failures++ // the caller reads the database and does not cache
			continue
		}
		if hit {
			hits++
			if got, want := strings.SplitN(string(v.([]byte)), "|", 2)[0], strconv.Itoa(truth[tag]); got != want {
				t.Fatalf("op %d: key %s served version %s, truth is %s", i, key, got, want)
			}
			continue
		}
		val := []byte(fmt.Sprintf("%d|%s", truth[tag], pad))
		if err := s.Set(ctx, key, val, len(val), 0, st); err != nil {
			failures++
		}
	}
	return hits, failures
}

// A dropped subscription turns L1 off and flushes it; an invalidation
// published while it was down is never missed.
func TestPubSubDropFlushesL1(t *testing.T) {
	srv := testenv.StartRedis(t)
	a := newL1Store(t, srv.Addr(), Options{Timeout: 2 * time.Second, L1Heartbeat: 200 * time.Millisecond})
	b := newTestStore(t, srv.Addr(), Options{Namespace: a.opt.Namespace, Timeout: 2 * time.Second})
	raw := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	defer raw.Close()
	ctx := context.Background()

	put(t, a, "k", "v1", "t")
	get(t, a, "k", "t") // remote hit, copied into L1
	l1 := a.RedisStats().L1Hits
	if got := get(t, a, "k", "t"); got != "v1" || a.RedisStats().L1Hits != l1+1 {
		t.Fatalf("second lookup: %q, L1 hits %d -> %d; want an L1 hit", got, l1, a.RedisStats().L1Hits)
	}

	// Kill the subscription and invalidate at once: the message may be
	// published while a is not subscribed.
	pipe := raw.Pipeline()
	pipe.ClientKillByFilter(ctx, "TYPE", "pubsub")
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatal(err)
	}
	if err := b.InvalidateTags(ctx, "t"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the drop noticed", func() bool { return a.RedisStats().L1Drops > 0 })
	waitFor(t, "resubscribed", func() bool { return a.RedisStats().L1Enabled })
	if got := get(t, a, "k", "t"); got != "" {
		t.Fatalf("after the drop and an invalidation: served %q", got)
	}

	// With Redis gone the subscription is down: L1 must not answer.
	put(t, a, "k", "v2", "t")
	get(t, a, "k", "t")
	if get(t, a, "k", "t") != "v2" {
		t.Fatal("no L1 hit before the outage")
	}
	srv.Stop()
	waitFor(t, "L1 off", func() bool { return !a.RedisStats().L1Enabled })
	l1 = a.RedisStats().L1Hits
	if _, hit, _, err := a.Lookup(ctx, "k", []string{"t"}); hit || err == nil || a.RedisStats().L1Hits != l1 {
		t.Fatalf("with the subscription down: hit=%v err=%v, L1 hits %d -> %d", hit, err, l1, a.RedisStats().L1Hits)
	}
	srv.Start()
	waitFor(t, "resubscribed after restart", func() bool { return a.RedisStats().L1Enabled })
}
