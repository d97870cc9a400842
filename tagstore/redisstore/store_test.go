package redisstore

import (
	"context"
	"errors"
	"github.com/yokedcache/yoked/internal/testenv"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/yokedcache/yoked/tagstore"
	"github.com/yokedcache/yoked/tagstore/memory"
	"github.com/yokedcache/yoked/tagstore/storetest"
)

// newTestStore returns a Store on addr in a fresh namespace, flushed and
// closed at cleanup.
func newTestStore(t testing.TB, addr string, opt Options) *Store {
	t.Helper()
	return newStoreOn(t, redis.NewClient(&redis.Options{Addr: addr, ContextTimeoutEnabled: true}), opt)
}

// newClusterStore is newTestStore on the cluster of addrs.
func newClusterStore(t testing.TB, addrs []string, opt Options) *Store {
	t.Helper()
	return newStoreOn(t, redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs, ContextTimeoutEnabled: true}), opt)
}

// newStoreOn returns a Store on c in a fresh namespace, flushed and closed
// (with c) at cleanup.
func newStoreOn(t testing.TB, c redis.UniversalClient, opt Options) *Store {
	t.Helper()
	if opt.Namespace == "" {
		opt.Namespace = testenv.Name("t")
	}
	if opt.Timeout == 0 {
		opt.Timeout = 2 * time.Second // a loaded test machine is not a fault
	}
	s, err := New(c, opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Flush(context.Background()); errors.Is(err, tagstore.ErrClosed) {
			if again, err := New(c, Options{Namespace: opt.Namespace}); err == nil {
				_ = again.Flush(context.Background())
				_ = again.Close()
			}
		}
		_ = s.Close()
		_ = c.Del(context.Background(), s.pub.key).Err() // Close pushed the counters
		_ = c.Close()
	})
	return s
}

func TestContract(t *testing.T) {
	addr := testenv.Redis(t)
	storetest.Run(t, func(t *testing.T) tagstore.Store { return newTestStore(t, addr, Options{Timeout: 2e9}) })
}

// newL1Store is newTestStore with a memory L1, once its subscription is up.
func newL1Store(t testing.TB, addr string, opt Options) *Store {
	t.Helper()
	return subscribed(t, newTestStore(t, addr, withL1(t, opt)))
}

// newClusterL1Store is newL1Store on the cluster of addrs.
func newClusterL1Store(t testing.TB, addrs []string, opt Options) *Store {
	t.Helper()
	return subscribed(t, newClusterStore(t, addrs, withL1(t, opt)))
}

// withL1 is opt with a memory L1.
func withL1(t testing.TB, opt Options) Options {
	t.Helper()
	l1, err := memory.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	opt.L1 = l1
	if opt.L1Fence == 0 {
		opt.L1Fence = 500 * time.Millisecond // a loaded test machine is not a fault
	}
	return opt
}

// subscribed returns s once its L1 is subscribed.
func subscribed(t testing.TB, s *Store) *Store {
	t.Helper()
	waitFor(t, "L1 subscribed", func() bool { return s.RedisStats().L1Enabled })
	return s
}

// waitFor polls cond for up to 5s.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func TestContractL1(t *testing.T) {
	addr := testenv.Redis(t)
	storetest.Run(t, func(t *testing.T) tagstore.Store { return newL1Store(t, addr, Options{Timeout: 2e9}) })
}

func TestContractCluster(t *testing.T) {
	addrs := testenv.RedisCluster(t)
	url := "redis-cluster://" + addrs[0] + "?addr=" + addrs[1] + "&addr=" + addrs[2]
	storetest.Run(t, func(t *testing.T) tagstore.Store {
		s, err := NewFromURL(url+"&namespace="+testenv.Name("t")+"&timeout=2s", Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close() })
		return s
	})
	// Entries spread over the nodes while versions share one slot.
	s, err := NewFromURL(url, Options{Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	for i := range 60 {
		key := "spread-" + strconv.Itoa(i)
		_, _, st, err := s.Lookup(ctx, key, []string{"a", "b", "c"})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Set(ctx, key, []byte("v"), 1, 0, st); err != nil {
			t.Fatal(err)
		}
	}
	var nodes atomic.Int32
	err = s.Client().(*redis.ClusterClient).ForEachMaster(ctx, func(ctx context.Context, n *redis.Client) error {
		keys, _, err := n.Scan(ctx, 0, s.eprefix+"*", 1000).Result()
		if len(keys) > 0 {
			nodes.Add(1)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if nodes.Load() < 2 {
		t.Errorf("60 entries landed on %d master(s), want them spread", nodes.Load())
	}
	// The operator methods walk every master.
	if infos, err := s.Keys(ctx, "spread-*", 0); err != nil || len(infos) != 60 {
		t.Errorf("Keys on a cluster: %d keys, %v", len(infos), err)
	}
	if e, v, _, err := s.Usage(ctx); err != nil || e != 60 || v != 4 {
		t.Errorf("Usage on a cluster: %d entries, %d versions, %v; want 60, 4", e, v, err)
	}
	if st, err := s.SharedStats(ctx); err != nil || st.Misses != 60 || st.Sets != 60 {
		t.Errorf("SharedStats on a cluster: %+v, %v", st, err)
	}
}

func TestNamespacesIsolated(t *testing.T) {
	addr := testenv.Redis(t)
	a := newTestStore(t, addr, Options{})
	b := newTestStore(t, addr, Options{})
	ctx := context.Background()
	_, _, st, err := a.Lookup(ctx, "k", []string{"t"})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Set(ctx, "k", []byte("a"), 1, 0, st); err != nil {
		t.Fatal(err)
	}
	if _, hit, _, err := b.Lookup(ctx, "k", []string{"t"}); hit || err != nil {
		t.Fatalf("namespace b sees a's entry: hit=%v err=%v", hit, err)
	}
	if err := b.InvalidateAll(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := b.InvalidatePattern(ctx, "*"); err != nil {
		t.Fatal(err)
	}
	if err := b.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if v, hit, _, err := a.Lookup(ctx, "k", []string{"t"}); !hit || err != nil || string(v.([]byte)) != "a" {
		t.Fatalf("b's invalidations reached a: v=%v hit=%v err=%v", v, hit, err)
	}
}

func TestBadOptions(t *testing.T) {
	addr := testenv.Redis(t)
	for _, ns := range []string{"a:b", "{x}", "sp ace", string(make([]byte, 65))} {
		if _, err := New(redis.NewClient(&redis.Options{Addr: addr}), Options{Namespace: ns}); err == nil {
			t.Errorf("namespace %q accepted", ns)
		}
	}
	for _, u := range []string{"http://x", "redis://" + addr + "?timeout=-1s", "redis://" + addr + "?bogus=1", "::"} {
		if s, err := NewFromURL(u, Options{}); err == nil {
			s.Close()
			t.Errorf("URL %q accepted", u)
		}
	}
	if _, err := New(nil, Options{}); err == nil {
		t.Error("nil client accepted")
	}
}

func TestCorruptEntryIsMiss(t *testing.T) {
	addr := testenv.Redis(t)
	var logged strings.Builder
	s := newTestStore(t, addr, Options{Logger: slog.New(slog.NewTextHandler(&logged, nil))})
	ctx := context.Background()
	raw := redis.NewClient(&redis.Options{Addr: addr})
	defer raw.Close()
	_, _, st, err := s.Lookup(ctx, "k", []string{"t"})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Set(ctx, "k", []byte("good"), 4, 0, st); err != nil {
		t.Fatal(err)
	}
	good, err := raw.Get(ctx, s.entryKey("k")).Bytes()
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		raw  []byte
	}{
		{"garbage", []byte("not an entry")},
		{"empty", nil},
		{"future format", append([]byte{entryMagic, 9}, good[2:]...)},
		{"truncated", good[:len(good)-6]},
		{"huge tag count", []byte{entryMagic, entryVersion, 0xff, 0xff, 0xff, 0xff, 0x0f}},
		{"bad value", append(good[:len(good)-5:len(good)-5], 'x')},
	}
	for _, c := range cases {
		before := s.RedisStats().Corrupt
		if err := raw.Set(ctx, s.entryKey("k"), c.raw, 0).Err(); err != nil {
			t.Fatal(err)
		}
		v, hit, st, err := s.Lookup(ctx, "k", []string{"t"})
		if err != nil || hit || !st.Valid() {
			t.Errorf("%s: Lookup = %v, hit=%v, stamp valid=%v, err=%v; want a clean miss", c.name, v, hit, st.Valid(), err)
		}
		if s.RedisStats().Corrupt <= before {
			t.Errorf("%s: not counted as corrupt", c.name)
		}
	}
	if !strings.Contains(logged.String(), "undecodable entry") {
		t.Errorf("corruption not logged; log: %q", logged.String())
	}
}

// tripHook records the commands of each round trip that reads entries or
// versions (the background counters' pushes and the run_id check, which
// follows every new connection, are left out).
type tripHook struct {
	epochKey string

	mu    sync.Mutex
	trips []string
}

func (h *tripHook) record(cmds []redis.Cmder) {
	names := make([]string, len(cmds))
	keep := false
	for i, c := range cmds {
		names[i] = c.Name()
		switch names[i] {
		case "evalsha", "eval":
			if a := c.Args(); len(a) > 3 && a[3] == h.epochKey {
				return
			}
			keep = true
		case "get", "mget":
			keep = true
		}
	}
	if keep {
		h.mu.Lock()
		h.trips = append(h.trips, strings.Join(names, "+"))
		h.mu.Unlock()
	}
}

func (h *tripHook) take() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	t := h.trips
	h.trips = nil
	return t
}

func (*tripHook) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h *tripHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		h.record([]redis.Cmder{cmd})
		return next(ctx, cmd)
	}
}
func (h *tripHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		h.record(cmds)
		return next(ctx, cmds)
	}
}

// A hit is one round trip that runs no script (GET of the entry and MGET
// of the versions); so is a miss whose tags all have versions. Only a miss
// that must create versions takes a second one, without a script either
// (SET NX of the missing version, MGET of all).
func TestLookupRoundTrips(t *testing.T) {
	s := newTestStore(t, testenv.Redis(t), Options{})
	h := &tripHook{epochKey: s.epochKey}
	s.Client().AddHook(h)
	ctx := context.Background()
	tags := []string{"users", "orders"}
	lookup := func(key string) (bool, []string) {
		t.Helper()
		_, hit, st, err := s.Lookup(ctx, key, tags)
		if err != nil {
			t.Fatal(err)
		}
		if !hit && !st.Valid() {
			t.Fatalf("Lookup(%q): a miss without a valid stamp", key)
		}
		return hit, h.take()
	}
	put(t, s, "k", "v", tags...) // creates the versions (and runs the run_id check)
	h.take()
	want := []string{"get+mget"}
	if hit, trips := lookup("k"); !hit || !slices.Equal(trips, want) {
		t.Errorf("hit: hit=%v, round trips %q; want a hit in %q", hit, trips, want)
	}
	if hit, trips := lookup("other"); hit || !slices.Equal(trips, want) {
		t.Errorf("miss with versions: hit=%v, round trips %q; want a miss in %q", hit, trips, want)
	}
	if err := s.InvalidateTags(ctx, "orders"); err != nil {
		t.Fatal(err)
	}
	h.take()
	hit, trips := lookup("k")
	if want2 := []string{"get+mget", "set+mget"}; hit || !slices.Equal(trips, want2) {
		t.Errorf("after an invalidation: hit=%v, round trips %q; want a miss in %q (no script)", hit, trips, want2)
	}
	put(t, s, "k", "v2", tags...)
	h.take()
	if v := get(t, s, "k", tags...); v != "v2" {
		t.Errorf("refilled entry: got %q, want v2", v)
	}
	if trips := h.take(); !slices.Equal(trips, want) {
		t.Errorf("hit after the refill: round trips %q, want %q", trips, want)
	}
}

// Tag versions expire (Options.VersionTTL), the namespace version never:
// an entry whose version expired is a miss, never served, and the next
// reader's version is a fresh one.
func TestVersionsExpire(t *testing.T) {
	addr := testenv.Redis(t)
	s := newTestStore(t, addr, Options{VersionTTL: 300 * time.Millisecond})
	ctx := context.Background()
	put(t, s, "k", "v", "row:t(id=1)")
	if got := get(t, s, "k", "row:t(id=1)"); got != "v" {
		t.Fatalf("before expiry: %q", got)
	}
	c := redis.NewClient(&redis.Options{Addr: addr})
	defer c.Close()
	if ttl := c.PTTL(ctx, s.vprefix+"row:t(id=1)").Val(); ttl <= 0 || ttl > 300*time.Millisecond {
		t.Fatalf("row version TTL %v, want (0, 300ms]", ttl)
	}
	if ttl := c.PTTL(ctx, s.allKey).Val(); ttl != -1 {
		t.Fatalf("namespace version TTL %v, want none", ttl)
	}
	old := c.Get(ctx, s.vprefix+"row:t(id=1)").Val()
	time.Sleep(400 * time.Millisecond)
	if got := get(t, s, "k", "row:t(id=1)"); got != "" {
		t.Fatalf("served %q after its version expired", got)
	}
	if cur := c.Get(ctx, s.vprefix+"row:t(id=1)").Val(); cur == "" || cur == old {
		t.Fatalf("version after expiry %q, before %q: want a fresh one", cur, old)
	}
}

// delBetween is a hook that, in the pipeline creating missing versions
// (SET NX…, MGET), deletes key after the SETs: as if a write invalidated
// the version just created before it was read back.
type delBetween struct {
	key   string
	fired atomic.Bool
}

func (*delBetween) DialHook(next redis.DialHook) redis.DialHook          { return next }
func (*delBetween) ProcessHook(next redis.ProcessHook) redis.ProcessHook { return next }
func (d *delBetween) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if len(cmds) < 2 || cmds[0].Name() != "set" || cmds[len(cmds)-1].Name() != "mget" || d.fired.Load() {
			return next(ctx, cmds)
		}
		d.fired.Store(true)
		n := len(cmds) - 1
		with := append(append(slices.Clone(cmds[:n]), redis.NewIntCmd(ctx, "del", d.key)), cmds[n])
		return next(ctx, with)
	}
}

// A version created by the reader and deleted again before it read it
// back is created by the script instead: the stamp has every version, as
// they were after the deletion.
func TestStampVersionDeletedWhileCreated(t *testing.T) {
	s := newTestStore(t, testenv.Redis(t), Options{})
	ctx := context.Background()
	if _, err := s.Stamp(ctx, []string{"a"}); err != nil { // run_id check, namespace version
		t.Fatal(err)
	}
	d := &delBetween{key: s.vprefix + "b"}
	s.Client().AddHook(d)
	st, err := s.Stamp(ctx, []string{"a", "b"})
	if err != nil {
		t.Fatal(err)
	}
	if !d.fired.Load() {
		t.Fatal("the version was not created by a SET NX pipeline")
	}
	cur, err := s.c.Get(ctx, s.vprefix+"b").Result()
	if err != nil {
		t.Fatalf("version of b after the stamp: %v", err)
	}
	if got := formatVersion(st.Versions[2]); got != cur {
		t.Errorf("stamp has version %q of b, Redis %q", got, cur)
	}
}
