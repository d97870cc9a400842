package redisstore

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/yokedcache/yoked/internal/testenv"
	"github.com/yokedcache/yoked/tagstore/memory"
)

// l1Hit reports whether a Lookup of key was answered by s's L1, and what.
func l1Hit(t *testing.T, s *Store, key string, tags ...string) (string, bool) {
	t.Helper()
	before := s.RedisStats().L1Hits
	v := get(t, s, key, tags...)
	return v, s.RedisStats().L1Hits > before
}

// warmL1 reads key through s until s's L1 answers it (the copy made by a
// remote hit may become visible a little later).
func warmL1(t *testing.T, s *Store, key string, tags ...string) {
	t.Helper()
	waitFor(t, "an L1 hit", func() bool {
		_, l1 := l1Hit(t, s, key, tags...)
		return l1
	})
}

// waitWarm waits until s trusts acknowledgements: its subscription has
// been up for two fences, so it has heard every L1 that may answer.
func waitWarm(t *testing.T, s *Store) {
	t.Helper()
	if s.sub == nil {
		time.Sleep(2 * s.opt.L1Fence) // nothing to wait for: as long
		return
	}
	waitFor(t, "two fences of subscription", func() bool { return s.sub.upFor(2 * s.opt.L1Fence) })
}

// topology makes stores on one Redis or on a 3-master Cluster.
type topology struct {
	name  string
	store func(t *testing.T, opt Options) *Store // without L1
	l1    func(t *testing.T, opt Options) *Store // with L1, subscribed
	// client returns a client named name, for a store made with New.
	client func(name string) redis.UniversalClient
	// masters lists the nodes that may hold a subscription.
	masters []string
}

func topologies(t *testing.T, fresh bool) []topology {
	addr := testenv.Redis(t)
	if fresh {
		addr = testenv.StartRedis(t).Addr()
	}
	addrs := testenv.RedisCluster(t)
	return []topology{{
		name:    "single",
		store:   func(t *testing.T, opt Options) *Store { return newTestStore(t, addr, opt) },
		l1:      func(t *testing.T, opt Options) *Store { return newL1Store(t, addr, opt) },
		masters: []string{addr},
		client: func(name string) redis.UniversalClient {
			return redis.NewClient(&redis.Options{Addr: addr, ContextTimeoutEnabled: true, ClientName: name})
		},
	}, {
		name:    "cluster",
		store:   func(t *testing.T, opt Options) *Store { return newClusterStore(t, addrs, opt) },
		l1:      func(t *testing.T, opt Options) *Store { return newClusterL1Store(t, addrs, opt) },
		masters: addrs,
		client: func(name string) redis.UniversalClient {
			return redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs, ContextTimeoutEnabled: true, ClientName: name})
		},
	}}
}

// Every invalidation seen by another L1 store is acknowledged: none waits
// for the fence, and the other store's L1 has dropped the tag by the time
// InvalidateTags returns. This holds for a writer with an L1 and for one
// without (it hears the L1s' heartbeats and receives their
// acknowledgements on its own subscription), on one node and on a Cluster
// (sharded pub/sub in the namespace's slot, so that the publish counts
// every receiver). Before sharded pub/sub every Cluster invalidation, and
// every one by a writer without an L1, waited the whole fence.
func TestInvalidateWaitsForAcks(t *testing.T) {
	for _, top := range topologies(t, false) {
		for _, writerL1 := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s/writerL1=%v", top.name, writerL1), func(t *testing.T) {
				// A lost acknowledgement would show as a fence wait.
				opt := Options{L1Fence: 400 * time.Millisecond, InvalidateTimeout: 5 * time.Second, Namespace: testenv.Name("t")}
				var a *Store
				if writerL1 {
					a = top.l1(t, opt)
				} else {
					a = top.store(t, opt)
				}
				b := top.l1(t, opt)
				waitWarm(t, a)
				for i := range 30 {
					put(t, a, "k", "v", "t")
					warmL1(t, b, "k", "t")
					if err := a.InvalidateTags(context.Background(), "t"); err != nil {
						t.Fatal(err)
					}
					if v, _ := l1Hit(t, b, "k", "t"); v != "" {
						t.Fatalf("round %d: b served %q after a's invalidation returned", i, v)
					}
				}
				if w := a.RedisStats().FenceWaits; w != 0 {
					t.Fatalf("%d invalidations waited for the fence", w)
				}
			})
		}
	}
}

// A process whose subscription falls behind (its receive loop held back)
// does not acknowledge; the writer returns after L1Fence, and by then the
// slow process's L1 no longer answers, because its last pong is too old.
func TestFenceStopsASlowL1(t *testing.T) {
	addr := testenv.Redis(t)
	const fence = 150 * time.Millisecond
	a := newL1Store(t, addr, Options{L1Fence: fence})
	b := newL1Store(t, addr, Options{Namespace: a.opt.Namespace, L1Fence: fence})
	ctx := context.Background()

	put(t, a, "k", "v1", "t")
	warmL1(t, b, "k", "t")

	release := make(chan struct{})
	hold := func() { <-release }
	b.near.beforeMessage.Store(&hold)
	defer func() {
		b.near.beforeMessage.Store(nil)
		close(release)
	}()

	start := time.Now()
	if err := a.InvalidateTags(ctx, "t"); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took < fence {
		t.Fatalf("InvalidateTags returned after %v, before the fence (%v), without b's acknowledgement", took, fence)
	}
	if a.RedisStats().FenceWaits != 1 {
		t.Fatalf("FenceWaits = %d, want 1", a.RedisStats().FenceWaits)
	}
	// b has not applied the message (its loop is held), yet must not
	// answer from L1.
	v, l1 := l1Hit(t, b, "k", "t")
	if l1 || v != "" {
		t.Fatalf("b served %q (L1 %v) after the fence", v, l1)
	}
	if b.RedisStats().L1Enabled {
		t.Fatal("b reports its L1 as usable while fenced")
	}
}

// With Redis refusing writes for maxmemory, reads still work, and an
// invalidation must still reach every process: it deletes versions and
// publishes, neither of which needs memory.
func TestInvalidateUnderOOM(t *testing.T) {
	srv := testenv.StartRedis(t, "--maxmemory-policy", "noeviction")
	a := newTestStore(t, srv.Addr(), Options{BreakerFailures: 1 << 30})
	b := newL1Store(t, srv.Addr(), Options{Namespace: a.opt.Namespace, BreakerFailures: 1 << 30})
	c := newTestStore(t, srv.Addr(), Options{Namespace: a.opt.Namespace, BreakerFailures: 1 << 30})
	ctx := context.Background()
	put(t, a, "k", "v1", "t")
	if get(t, c, "k", "t") != "v1" {
		t.Fatal("no hit before OOM")
	}
	warmL1(t, b, "k", "t")

	raw := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	defer raw.Close()
	if err := raw.ConfigSet(ctx, "maxmemory", "1").Err(); err != nil {
		t.Fatal(err)
	}
	defer raw.ConfigSet(ctx, "maxmemory", "0")
	if err := raw.Set(ctx, "probe", "x", 0).Err(); err == nil || !strings.Contains(err.Error(), "OOM") {
		t.Fatalf("SET under maxmemory 1: %v, want OOM", err)
	}
	if get(t, c, "k", "t") != "v1" {
		t.Fatal("reads stopped under OOM: the test proves nothing")
	}
	if _, l1 := l1Hit(t, b, "k", "t"); !l1 {
		t.Fatal("no L1 hit in b under OOM")
	}

	if err := a.InvalidateTags(ctx, "t"); err != nil {
		t.Fatalf("InvalidateTags under OOM: %v", err)
	}
	for name, s := range map[string]*Store{"b (L1)": b, "c": c} {
		v, hit, _, err := s.Lookup(ctx, "k", []string{"t"})
		if hit {
			t.Fatalf("%s served %q after the invalidation under OOM", name, v)
		}
		// The missing version cannot be created under OOM: the Lookup
		// fails open, which the caller treats as "read the source".
		if err != nil && !strings.Contains(err.Error(), "OOM") {
			t.Fatalf("%s: %v", name, err)
		}
	}
	if err := a.InvalidateAll(ctx); err != nil {
		t.Fatalf("InvalidateAll under OOM: %v", err)
	}

	// Memory back: a fresh version is created and caching resumes.
	if err := raw.ConfigSet(ctx, "maxmemory", "0").Err(); err != nil {
		t.Fatal(err)
	}
	put(t, a, "k", "v2", "t")
	if got := get(t, c, "k", "t"); got != "v2" {
		t.Fatalf("after OOM: %q", got)
	}
}

// Root cause of stale L1 reads in TestStress after "restart empty" and
// "client kill pubsub" (issue 9): PUBLISH counts the subscribers present
// when it runs. An L1 whose subscription has just died, and which has not
// noticed yet, is not counted, yet answers until its fence runs out; the
// writer returned as soon as the counted acknowledgements arrived. The
// writer must also hear from every process whose heartbeat it saw lately.
//
// A writer without an L1 used to return at once when PUBLISH counted no
// receiver, whatever L1 was still answering; it now hears the heartbeats
// too. The same holds on a Cluster, where the subscription that dies is
// the sharded one on the namespace slot's master.
func TestUncountedL1IsWaitedFor(t *testing.T) {
	for _, top := range topologies(t, true) {
		for _, writerL1 := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s/writerL1=%v", top.name, writerL1), func(t *testing.T) {
				uncountedL1IsWaitedFor(t, top, writerL1)
			})
		}
	}
}

func uncountedL1IsWaitedFor(t *testing.T, top topology, writerL1 bool) {
	const fence = time.Second
	opt := Options{L1Fence: fence, InvalidateTimeout: 10 * time.Second, Timeout: 2 * time.Second, Namespace: testenv.Name("t")}
	var a *Store
	if writerL1 {
		a = top.l1(t, opt)
	} else {
		a = top.store(t, opt)
	}
	name := testenv.Name("yoked-b")
	bc := top.client(name)
	defer bc.Close()
	l1, err := memory.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	opt.L1 = l1
	b, err := New(bc, opt)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	waitFor(t, "b subscribed", func() bool { return b.RedisStats().L1Enabled })
	waitWarm(t, a)
	ctx := context.Background()
	put(t, a, "k", "v1", "t")
	warmL1(t, b, "k", "t")

	// b's receive loop stops at the next invalidation (of another tag), as
	// a busy process's might, so it will not notice its subscription die.
	release := make(chan struct{})
	held := make(chan struct{}, 1)
	hold := func() {
		select {
		case held <- struct{}{}:
		default:
		}
		<-release
	}
	b.near.beforeMessage.Store(&hold)
	defer func() {
		b.near.beforeMessage.Store(nil)
		close(release)
	}()
	go func() { _ = a.InvalidateTags(ctx, "x") }()
	<-held

	// Kill b's subscription: Redis no longer counts it.
	killed := 0
	var lists []string
	for _, addr := range top.masters {
		raw := redis.NewClient(&redis.Options{Addr: addr})
		list, err := raw.Do(ctx, "CLIENT", "LIST", "TYPE", "pubsub").Text()
		if err != nil {
			t.Fatal(err)
		}
		lists = append(lists, list)
		for _, line := range strings.Split(list, "\n") {
			if !strings.Contains(line, " name="+name+" ") {
				continue
			}
			for _, f := range strings.Fields(line) {
				if id, ok := strings.CutPrefix(f, "id="); ok {
					if err := raw.Do(ctx, "CLIENT", "KILL", "ID", id).Err(); err != nil {
						t.Fatal(err)
					}
					killed++
				}
			}
		}
		_ = raw.Close()
	}
	if killed != 1 {
		t.Fatalf("killed %d subscriptions of b:\n%s", killed, strings.Join(lists, "\n"))
	}
	start := time.Now()
	if err := a.InvalidateTags(ctx, "t"); err != nil {
		t.Fatal(err)
	}
	if v, l1 := l1Hit(t, b, "k", "t"); v != "" {
		t.Fatalf("b served %q (L1 %v) after a's invalidation returned (it took %v)", v, l1, time.Since(start))
	}
}
