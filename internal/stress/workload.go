// Package stress drives a concurrent read/write workload on PostgreSQL
// through yoked and records every operation for the staleness checker: the
// stale-read proof of issue 6 (TestStress, with Redis faults, run by
// `make stress` and, shorter, by `make test`) and the mixed-load benchmark.
//
// The table kv(id, v, w) holds one register per row: w is the unique value
// of the last committed write, v its position in the row's commit order.
// Writers run UPDATE kv SET v = v + 1, w = <unique> in autocommit and in
// transactions (some rolled back); a trigger appends (id, v, w) to kv_log in
// the same transaction, so after the run the database itself says which
// writes committed and in which order, and a rolled-back write leaves no
// row. Row locks serialize the updates of a row, so its committed versions
// are exactly 1, 2, 3, …
package stress

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/yokedcache/yoked/internal/staleness"
)

// Schema creates kv with rows 1..rows (v = 0, w = 0), the log and its
// trigger, in the connection's current schema. Run it on a raw connection.
func Schema(ctx context.Context, db *sql.DB, rows int) error {
	for _, q := range []string{
		`CREATE TABLE kv (id bigint PRIMARY KEY, v bigint NOT NULL, w bigint NOT NULL, pad text NOT NULL DEFAULT '')`,
		`CREATE TABLE kv_log (id bigint NOT NULL, v bigint NOT NULL, w bigint NOT NULL)`,
		`CREATE FUNCTION kv_log_row() RETURNS trigger LANGUAGE plpgsql AS $$
		 BEGIN INSERT INTO kv_log VALUES (NEW.id, NEW.v, NEW.w); RETURN NEW; END $$`,
		`CREATE TRIGGER kv_log_after AFTER UPDATE ON kv FOR EACH ROW EXECUTE FUNCTION kv_log_row()`,
		fmt.Sprintf(`INSERT INTO kv (id, v, w) SELECT g, 0, 0 FROM generate_series(1, %d) g`, rows),
	} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("stress schema: %w", err)
		}
	}
	return nil
}

// Workload is one process's share of the load. Zero fields take defaults.
type Workload struct {
	DB      *sql.DB // through yoked
	Process int     // 0..1023, makes written values unique across processes
	Rows    int     // rows 1..Rows exist (default 64)
	Readers int     // reading goroutines (default 6)
	Writers int     // writing goroutines (default 2)
	// WriteEvery paces each writer (default 2ms): the test wants many
	// overlaps of reads and writes, not a saturated database.
	WriteEvery time.Duration
	// Zipf skews row choice (s parameter, > 1); 0 means uniform.
	Zipf float64
	// UniformWrites chooses the rows of writes uniformly even when Zipf
	// skews the reads (hot rows read often, writes spread over the table).
	UniformWrites bool
	// Mixed, when set, replaces Readers and Writers: Mixed goroutines each
	// choose a read with probability ReadRatio, else a write, with no pacing.
	Mixed     int
	ReadRatio float64
	// Limit stops the mixed goroutines after about this many operations in
	// all (0: run until ctx is done).
	Limit int64
	// Rec receives every operation (nil records nothing).
	Rec *staleness.Recorder
	// Refusal, if set, says which write errors are expected (a strict-mode
	// writer cut off from the store): they are counted in Refused, not as
	// failures. The write is recorded with an unknown outcome either way.
	Refusal func(error) bool

	Reads, Writes, Refused atomic.Int64
	errMu                  sync.Mutex
	errs                   []string
	nerr                   atomic.Int64
	seq                    atomic.Int64
}

// Errors returns how many errors the application saw and the first few.
func (wl *Workload) Errors() (int64, []string) {
	wl.errMu.Lock()
	defer wl.errMu.Unlock()
	return wl.nerr.Load(), append([]string(nil), wl.errs...)
}

func (wl *Workload) fail(what string, err error) {
	wl.nerr.Add(1)
	wl.errMu.Lock()
	if len(wl.errs) < 10 {
		wl.errs = append(wl.errs, what+": "+err.Error())
	}
	wl.errMu.Unlock()
}

func (wl *Workload) writeFailed(what string, err error) {
	if wl.Refusal != nil && wl.Refusal(err) {
		wl.Refused.Add(1)
		return
	}
	wl.fail(what, err)
}

func (wl *Workload) defaults() {
	if wl.Rows <= 0 {
		wl.Rows = 64
	}
	if wl.Readers <= 0 {
		wl.Readers = 6
	}
	if wl.Writers <= 0 {
		wl.Writers = 2
	}
	if wl.WriteEvery <= 0 {
		wl.WriteEvery = 2 * time.Millisecond
	}
}

// Run runs the workload until ctx is done.
func (wl *Workload) Run(ctx context.Context) {
	wl.defaults()
	var wg sync.WaitGroup
	spawn := func(name string, id int, f func(ctx context.Context, g *gen)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f(ctx, wl.newGen(fmt.Sprintf("p%d/%s%d", wl.Process, name, id), uint64(id)))
		}()
	}
	if wl.Mixed > 0 {
		for i := range wl.Mixed {
			spawn("m", i, func(ctx context.Context, g *gen) {
				for ctx.Err() == nil && (wl.Limit <= 0 || wl.Reads.Load()+wl.Writes.Load() < wl.Limit) {
					if g.rnd.Float64() < wl.ReadRatio {
						wl.read(ctx, g)
					} else {
						wl.write(ctx, g)
					}
				}
			})
		}
	} else {
		for i := range wl.Readers {
			spawn("r", i, func(ctx context.Context, g *gen) {
				for ctx.Err() == nil {
					wl.read(ctx, g)
				}
			})
		}
		for i := range wl.Writers {
			spawn("w", i, func(ctx context.Context, g *gen) {
				t := time.NewTicker(wl.WriteEvery)
				defer t.Stop()
				for ctx.Err() == nil {
					wl.write(ctx, g)
					select {
					case <-ctx.Done():
					case <-t.C:
					}
				}
			})
		}
	}
	wg.Wait()
}

// gen is one goroutine's random source and name.
type gen struct {
	name string
	rnd  *rand.Rand
	zipf *rand.Zipf
}

func (wl *Workload) newGen(name string, id uint64) *gen {
	g := &gen{name: name, rnd: rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), uint64(wl.Process)<<32|id))}
	if wl.Zipf > 1 {
		g.zipf = rand.NewZipf(g.rnd, wl.Zipf, 1, uint64(wl.Rows-1))
	}
	return g
}

// writeRow is the row of a write: uniform when UniformWrites is set.
func (wl *Workload) writeRow(g *gen) int64 {
	if wl.UniformWrites {
		return int64(g.rnd.IntN(wl.Rows)) + 1
	}
	return g.row(wl.Rows)
}

func (g *gen) row(n int) int64 {
	if g.zipf != nil {
		return int64(g.zipf.Uint64()) + 1
	}
	return int64(g.rnd.IntN(n)) + 1
}

// value returns a write value no other write of any process uses.
func (wl *Workload) value() int64 { return int64(wl.Process+1)<<40 | wl.seq.Add(1) }

// Read statements: one row by key, and a range (several registers read at
// once, through a different cache entry).
const (
	readOne   = `SELECT v, w FROM kv WHERE id = $1`
	readRange = `SELECT id, w FROM kv WHERE id BETWEEN $1 AND $2 ORDER BY id`
	update    = `UPDATE kv SET v = v + 1, w = $1 WHERE id = $2`
)

func (wl *Workload) read(ctx context.Context, g *gen) {
	wl.Reads.Add(1)
	if g.rnd.IntN(4) > 0 {
		id := g.row(wl.Rows)
		start := staleness.Now()
		var v, w int64
		err := wl.DB.QueryRowContext(ctx, readOne, id).Scan(&v, &w)
		end := staleness.Now()
		if err != nil {
			if ctx.Err() == nil {
				wl.fail("read", err)
			}
			return
		}
		wl.record(staleness.Op{Kind: staleness.Read, Row: id, Value: w, Start: start, End: end, Client: g.name})
		return
	}
	lo := g.row(wl.Rows)
	hi := min(lo+3, int64(wl.Rows))
	start := staleness.Now()
	rows, err := wl.DB.QueryContext(ctx, readRange, lo, hi)
	if err != nil {
		if ctx.Err() == nil {
			wl.fail("range read", err)
		}
		return
	}
	type rw struct{ id, w int64 }
	var got []rw
	for rows.Next() {
		var r rw
		if err := rows.Scan(&r.id, &r.w); err != nil {
			if ctx.Err() == nil { // the run's end may close the rows under Scan
				wl.fail("range scan", err)
			}
			rows.Close()
			return
		}
		got = append(got, r)
	}
	err = rows.Err()
	rows.Close()
	end := staleness.Now()
	if err != nil {
		if ctx.Err() == nil {
			wl.fail("range read", err)
		}
		return
	}
	if len(got) != int(hi-lo+1) {
		wl.fail("range read", fmt.Errorf("%d rows for ids %d..%d", len(got), lo, hi))
	}
	for _, r := range got {
		wl.record(staleness.Op{Kind: staleness.Read, Row: r.id, Value: r.w, Start: start, End: end, Client: g.name})
	}
}

func (wl *Workload) record(op staleness.Op) {
	if wl.Rec != nil {
		wl.Rec.Add(op)
	}
}

// write runs an autocommit UPDATE (half the time) or a transaction updating
// one to three rows in key order (no deadlocks), a fifth of them rolled back.
// The recorded writes say Committed for what the client believes committed;
// Resolve corrects that from the log.
func (wl *Workload) write(ctx context.Context, g *gen) {
	wl.Writes.Add(1)
	// Writes are not cut by ctx: a write cut halfway has an unknown outcome,
	// which the checker handles but which proves less.
	wctx := context.WithoutCancel(ctx)
	if g.rnd.IntN(2) == 0 {
		id, val := wl.writeRow(g), wl.value()
		start := staleness.Now()
		_, err := wl.DB.ExecContext(wctx, update, val, id)
		end := staleness.Now()
		if err != nil {
			wl.writeFailed("update", err)
			end = staleness.Unknown
		}
		wl.record(staleness.Op{Kind: staleness.Write, Row: id, Value: val, Start: start, End: end, Committed: err == nil, Client: g.name})
		return
	}
	n := 1 + g.rnd.IntN(3)
	ids := map[int64]bool{}
	for len(ids) < n && len(ids) < wl.Rows {
		ids[wl.writeRow(g)] = true
	}
	sorted := make([]int64, 0, len(ids))
	for id := range ids {
		sorted = append(sorted, id)
	}
	sort.Slice(sorted, func(i, j int) bool { return sorted[i] < sorted[j] })
	rollback := g.rnd.IntN(5) == 0
	start := staleness.Now()
	vals, err := wl.tx(wctx, sorted, rollback)
	end := staleness.Now()
	if err != nil {
		wl.writeFailed("transaction", err)
		end = staleness.Unknown
	}
	for i, val := range vals {
		wl.record(staleness.Op{Kind: staleness.Write, Row: sorted[i], Value: val, Start: start, End: end, Committed: err == nil && !rollback, Client: g.name})
	}
}

// tx returns the values it tried to write (all of them, even on error).
func (wl *Workload) tx(ctx context.Context, ids []int64, rollback bool) ([]int64, error) {
	tx, err := wl.DB.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	var vals []int64
	for _, id := range ids {
		val := wl.value()
		vals = append(vals, val)
		if _, err := tx.ExecContext(ctx, update, val, id); err != nil {
			tx.Rollback()
			return vals, err
		}
		// A read inside the transaction sees its own write and is never cached.
		var w int64
		if err := tx.QueryRowContext(ctx, readOne, id).Scan(new(int64), &w); err != nil {
			tx.Rollback()
			return vals, err
		}
		if w != val {
			tx.Rollback()
			return vals, fmt.Errorf("read of row %d inside the transaction saw %d, not its own write %d", id, w, val)
		}
	}
	if rollback {
		if err := tx.Rollback(); err != nil {
			return vals, err
		}
		return vals, nil
	}
	return vals, tx.Commit()
}

// ErrLog is returned by Resolve when the history and the database disagree.
var ErrLog = errors.New("stress: history and database log disagree")

// Resolve sets Committed and Version of every write from the database's
// log (read on a raw connection after the run). A write the client saw
// commit but the log lacks is an error: the database lost it, or the
// workload recorded it wrong.
func Resolve(ctx context.Context, raw *sql.DB, ops []staleness.Op) ([]staleness.Op, error) {
	rows, err := raw.QueryContext(ctx, `SELECT id, v, w FROM kv_log`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	type entry struct{ id, v int64 }
	log := map[int64]entry{}
	for rows.Next() {
		var id, v, w int64
		if err := rows.Scan(&id, &v, &w); err != nil {
			return nil, err
		}
		log[w] = entry{id, v}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	out := make([]staleness.Op, len(ops))
	for i, op := range ops {
		if op.Kind == staleness.Write {
			e, ok := log[op.Value]
			switch {
			case ok && e.id != op.Row:
				return nil, fmt.Errorf("%w: value %d written to row %d, logged for row %d", ErrLog, op.Value, op.Row, e.id)
			case ok:
				op.Committed, op.Version = true, e.v
			case op.Committed:
				return nil, fmt.Errorf("%w: write of %d to row %d returned success but is not in the log", ErrLog, op.Value, op.Row)
			}
		}
		out[i] = op
	}
	return out, nil
}

// Check resolves ops against the database's log and checks them.
func Check(ctx context.Context, raw *sql.DB, ops []staleness.Op) (staleness.Report, error) {
	ops, err := Resolve(ctx, raw, ops)
	if err != nil {
		return staleness.Report{}, err
	}
	return staleness.Check(ops)
}
