package benchsuite

import (
	"context"
	"database/sql"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	yoked "github.com/yokedcache/yoked/driver"
	"github.com/yokedcache/yoked/internal/staleness"
	"github.com/yokedcache/yoked/internal/stress"
	"github.com/yokedcache/yoked/internal/testenv"
	"github.com/yokedcache/yoked/tagstore/memory"
)

// mixedRows is the table size of BenchmarkMixed (issue 11: zipf reads over
// 10,000 rows); YOKED_MIXED_ROWS overrides it.
func mixedRows() int {
	if n, err := strconv.Atoi(os.Getenv("YOKED_MIXED_ROWS")); err == nil && n > 1 {
		return n
	}
	return 10000
}

// BenchmarkMixed is 16 goroutines doing 95% reads (zipf-distributed over
// 10,000 rows, one row by key or a range of four) and 5% writes (autocommit
// and transactions, some rolled back; rows chosen uniformly) on PostgreSQL,
// raw and through yoked. Every operation is recorded and the history
// checked: the "stale" metric is the checker's count of reads a correct
// cache could not have returned, and "ops/s" the throughput. The cached
// variants wait for the schema catalog before the run and report their hit
// ratio split by read form (keyed/scan) and the bypasses by reason.
//
// "redis" is the Redis store without L1 and with table tags, "redis+rows"
// the same with row tags on, and "redis+l1+rows" the Redis defaults (L1 and
// row tags on).
//
// writes-only is the raw database under the same writes alone (ReadRatio 0):
// even if every read were free, 16 goroutines can do no more than 20× its
// ops/s in a mix of 5% writes, which bounds what any cache can reach here.
func BenchmarkMixed(b *testing.B) {
	rowsN := mixedRows()
	for _, variant := range []string{"raw", "writes-only", "memory", "redis", "redis+rows", "redis+l1+rows"} {
		b.Run("postgres/"+variant, func(b *testing.B) {
			dsn := testenv.PostgresSchema(b)
			raw, err := sql.Open("pgx", dsn)
			if err != nil {
				b.Fatal(err)
			}
			defer raw.Close()
			ctx := context.Background()
			if err := stress.Schema(ctx, raw, rowsN); err != nil {
				b.Fatal(err)
			}
			db := raw
			obs := &mixedObserver{}
			redisAddr := ""
			switch variant {
			case "memory":
				store, err := memory.New(nil)
				if err != nil {
					b.Fatal(err)
				}
				defer store.Close()
				if db, err = yoked.Open("pgx", dsn, yoked.WithStore(store), yoked.WithObserver(obs)); err != nil {
					b.Fatal(err)
				}
				defer db.Close()
			case "redis", "redis+rows", "redis+l1+rows":
				redisAddr = testenv.Redis(b)
				l1 := strconv.FormatBool(variant == "redis+l1+rows")
				url := "redis://" + testenv.Redis(b) + "/0?l1=" + l1 + "&namespace=" + testenv.Name("bench_")
				if db, err = yoked.Open("pgx", dsn, yoked.WithStoreURL(url), yoked.WithObserver(obs), yoked.WithRowTags(variant != "redis")); err != nil {
					b.Fatal(err)
				}
				defer db.Close()
			}
			if db != raw {
				wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
				err := yoked.WaitCatalog(wctx, db)
				cancel()
				if err != nil {
					b.Fatal(err)
				}
			}
			db.SetMaxOpenConns(16)
			db.SetMaxIdleConns(16)
			rec := &staleness.Recorder{}
			ratio := 0.95
			if variant == "writes-only" {
				ratio = 0
			}
			workload := func(process int, limit int64) *stress.Workload {
				return &stress.Workload{DB: db, Process: process, Rows: rowsN, Mixed: 16, ReadRatio: ratio, Zipf: 1.1,
					UniformWrites: os.Getenv("YOKED_MIXED_WRITES") != "zipf", Limit: limit, Rec: rec}
			}
			// Warm up with the same workload (recorded and checked too), so
			// that the timed part sees a cache in use rather than an empty one.
			// (Not for the framework's first call with b.N = 1, whose figures
			// are not reported.)
			if b.N > 1 {
				warm := workload(1, mixedWarmUp)
				warm.Run(ctx)
				if n, first := warm.Errors(); n > 0 {
					b.Fatalf("%d errors while warming up, first: %q", n, first)
				}
			}
			var before yoked.Stats
			cache, cacheErr := yoked.CacheOf(db)
			if cacheErr == nil {
				before = cache.Stats()
			}
			obs.reset()
			wl := workload(2, int64(b.N))
			cpu0 := processCPU()
			srv0 := redisServerUsage(ctx, redisAddr)
			b.ResetTimer()
			start := time.Now()
			wl.Run(ctx)
			elapsed := time.Since(start)
			b.StopTimer()
			cpu := processCPU() - cpu0
			srv := redisServerUsage(ctx, redisAddr).minus(srv0)
			if n, first := wl.Errors(); n > 0 {
				b.Fatalf("%d errors, first: %q", n, first)
			}
			rep, err := stress.Check(ctx, raw, rec.Ops())
			if err != nil {
				b.Fatal(err)
			}
			ops := wl.Reads.Load() + wl.Writes.Load()
			for kind, name := range map[staleness.Kind]string{staleness.Read: "read-µs", staleness.Write: "write-µs"} {
				if mean := meanLatency(rec.Ops(), kind, "p2/"); mean > 0 {
					b.ReportMetric(mean.Seconds()*1e6, name)
				}
			}
			b.ReportMetric(float64(ops)/elapsed.Seconds(), "ops/s")
			// The client's own CPU (this process: workload, recording, yoked,
			// the base driver) per operation, and in cores over the run: on a
			// shared machine a cached run can be bound by the CPU share the
			// client gets rather than by the database.
			b.ReportMetric(cpu.Seconds()*1e6/float64(ops), "client-cpu-µs/op")
			b.ReportMetric(cpu.Seconds()/elapsed.Seconds(), "client-cores")
			if redisAddr != "" {
				// The Redis server's CPU (all its clients: on a shared
				// server, others' too) and the commands it ran, per operation.
				b.ReportMetric(srv.cpu.Seconds()*1e6/float64(ops), "redis-cpu-µs/op")
				b.ReportMetric(float64(srv.calls)/float64(ops), "redis-calls/op")
				b.ReportMetric(float64(srv.scripts)/float64(ops), "redis-scripts/op")
			}
			b.ReportMetric(float64(rep.Stale()), "stale")
			if reads := float64(wl.Reads.Load()); cacheErr == nil && reads > 0 {
				b.ReportMetric(float64(cache.Stats().Hits-before.Hits)/reads, "hits/read")
				obs.report(b, reads)
			}
			if rep.Stale() > 0 {
				b.Errorf("%s", rep)
			}
		})
	}
}

// mixedWarmUp is how many operations of the workload run before the timed
// part.
const mixedWarmUp = 20000

// mixedObserver counts read outcomes by form (keyed reads carry a row tag,
// scans do not) and bypasses by reason.
type mixedObserver struct {
	hit, miss, bypass [2]atomic.Int64 // [0] keyed, [1] scan
	reasons           sync.Map        // reason -> *atomic.Int64
}

func (o *mixedObserver) Read(_ context.Context, ev yoked.ReadEvent) {
	form := 1
	for _, t := range ev.Tags {
		if strings.HasPrefix(t, yoked.RowPrefix) {
			form = 0
		}
	}
	switch ev.Outcome {
	case yoked.Hit:
		o.hit[form].Add(1)
	case yoked.Miss:
		o.miss[form].Add(1)
	default:
		v, _ := o.reasons.LoadOrStore(ev.Reason, new(atomic.Int64))
		v.(*atomic.Int64).Add(1)
		if ev.Reason != "in_transaction" { // the writers' own reads, not counted in Reads
			o.bypass[form].Add(1)
		}
	}
}

func (o *mixedObserver) reset() {
	for i := range o.hit {
		o.hit[i].Store(0)
		o.miss[i].Store(0)
		o.bypass[i].Store(0)
	}
	o.reasons.Clear()
}

func (o *mixedObserver) Invalidate(context.Context, []string, bool) {}

func (o *mixedObserver) report(b *testing.B, reads float64) {
	for form, name := range []string{"keyed", "scan"} {
		h, m, by := o.hit[form].Load(), o.miss[form].Load(), o.bypass[form].Load()
		if n := h + m + by; n > 0 {
			b.ReportMetric(float64(h)/float64(n), name+"-hits/read")
		}
	}
	o.reasons.Range(func(k, v any) bool {
		b.ReportMetric(float64(v.(*atomic.Int64).Load())/reads, "bypass-"+k.(string)+"/read")
		return true
	})
}

// meanLatency is the mean duration of the operations of kind, counting once
// the several registers one statement or transaction recorded.
func meanLatency(ops []staleness.Op, kind staleness.Kind, clientPrefix string) time.Duration {
	type call struct {
		client string
		start  int64
	}
	seen := map[call]bool{}
	var sum, n int64
	for _, op := range ops {
		c := call{op.Client, op.Start}
		if op.Kind != kind || op.End == staleness.Unknown || !strings.HasPrefix(op.Client, clientPrefix) || seen[c] {
			continue
		}
		seen[c] = true
		sum += op.End - op.Start
		n++
	}
	if n == 0 {
		return 0
	}
	return time.Duration(sum / n)
}

// processCPU is the user and system CPU time of this process so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// redisUsage is a Redis server's CPU time and command counts so far.
type redisUsage struct {
	cpu            time.Duration
	calls, scripts int64 // every command run (a script's own calls included), and scripts
}

func (u redisUsage) minus(v redisUsage) redisUsage {
	return redisUsage{u.cpu - v.cpu, u.calls - v.calls, u.scripts - v.scripts}
}

// redisServerUsage reads INFO cpu and commandstats of the Redis at addr
// (zero when addr is empty or the server does not answer).
func redisServerUsage(ctx context.Context, addr string) redisUsage {
	var u redisUsage
	if addr == "" {
		return u
	}
	c := redis.NewClient(&redis.Options{Addr: addr})
	defer c.Close()
	info, err := c.Info(ctx, "cpu", "commandstats").Result()
	if err != nil {
		return u
	}
	for _, l := range strings.Split(info, "\n") {
		l = strings.TrimSpace(l)
		if v, ok := strings.CutPrefix(l, "used_cpu_sys:"); ok {
			f, _ := strconv.ParseFloat(v, 64)
			u.cpu += time.Duration(f * float64(time.Second))
		}
		if v, ok := strings.CutPrefix(l, "used_cpu_user:"); ok {
			f, _ := strconv.ParseFloat(v, 64)
			u.cpu += time.Duration(f * float64(time.Second))
		}
		name, rest, ok := strings.Cut(l, ":calls=")
		if !ok || !strings.HasPrefix(name, "cmdstat_") {
			continue
		}
		n, _ := strconv.ParseInt(strings.SplitN(rest, ",", 2)[0], 10, 64)
		u.calls += n
		if name == "cmdstat_evalsha" || name == "cmdstat_eval" {
			u.scripts += n
		}
	}
	return u
}
