package main

import (
	"context"
	crand "crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	_ "github.com/go-sql-driver/mysql" // base drivers bench can open by name
	_ "github.com/jackc/pgx/v5/stdlib"
	_ "github.com/lib/pq"
	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	yoked "github.com/yokedcache/yoked/driver"
	"github.com/yokedcache/yoked/sqlparse"
)

type benchFlags struct {
	driver, dsn, query string
	args               []string
	duration           time.Duration
	n                  int
	concurrency        int
	rows               int
}

// benchPhase is one side of the comparison (JSON schema in docs/cli.md).
type benchPhase struct {
	Name     string        `json:"name"`
	Ops      int64         `json:"ops"`
	Errors   int64         `json:"errors"`
	Elapsed  time.Duration `json:"elapsed_ns"`
	OpsPerS  float64       `json:"ops_per_s"`
	P50      time.Duration `json:"p50_ns"`
	P99      time.Duration `json:"p99_ns"`
	HitRatio *float64      `json:"hit_ratio,omitempty"`
}

type benchReport struct {
	Driver      string       `json:"driver"`
	Workload    string       `json:"workload"`
	Concurrency int          `json:"concurrency"`
	Phases      []benchPhase `json:"phases"`
	SpeedUp     float64      `json:"speed_up"` // cached ops/s over raw ops/s
}

func newBenchCmd(e *env) *cobra.Command {
	f := &benchFlags{}
	cmd := &cobra.Command{
		Use:   "bench --driver NAME --dsn DSN [--query SQL [--args A,...]] [--duration D | --n N]",
		Short: "Compare a read-heavy workload with and without the cache",
		Long: `bench runs the same read-heavy workload twice against a database, first
straight through the base driver, then through yoked, and prints ops/s,
median and 99th-percentile latency and the speed-up.

Without --query it creates a scratch table yoked_bench_<random> with --rows
rows, reads rows by primary key (ids drawn from a skewed distribution) and
updates one row every 100 operations, then drops the table. With --query it
runs only that read (with --args as its arguments, as strings).

The cached side uses the driver's configuration from the environment
(YOKED_STORE, YOKED_TTL, ...) under a namespace of its own. A progress bar is
drawn on stderr when stderr is a terminal.`,
		Example: `  yokedcache bench --driver sqlite3 --dsn 'file:/tmp/b.db' --duration 5s
  yokedcache bench --driver pgx --dsn postgres://postgres@127.0.0.1/test --n 20000
  yokedcache bench --driver mysql --dsn 'root@tcp(127.0.0.1:3306)/test' --query 'SELECT * FROM users WHERE id = ?' --args 42`,
		Args: noArgs,
	}
	format := addFormat(cmd)
	fl := cmd.Flags()
	fl.StringVar(&f.driver, "driver", "", "base driver name: sqlite3, postgres, pgx, mysql (required)")
	fl.StringVar(&f.dsn, "dsn", "", "data source name for the base driver (required)")
	fl.StringVar(&f.query, "query", "", "a read to run instead of the built-in workload")
	fl.StringSliceVar(&f.args, "args", nil, "comma-separated arguments of --query")
	fl.DurationVar(&f.duration, "duration", 0, "run each side this long (default 3s unless --n is given)")
	fl.IntVar(&f.n, "n", 0, "run each side this many operations")
	fl.IntVar(&f.concurrency, "concurrency", 4, "concurrent workers")
	fl.IntVar(&f.rows, "rows", 1000, "rows of the scratch table (built-in workload)")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if err := checkFormat(*format); err != nil {
			return err
		}
		if f.driver == "" || f.dsn == "" {
			return usagef("bench needs --driver and --dsn")
		}
		if sqlparse.NormalizeDialect(f.driver) == "" {
			return usagef("--driver %q: bench knows sqlite3, postgres, pgx and mysql", f.driver)
		}
		if f.duration < 0 || f.n < 0 || f.concurrency < 1 || f.concurrency > 1024 || f.rows < 1 {
			return usagef("--duration and --n must not be negative, --concurrency must be 1..1024, --rows positive")
		}
		if f.duration > 0 && f.n > 0 {
			return usagef("give --duration or --n, not both")
		}
		if f.duration == 0 && f.n == 0 {
			f.duration = 3 * time.Second
		}
		if len(f.args) > 0 && f.query == "" {
			return usagef("--args needs --query")
		}
		rep, err := runBench(cmd.Context(), f, e)
		if err != nil {
			return err
		}
		return emit(e, *format, rep)
	}
	return cmd
}

func (r *benchReport) print(w io.Writer) {
	fmt.Fprintf(w, "%s, %s, %d workers (one run on this machine)\n\n", r.Driver, r.Workload, r.Concurrency)
	fmt.Fprintf(w, "%-8s %10s %12s %12s %12s %8s %10s\n", "", "ops", "ops/s", "p50", "p99", "errors", "hit ratio")
	for _, p := range r.Phases {
		hr := "-"
		if p.HitRatio != nil {
			hr = fmt.Sprintf("%.1f%%", 100**p.HitRatio)
		}
		fmt.Fprintf(w, "%-8s %10d %12.0f %12v %12v %8d %10s\n", p.Name, p.Ops, p.OpsPerS, p.P50, p.P99, p.Errors, hr)
	}
	fmt.Fprintf(w, "\nspeed-up: %.2fx ops/s with the cache\n", r.SpeedUp)
}

// benchOp is one operation of the workload on db.
type benchOp func(ctx context.Context, db *sql.DB, rng *rand.Rand, i int64) error

func runBench(ctx context.Context, f *benchFlags, e *env) (*benchReport, error) {
	raw, err := sql.Open(f.driver, f.dsn)
	if err != nil {
		return nil, usagef("opening %s: %v", f.driver, err)
	}
	defer raw.Close()
	if err := raw.PingContext(ctx); err != nil {
		return nil, fmt.Errorf("cannot reach the database: %v", err)
	}
	var suffix [4]byte
	_, _ = crand.Read(suffix[:])
	id := hex.EncodeToString(suffix[:])
	cached, err := yoked.Open(f.driver, f.dsn, yoked.WithNamespace("bench-"+id))
	if err != nil {
		return nil, err
	}
	defer cached.Close()
	// Both sides start with one open connection (the raw one was pinged
	// above), so the first operations compare like with like.
	if err := cached.PingContext(ctx); err != nil {
		return nil, fmt.Errorf("cannot reach the database through yoked: %v", err)
	}
	for _, db := range []*sql.DB{raw, cached} {
		db.SetMaxOpenConns(f.concurrency)
		db.SetMaxIdleConns(f.concurrency)
	}

	rep := &benchReport{Driver: f.driver, Concurrency: f.concurrency}
	var op benchOp
	if f.query != "" {
		rep.Workload = "query " + f.query
		args := make([]any, len(f.args))
		for i, a := range f.args {
			args[i] = a
		}
		op = func(ctx context.Context, db *sql.DB, _ *rand.Rand, _ int64) error {
			return drain(db.QueryContext(ctx, f.query, args...))
		}
	} else {
		table := "yoked_bench_" + id
		cleanup, o, err := scratchWorkload(ctx, raw, f.driver, table, f.rows)
		if cleanup != nil {
			defer cleanup()
		}
		if err != nil {
			return nil, fmt.Errorf("preparing the scratch table: %w", err)
		}
		op = o
		rep.Workload = fmt.Sprintf("primary-key reads on %d rows, 1%% updates", f.rows)
	}

	total := int64(f.n)
	if total == 0 {
		total = 2 * f.duration.Milliseconds()
	}
	bar := progressbar.NewOptions64(2*max(total/2, 1),
		progressbar.OptionSetWriter(e.stderr),
		progressbar.OptionSetVisibility(e.stderrTerminal()),
		progressbar.OptionSetDescription("bench"),
		progressbar.OptionClearOnFinish(),
		progressbar.OptionThrottle(100*time.Millisecond))
	defer bar.Close()
	for _, side := range []struct {
		name string
		db   *sql.DB
	}{{"raw", raw}, {"cached", cached}} {
		p := measure(ctx, side.db, op, f, bar)
		p.Name = side.name
		if side.db == cached {
			if c, err := yoked.CacheOf(cached); err == nil {
				s := c.Stats()
				if n := s.Hits + s.Misses; n > 0 {
					hr := float64(s.Hits) / float64(n)
					p.HitRatio = &hr
				}
			}
		}
		rep.Phases = append(rep.Phases, p)
		if ctx.Err() != nil {
			return nil, fmt.Errorf("bench interrupted")
		}
		if p.Ops > 0 && p.Errors == p.Ops {
			return nil, fmt.Errorf("every %s operation failed", side.name)
		}
	}
	_ = bar.Finish()
	if rep.Phases[0].OpsPerS > 0 {
		rep.SpeedUp = rep.Phases[1].OpsPerS / rep.Phases[0].OpsPerS
	}
	return rep, nil
}

func drain(rows *sql.Rows, err error) error {
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
	}
	return rows.Err()
}

// measure runs op with f.concurrency workers for f.n operations or
// f.duration, and summarises throughput and latency.
func measure(ctx context.Context, db *sql.DB, op benchOp, f *benchFlags, bar *progressbar.ProgressBar) benchPhase {
	var (
		next, errs atomic.Int64
		mu         sync.Mutex
		lat        []time.Duration
		wg         sync.WaitGroup
	)
	deadline := time.Now().Add(f.duration)
	start := time.Now()
	lastTick := atomic.Int64{}
	for w := range f.concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 7))
			local := make([]time.Duration, 0, 1024)
			for ctx.Err() == nil {
				i := next.Add(1)
				if f.n > 0 && i > int64(f.n) {
					break
				}
				if f.n == 0 && time.Now().After(deadline) {
					break
				}
				t0 := time.Now()
				if err := op(ctx, db, rng, i); err != nil {
					errs.Add(1)
				}
				local = append(local, time.Since(t0))
				if f.n > 0 {
					_ = bar.Add(1)
				} else if ms := time.Since(start).Milliseconds(); ms > lastTick.Load() {
					if old := lastTick.Swap(ms); old < ms {
						_ = bar.Add64(ms - old)
					}
				}
			}
			mu.Lock()
			lat = append(lat, local...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	slices.Sort(lat)
	p := benchPhase{Ops: int64(len(lat)), Errors: errs.Load(), Elapsed: elapsed}
	if len(lat) > 0 {
		p.OpsPerS = float64(len(lat)) / elapsed.Seconds()
		p.P50 = lat[len(lat)/2]
		p.P99 = lat[min(len(lat)-1, len(lat)*99/100)]
	}
	return p
}

// scratchWorkload creates and fills a table and returns the built-in
// operation on it, and a cleanup that drops it.
func scratchWorkload(ctx context.Context, raw *sql.DB, driver, table string, rows int) (func(), benchOp, error) {
	ph := func(i int) string { return "?" }
	if sqlparse.NormalizeDialect(driver) == sqlparse.DialectPostgres {
		ph = func(i int) string { return fmt.Sprintf("$%d", i) }
	}
	if _, err := raw.ExecContext(ctx, "CREATE TABLE "+table+" (id INTEGER PRIMARY KEY, name VARCHAR(64) NOT NULL, score INTEGER NOT NULL)"); err != nil {
		return nil, nil, err
	}
	cleanup := func() { _, _ = raw.ExecContext(context.Background(), "DROP TABLE "+table) }
	tx, err := raw.BeginTx(ctx, nil)
	if err != nil {
		return cleanup, nil, err
	}
	ins := "INSERT INTO " + table + " (id, name, score) VALUES (" + ph(1) + ", " + ph(2) + ", " + ph(3) + ")"
	for i := 1; i <= rows; i++ {
		if _, err := tx.ExecContext(ctx, ins, i, fmt.Sprintf("row %d", i), i%97); err != nil {
			tx.Rollback()
			return cleanup, nil, err
		}
	}
	if err := tx.Commit(); err != nil {
		return cleanup, nil, err
	}
	sel := "SELECT id, name, score FROM " + table + " WHERE id = " + ph(1)
	upd := "UPDATE " + table + " SET score = score + 1 WHERE id = " + ph(1)
	zipfFor := sync.Map{} // *rand.Rand -> *rand.Zipf
	op := func(ctx context.Context, db *sql.DB, rng *rand.Rand, i int64) error {
		z, ok := zipfFor.Load(rng)
		if !ok {
			z, _ = zipfFor.LoadOrStore(rng, rand.NewZipf(rng, 1.1, 1, uint64(rows-1)))
		}
		id := int64(z.(*rand.Zipf).Uint64()) + 1
		if i%100 == 0 {
			_, err := db.ExecContext(ctx, upd, id)
			return err
		}
		return drain(db.QueryContext(ctx, sel, id))
	}
	return cleanup, op, nil
}
