package changefeed_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/yokedcache/yoked/changefeed"
	yoked "github.com/yokedcache/yoked/driver"
	"github.com/yokedcache/yoked/internal/testenv"
	"github.com/yokedcache/yoked/tagstore"
	"github.com/yokedcache/yoked/tagstore/memory"
	"github.com/yokedcache/yoked/tagstore/redisstore"
)

// tableTag is the driver's tag, so the feed invalidates what readers cached.
func tableTag(schema, table string) string { return yoked.TableTag(schema + "." + table) }

func newMemory(t testing.TB) *memory.Store {
	t.Helper()
	s, err := memory.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// running is a watcher started by a test.
type running struct {
	w      *changefeed.Watcher
	cancel context.CancelFunc
	done   chan error
}

// stop ends the watcher and waits for Run to return.
func (r *running) stop(t testing.TB) {
	t.Helper()
	r.cancel()
	select {
	case err := <-r.done:
		if err != nil {
			t.Errorf("Run: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Run did not return within 20 s of its context ending")
	}
	r.done <- nil // later stops return at once
}

func start(t testing.TB, cfg changefeed.Config) *running {
	t.Helper()
	if cfg.TableTag == nil {
		cfg.TableTag = tableTag
	}
	if cfg.SchemaTag == nil {
		cfg.SchemaTag = yoked.SchemaTag
	}
	w, err := changefeed.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{w: w, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- w.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-r.done
	})
	return r
}

// cached stores an entry tagged with tags and returns its key.
func cached(t testing.TB, s tagstore.Store, tags ...string) string {
	t.Helper()
	ctx := context.Background()
	key := fmt.Sprintf("k%d", time.Now().UnixNano())
	_, _, st, err := s.Lookup(ctx, key, tags)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Set(ctx, key, []byte("v"), 1, time.Hour, st); err != nil {
		t.Fatal(err)
	}
	if !present(t, s, key, tags...) {
		t.Fatal("entry not stored")
	}
	return key
}

func present(t testing.TB, s tagstore.Store, key string, tags ...string) bool {
	t.Helper()
	_, hit, _, err := s.Lookup(context.Background(), key, tags)
	if err != nil {
		return false
	}
	return hit
}

// eventually fails t unless cond holds within d.
func eventually(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %v: %s", d, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// heartbeat reads the heartbeat mark (zero time when there is none).
func heartbeat(t testing.TB, s changefeed.Coordinator) time.Time {
	t.Helper()
	b, err := s.Mark(context.Background(), changefeed.HeartbeatMark)
	if err != nil || b == nil {
		return time.Time{}
	}
	hb, _, err := changefeed.ParseHeartbeat(b)
	if err != nil {
		t.Fatal(err)
	}
	return hb
}

func redisStore(t testing.TB, addr string) *redisstore.Store {
	t.Helper()
	return redisStoreNS(t, addr, testenv.Name("cf"))
}

// redisStoreNS opens a store for watchers, without an L1, as yokedcache
// watch does.
func redisStoreNS(t testing.TB, addr, ns string) *redisstore.Store {
	t.Helper()
	return redisStoreOpt(t, addr, redisstore.Options{Namespace: ns})
}

// redisStoreOpt opens a Redis store on addr with opt, closed at cleanup.
func redisStoreOpt(t testing.TB, addr string, opt redisstore.Options) *redisstore.Store {
	t.Helper()
	s, err := redisstore.NewFromURL("redis://"+addr, opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// versions returns the current versions of tags (a bumped tag has a new one).
func versions(t testing.TB, s tagstore.Store, tags []string) []uint64 {
	t.Helper()
	st, err := s.Stamp(context.Background(), tags)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]uint64, len(tags))
	for i, tag := range tags {
		for j, u := range st.Tags {
			if u == tag {
				out[i] = st.Versions[j]
			}
		}
	}
	return out
}

// checkWrite caches an entry under each tag, runs write, and checks that the
// entries of gone are invalidated and, once a heartbeat later than the write
// proves the stream is past it, that those of stays are not.
func checkWrite(t *testing.T, store *memory.Store, gone, stays []string, write func()) {
	t.Helper()
	keys := map[string]string{}
	for _, tag := range append(append([]string{}, gone...), stays...) {
		keys[tag] = cached(t, store, tag)
	}
	write()
	for _, tag := range gone {
		eventually(t, 5*time.Second, tag+" invalidated", func() bool { return !present(t, store, keys[tag], tag) })
	}
	after := time.Now()
	eventually(t, 5*time.Second, "heartbeat after the write", func() bool { return heartbeat(t, store).After(after) })
	for _, tag := range stays {
		if !present(t, store, keys[tag], tag) {
			t.Errorf("%s invalidated", tag)
		}
	}
}
