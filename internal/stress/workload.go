// Package stress drives a concurrent read/write workload on PostgreSQL
// through yoked and records every operation for the staleness checker: the
// stale-read proof of issue 6 (TestStress, with Redis faults, run by
// `make stress` and, shorter, by `make test`) and the mixed-load benchmark.
//
// The table kv(id, v, w) holds one register per key: w is the unique value
// of the last committed write. Writers run UPDATE kv SET v = v + 1, w =
// <unique> in autocommit and in transactions (some rolled back); a trigger
// appends (register, version, w) to kv_log in the same transaction, so
// after the run the database itself says which writes committed and in
// which order, and a rolled-back write leaves no row. The version comes
// from a counter row per register (kv_ver) that the trigger updates, so
// the row lock on it orders a register's commits: its committed versions
// are exactly 1, 2, 3, … even across deletes and inserts.
//
// With Workload.Forms the registers also come and go (forms.go): keys
// Rows+1..2·Rows are inserted (with the key given, or from a sequence),
// deleted, and moved by key-changing updates; a child table kv_child (one
// row per key, ON DELETE/UPDATE CASCADE) follows them; whole groups of rows
// are updated by a non-key predicate; and reads scan by range and by a
// non-key column as well as by key. A removed register logs a tombstone
// (a negative value, see package staleness) and a read that finds no row
// records its absence.
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

// childBase is added to a kv_child key to make its register: the child of
// key k is register childBase+k.
const childBase = 1 << 32

// Schema creates kv with rows 1..rows (v = 0, w = 0) and keys up to
// 2·rows free, kv_child with a row per existing key, the log and its
// triggers, in the connection's current schema. Run it on a raw
// connection.
func Schema(ctx context.Context, db *sql.DB, rows int) error {
	// The log trigger serves both tables (registers of kv_child are offset
	// by TG_ARGV[0]); it is written in statements yoked's catalog reads (a
	// RETURNING … INTO would make it opaque, and every write of kv a write
	// of everything). A removed register logs its tombstone: -(2w+1) of
	// the value it held, or -(2r+1) of the register r if it held its
	// initial 0 (unique within the register: each value is held once).
	for _, q := range []string{
		fmt.Sprintf(`CREATE SEQUENCE kv_ids MINVALUE %d MAXVALUE %d CYCLE`, rows+1, 2*rows),
		`CREATE TABLE kv (id bigint PRIMARY KEY DEFAULT nextval('kv_ids'), v bigint NOT NULL DEFAULT 0, w bigint NOT NULL, pad text NOT NULL DEFAULT '',
		 grp bigint GENERATED ALWAYS AS (id % 16) STORED)`,
		`CREATE TABLE kv_child (id bigint PRIMARY KEY REFERENCES kv (id) ON DELETE CASCADE ON UPDATE CASCADE, w bigint NOT NULL)`,
		`CREATE TABLE kv_ver (reg bigint PRIMARY KEY, n bigint NOT NULL DEFAULT 0)`,
		`CREATE TABLE kv_log (id bigint NOT NULL, v bigint NOT NULL, w bigint NOT NULL, tx bigint NOT NULL DEFAULT txid_current())`,
		`CREATE FUNCTION kv_log_row() RETURNS trigger LANGUAGE plpgsql AS $$
		 DECLARE base bigint := TG_ARGV[0]::bigint; r bigint;
		 BEGIN
		   IF TG_OP = 'DELETE' OR (TG_OP = 'UPDATE' AND OLD.id <> NEW.id) THEN
		     r := base + OLD.id;
		     UPDATE kv_ver SET n = n + 1 WHERE reg = r;
		     INSERT INTO kv_log (id, v, w)
		       SELECT r, n, CASE WHEN OLD.w = 0 THEN -(2 * r + 1) ELSE -(2 * OLD.w + 1) END FROM kv_ver WHERE reg = r;
		   END IF;
		   IF TG_OP <> 'DELETE' THEN
		     r := base + NEW.id;
		     UPDATE kv_ver SET n = n + 1 WHERE reg = r;
		     INSERT INTO kv_log (id, v, w) SELECT r, n, NEW.w FROM kv_ver WHERE reg = r;
		   END IF;
		   RETURN NULL;
		 END $$`,
		fmt.Sprintf(`INSERT INTO kv (id, v, w) SELECT g, 0, 0 FROM generate_series(1, %d) g`, rows),
		fmt.Sprintf(`INSERT INTO kv_child (id, w) SELECT g, 0 FROM generate_series(1, %d) g`, rows),
		fmt.Sprintf(`INSERT INTO kv_ver (reg) SELECT g FROM generate_series(1, %[1]d) g UNION ALL SELECT %[2]d + g FROM generate_series(1, %[1]d) g`, 2*rows, childBase),
		`CREATE TRIGGER kv_log_after AFTER INSERT OR UPDATE OR DELETE ON kv FOR EACH ROW EXECUTE FUNCTION kv_log_row('0')`,
		fmt.Sprintf(`CREATE TRIGGER kv_child_log_after AFTER INSERT OR UPDATE OR DELETE ON kv_child FOR EACH ROW EXECUTE FUNCTION kv_log_row('%d')`, childBase),
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
	// Forms adds the statement forms of forms.go to the keyed reads, range
	// scans and keyed updates: inserts, deletes, key-changing updates,
	// updates by a non-key predicate, FK cascades and scans by a non-key
	// column, over keys 1..2·Rows.
	Forms bool
	// Refusal, if set, says which write errors are expected (a strict-mode
	// writer cut off from the store): they are counted in Refused, not as
	// failures. The write is recorded with an unknown outcome either way.
	Refusal func(error) bool

	// Rejected counts the writes of Forms the database refused (a key
	// taken or missing, a deadlock): expected, not failures.
	Reads, Writes, Refused, Rejected atomic.Int64
	errMu                            sync.Mutex
	errs                             []string
	nerr                             atomic.Int64
	seq                              atomic.Int64
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
	if wl.Forms && rejected(err) {
		wl.Rejected.Add(1)
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
	if wl.Forms {
		wl.readForms(ctx, g)
		return
	}
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
	wl.scan(ctx, g, "range read", readRange, []any{lo, hi}, keysIn(lo, hi, 1, 0))
}

// keysIn lists the keys lo..hi (step apart, from the first ≥ lo that is
// off modulo step).
func keysIn(lo, hi, step, off int64) []int64 {
	var keys []int64
	for k := lo; k <= hi; k++ {
		if k%step == off {
			keys = append(keys, k)
		}
	}
	return keys
}

// scan runs a query returning (id, w) rows and records a read of each key
// of want: the value found, or its absence. Without Forms every key of
// want must be there.
func (wl *Workload) scan(ctx context.Context, g *gen, what, query string, args []any, want []int64) {
	start := staleness.Now()
	rows, err := wl.DB.QueryContext(ctx, query, args...)
	if err != nil {
		if ctx.Err() == nil {
			wl.fail(what, err)
		}
		return
	}
	got := map[int64]int64{}
	for rows.Next() {
		var id, w int64
		if err := rows.Scan(&id, &w); err != nil {
			if ctx.Err() == nil { // the run's end may close the rows under Scan
				wl.fail(what, err)
			}
			rows.Close()
			return
		}
		got[id] = w
	}
	err = rows.Err()
	rows.Close()
	end := staleness.Now()
	if err != nil {
		if ctx.Err() == nil {
			wl.fail(what, err)
		}
		return
	}
	if !wl.Forms && len(got) != len(want) {
		wl.fail(what, fmt.Errorf("%d rows for %d keys %v", len(got), len(want), want))
	}
	for _, id := range want {
		w, ok := got[id]
		wl.record(staleness.Op{Kind: staleness.Read, Row: id, Value: w, Absent: !ok, Start: start, End: end, Client: g.name})
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
	if wl.Forms && g.rnd.IntN(4) == 0 {
		wl.writeForms(wctx, g)
		return
	}
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
// workload recorded it wrong. Log entries no recorded write accounts for
// (a tombstone the client did not learn, what a cascade wrote, a write
// whose outcome or rows the client never learned) are added as writes of
// the transaction that logged them: with the times of a recorded write of
// that transaction, or with an unknown outcome.
func Resolve(ctx context.Context, raw *sql.DB, ops []staleness.Op) ([]staleness.Op, error) {
	rows, err := raw.QueryContext(ctx, `SELECT id, v, w, tx FROM kv_log`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	type entry struct {
		id, v, w, tx int64
		used         bool
	}
	var log []*entry
	byValue := map[int64][]*entry{}
	for rows.Next() {
		e := &entry{}
		if err := rows.Scan(&e.id, &e.v, &e.w, &e.tx); err != nil {
			return nil, err
		}
		log = append(log, e)
		byValue[e.w] = append(byValue[e.w], e)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	out := make([]staleness.Op, 0, len(ops))
	txOp := map[int64]staleness.Op{}
	for _, op := range ops {
		if op.Kind == staleness.Write {
			// Values written by clients are unique; tombstones within a
			// register. A write whose key the client never learned has Row 0.
			var e *entry
			for _, c := range byValue[op.Value] {
				if op.Row == 0 || c.id == op.Row {
					e = c
					break
				}
			}
			switch {
			case e == nil && op.Row == 0:
				continue // never committed, and no register to record it in
			case e == nil && op.Committed:
				return nil, fmt.Errorf("%w: write of %d to row %d returned success but is not in the log", ErrLog, op.Value, op.Row)
			case e != nil:
				op.Row, op.Committed, op.Version, e.used = e.id, true, e.v, true
				if op.End != staleness.Unknown {
					txOp[e.tx] = op
				}
			}
		}
		out = append(out, op)
	}
	for _, e := range log {
		if e.used {
			continue
		}
		op := staleness.Op{Kind: staleness.Write, Row: e.id, Value: e.w, Version: e.v, Committed: true, End: staleness.Unknown, Client: "log"}
		if t, ok := txOp[e.tx]; ok {
			op.Start, op.End, op.Client = t.Start, t.End, t.Client
		}
		out = append(out, op)
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
