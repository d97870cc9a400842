package prom_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	_ "github.com/mattn/go-sqlite3"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/yokedcache/yoked/driver"
	"github.com/yokedcache/yoked/metrics/prom"
	"github.com/yokedcache/yoked/tagstore/memory"
)

// TestCollectorFollowsARealCache drives a yoked SQLite DB and checks that
// every counter the collector exports moves as the cache does.
func TestCollectorFollowsARealCache(t *testing.T) {
	store, err := memory.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	db, err := driver.Open("sqlite3", "file:"+filepath.Join(t.TempDir(), "m.db"), driver.WithStore(store))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	ctx := context.Background()
	mustExec := func(q string, args ...any) {
		if _, err := db.ExecContext(ctx, q, args...); err != nil {
			t.Fatal(err)
		}
	}
	read := func(ctx context.Context) {
		var n int
		if err := db.QueryRowContext(ctx, "SELECT count(*) FROM t WHERE id > ?", 0).Scan(&n); err != nil {
			t.Fatal(err)
		}
	}
	mustExec("CREATE TABLE t (id INTEGER PRIMARY KEY)")
	mustExec("INSERT INTO t (id) VALUES (1), (2)")

	cache, err := driver.CacheOf(db)
	if err != nil {
		t.Fatal(err)
	}
	c := prom.NewCollector(cache, prom.Opts{ConstLabels: prometheus.Labels{"cache": "test"}})
	if problems, err := testutil.CollectAndLint(c); err != nil || len(problems) > 0 {
		t.Fatalf("lint: %v %v", err, problems)
	}
	base := cache.Stats()

	read(ctx)                                    // miss, stored
	read(ctx)                                    // hit
	read(ctx)                                    // hit
	read(driver.SkipCache(ctx))                  // skip: context
	mustExec("UPDATE t SET id = 3 WHERE id = 2") // invalidation
	read(ctx)                                    // miss again

	want := map[string]float64{
		"yoked_cache_hits_total":          float64(base.Hits + 2),
		"yoked_cache_misses_total":        float64(base.Misses + 2),
		"yoked_cache_stores_total":        float64(base.Stores + 2),
		"yoked_cache_invalidations_total": float64(base.Invalidations + 1),
	}
	for name, v := range want {
		got, err := gather(c, name, "")
		if err != nil {
			t.Fatal(err)
		}
		if got != v {
			t.Errorf("%s = %v, want %v", name, got, v)
		}
	}
	if got, err := gather(c, "yoked_cache_skips_total", "context"); err != nil || got != float64(base.Skips["context"]+1) {
		t.Errorf("skips{reason=context} = %v (%v), want %d", got, err, base.Skips["context"]+1)
	}
	// The memory store knows its size: the gauges are exported and positive.
	if got, err := gather(c, "yoked_store_entries", ""); err != nil || got < 1 {
		t.Errorf("store_entries = %v (%v)", got, err)
	}
	if got, err := gatherLabel(c, "yoked_table_hits_total", "table", "t"); err != nil || got != float64(base.Tables["table:t"].Hits+2) {
		t.Errorf("table_hits_total{table=t} = %v (%v), want %d", got, err, base.Tables["table:t"].Hits+2)
	}
	if n := testutil.CollectAndCount(c, "yoked_invalidations_pending"); n != 1 {
		t.Errorf("invalidations_pending exported %d times", n)
	}
}

// gather returns the value of one metric (with reason label when given).
func gather(c prometheus.Collector, name, reason string) (float64, error) {
	if reason == "" {
		return gatherLabel(c, name, "", "")
	}
	return gatherLabel(c, name, "reason", reason)
}

// gatherLabel returns the value of one metric, of the series whose label
// has value (any series when label is "").
func gatherLabel(c prometheus.Collector, name, label, value string) (float64, error) {
	reg := prometheus.NewPedanticRegistry()
	if err := reg.Register(c); err != nil {
		return 0, err
	}
	mfs, err := reg.Gather()
	if err != nil {
		return 0, err
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			match := label == ""
			for _, l := range m.GetLabel() {
				if l.GetName() == label && l.GetValue() == value {
					match = true
				}
			}
			if !match {
				continue
			}
			if m.Counter != nil {
				return m.Counter.GetValue(), nil
			}
			return m.Gauge.GetValue(), nil
		}
	}
	return -1, nil
}

func TestNamespaceOption(t *testing.T) {
	c := prom.NewCollector(fixed{}, prom.Opts{Namespace: "app"})
	const want = `
# HELP app_cache_hits_total Reads served from the cache.
# TYPE app_cache_hits_total counter
app_cache_hits_total 7
`
	if err := testutil.CollectAndCompare(c, strings.NewReader(want), "app_cache_hits_total"); err != nil {
		t.Error(err)
	}
	// A store that cannot count its entries exports no size gauges.
	if n := testutil.CollectAndCount(c, "app_store_entries", "app_store_bytes"); n != 0 {
		t.Errorf("size gauges exported for a store that reports -1: %d", n)
	}
}

type fixed struct{}

func (fixed) Stats() driver.Stats {
	s := driver.Stats{Hits: 7}
	s.Store.Entries, s.Store.Bytes = -1, -1
	return s
}
