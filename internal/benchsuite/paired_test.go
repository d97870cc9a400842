package benchsuite

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"testing"
	"time"

	yoked "github.com/yokedcache/yoked/driver"
	"github.com/yokedcache/yoked/tagstore/memory"
)

// BenchmarkPaired measures what yoked (memory store) adds to an operation,
// in one loop: each iteration runs the base operation and the yoked one,
// each first in turn, and the medians (µs) and their ratio are reported, so
// that load on a shared machine moves both sides alike. "hit" is the
// primary-key read served from the cache against the same read on the
// database/sql floor (a driver that does nothing); "miss" the read under
// yoked.Refresh (stamp, read, store) against raw PostgreSQL; "write" an
// autocommit UPDATE of one row against raw PostgreSQL. miss/floor and
// write/floor run yoked over the no-op driver (no catalog, so table tags)
// against the no-op driver alone: what yoked's own work costs, without a
// database whose latency hides or exaggerates it.
// Targets (issue 11): a hit ≤ 2× the floor, a miss ≤ 1.10× raw, a write
// ≤ 1.05× raw.
func BenchmarkPaired(b *testing.B) {
	ctx := context.Background()
	raw := open(b, "postgres", "raw")
	floor, err := sql.Open("benchsuite-floor", "")
	if err != nil {
		b.Fatal(err)
	}
	defer floor.Close()
	fstore, err := memory.New(nil)
	if err != nil {
		b.Fatal(err)
	}
	defer fstore.Close()
	yfloor, err := yoked.Open("benchsuite-floor", "", yoked.WithStore(fstore), yoked.WithDialect("postgres"),
		yoked.WithoutCatalog(), yoked.WithIdentity("floor"))
	if err != nil {
		b.Fatal(err)
	}
	defer yfloor.Close()
	fcache, err := yoked.CacheOf(yfloor)
	if err != nil {
		b.Fatal(err)
	}
	db := open(b, "postgres", "memory")
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	err = yoked.WaitCatalog(wctx, db)
	cancel()
	if err != nil {
		b.Fatal(err)
	}
	cache, err := yoked.CacheOf(db)
	if err != nil {
		b.Fatal(err)
	}
	var id int64
	var name string
	miss := func(db *sql.DB, ctx context.Context) func() error {
		return func() error { return db.QueryRowContext(ctx, pkQuery, 1).Scan(&id, &name) }
	}
	n := 0
	update := func(db *sql.DB) func() error {
		return func() error {
			n++
			_, err := db.ExecContext(ctx, write, fmt.Sprint("n", n))
			return err
		}
	}
	if err := miss(db, ctx)(); err != nil { // fills the entry of "hit"
		b.Fatal(err)
	}
	const (
		hits = iota
		stores
		invalidations
	)
	for _, c := range []struct {
		name        string
		base, yoked func() error
		cache       *yoked.Cache
		counts      int // what each yoked operation must add to
	}{
		{"hit", miss(floor, ctx), miss(db, ctx), cache, hits},
		{"miss/postgres", miss(raw, ctx), miss(db, yoked.Refresh(ctx)), cache, stores},
		{"write/postgres", update(raw), update(db), cache, invalidations},
		{"miss/floor", miss(floor, ctx), miss(yfloor, yoked.Refresh(ctx)), fcache, stores},
		{"write/floor", update(floor), update(yfloor), fcache, invalidations},
	} {
		b.Run(c.name, func(b *testing.B) {
			cache := c.cache
			before := cache.Stats()
			steps := [2]func() error{c.base, c.yoked}
			var times [2][]time.Duration
			for i := 0; b.Loop(); i++ {
				for j := range steps {
					k := (i + j) % 2
					t0 := time.Now()
					if err := steps[k](); err != nil {
						b.Fatal(err)
					}
					times[k] = append(times[k], time.Since(t0))
				}
			}
			after := cache.Stats()
			got := [...]uint64{after.Hits - before.Hits, after.Stores - before.Stores, after.Invalidations - before.Invalidations}[c.counts]
			if got != uint64(b.N) {
				b.Fatalf("%d operations: %d %s", b.N, got, [...]string{"hits", "stores", "invalidations"}[c.counts])
			}
			var med, mean [2]float64
			for k := range times {
				var sum time.Duration
				for _, t := range times[k] {
					sum += t
				}
				mean[k] = float64(sum) / float64(len(times[k]))
				slices.Sort(times[k])
				med[k] = float64(times[k][len(times[k])/2])
			}
			b.ReportMetric(med[0]/1e3, "base-µs")
			b.ReportMetric(med[1]/1e3, "yoked-µs")
			b.ReportMetric(med[1]/med[0], "yoked/base")
			b.ReportMetric(mean[1]/mean[0], "mean-yoked/base")
		})
	}
}
