package benchsuite

import (
	"context"
	"database/sql"
	"testing"
	"time"

	yoked "github.com/yokedcache/yoked/driver"
	"github.com/yokedcache/yoked/internal/staleness"
	"github.com/yokedcache/yoked/internal/stress"
	"github.com/yokedcache/yoked/internal/testenv"
	"github.com/yokedcache/yoked/tagstore/memory"
)

// BenchmarkMixed is 16 goroutines doing 95% reads (zipf-distributed over
// 1000 rows, one row or a range of four) and 5% writes (autocommit and
// transactions, some rolled back) on PostgreSQL, raw and through yoked. Every
// operation is recorded and the history checked: the "stale" metric is the
// checker's count of reads a correct cache could not have returned, and
// "ops/s" the throughput.
func BenchmarkMixed(b *testing.B) {
	for _, variant := range []string{"raw", "memory", "redis"} {
		b.Run("postgres/"+variant, func(b *testing.B) {
			dsn := testenv.PostgresSchema(b)
			raw, err := sql.Open("pgx", dsn)
			if err != nil {
				b.Fatal(err)
			}
			defer raw.Close()
			ctx := context.Background()
			if err := stress.Schema(ctx, raw, 1000); err != nil {
				b.Fatal(err)
			}
			db := raw
			switch variant {
			case "memory":
				store, err := memory.New(nil)
				if err != nil {
					b.Fatal(err)
				}
				defer store.Close()
				if db, err = yoked.Open("pgx", dsn, yoked.WithStore(store)); err != nil {
					b.Fatal(err)
				}
				defer db.Close()
			case "redis":
				url := "redis://" + testenv.Redis(b) + "/0?l1=false&namespace=" + testenv.Name("bench_")
				if db, err = yoked.Open("pgx", dsn, yoked.WithStoreURL(url)); err != nil {
					b.Fatal(err)
				}
				defer db.Close()
			}
			db.SetMaxOpenConns(16)
			db.SetMaxIdleConns(16)
			rec := &staleness.Recorder{}
			wl := &stress.Workload{DB: db, Rows: 1000, Mixed: 16, ReadRatio: 0.95, Zipf: 1.1, Limit: int64(b.N), Rec: rec}
			b.ResetTimer()
			start := time.Now()
			wl.Run(ctx)
			elapsed := time.Since(start)
			b.StopTimer()
			if n, first := wl.Errors(); n > 0 {
				b.Fatalf("%d errors, first: %q", n, first)
			}
			rep, err := stress.Check(ctx, raw, rec.Ops())
			if err != nil {
				b.Fatal(err)
			}
			ops := wl.Reads.Load() + wl.Writes.Load()
			b.ReportMetric(float64(ops)/elapsed.Seconds(), "ops/s")
			b.ReportMetric(float64(rep.Stale()), "stale")
			if cache, err := yoked.CacheOf(db); err == nil {
				b.ReportMetric(float64(cache.Stats().Hits)/float64(wl.Reads.Load()), "hits/read")
			}
			if rep.Stale() > 0 {
				b.Errorf("%s", rep)
			}
		})
	}
}
