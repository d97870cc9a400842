package benchsuite

import (
	"context"
	"database/sql"
	"slices"
	"testing"
	"time"

	yoked "github.com/yokedcache/yoked/driver"
	"github.com/yokedcache/yoked/tagstore/redisstore"
)

// BenchmarkL1Hit compares a PostgreSQL primary-key read served by the Redis
// store's L1 (the default for redis:// URLs) with the database/sql floor:
// the two reads alternate in each iteration (each first in turn) and the
// medians (µs) and their ratio are reported, which a shared, noisy machine
// disturbs least. Target (issue 11): l1/floor ≤ 3.
func BenchmarkL1Hit(b *testing.B) {
	ctx := context.Background()
	floor, err := sql.Open("benchsuite-floor", "")
	if err != nil {
		b.Fatal(err)
	}
	defer floor.Close()
	db := open(b, "postgres", "redis+l1")
	cache, err := yoked.CacheOf(db)
	if err != nil {
		b.Fatal(err)
	}
	s, ok := cache.Store().(*redisstore.Store)
	if !ok {
		b.Fatalf("store is %T, not the Redis store", cache.Store())
	}
	var id int64
	var name string
	read := func(db *sql.DB) func() {
		return func() {
			if err := db.QueryRowContext(ctx, pkQuery, 1).Scan(&id, &name); err != nil {
				b.Fatal(err)
			}
		}
	}
	// Reads bypass the cache until the catalog is loaded; then a miss
	// fills Redis, a Redis hit fills the L1 and the L1 answers.
	for deadline := time.Now().Add(30 * time.Second); s.RedisStats().L1Hits == 0; {
		if time.Now().After(deadline) {
			b.Fatalf("no L1 hit within 30s: %+v", s.RedisStats())
		}
		read(db)()
		time.Sleep(time.Millisecond)
	}
	before := s.RedisStats().L1Hits
	b.ReportAllocs()
	med := interleave(b, read(floor), read(db))
	b.ReportMetric(float64(s.RedisStats().L1Hits-before)/float64(b.N), "l1-hits/op")
	b.ReportMetric(med[0]/1e3, "floor-µs")
	b.ReportMetric(med[1]/1e3, "l1-µs")
	b.ReportMetric(med[1]/med[0], "l1/floor")
}

// interleave runs steps one after the other in each iteration of b's loop,
// each first in turn, and returns the median time of each (ns).
func interleave(b *testing.B, steps ...func()) []float64 {
	times := make([][]time.Duration, len(steps))
	for n := 0; b.Loop(); n++ {
		for j := range steps {
			i := (n + j) % len(steps)
			t0 := time.Now()
			steps[i]()
			times[i] = append(times[i], time.Since(t0))
		}
	}
	med := make([]float64, len(steps))
	for i := range times {
		slices.Sort(times[i])
		med[i] = float64(times[i][len(times[i])/2])
	}
	return med
}
