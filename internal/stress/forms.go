package stress

import (
	"context"
	"database/sql"
	"errors"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/yokedcache/yoked/internal/staleness"
)

// The statement forms of Workload.Forms. Keys 1..Rows always exist (the
// keyed updates and transactions of workload.go write them); keys
// Rows+1..2·Rows are inserted, deleted and moved. Every form is one that
// row-level invalidation tags differently: keyed reads carry row tags,
// scans the set tag; a keyed insert, delete or update invalidates its
// rows; the defaulted-key insert, the key-changing update, the update by a
// non-key predicate and the writes reaching kv_child through its foreign
// key's cascades invalidate whole tables.
const (
	readChild   = `SELECT w FROM kv_child WHERE id = $1`
	readGroup   = `SELECT id, w FROM kv WHERE grp = $1`
	insertKey   = `INSERT INTO kv (id, w) VALUES ($1, $2)`
	insertAuto  = `INSERT INTO kv (w) VALUES ($1) RETURNING id`
	deleteKey   = `DELETE FROM kv WHERE id = $1 RETURNING w`
	moveKey     = `UPDATE kv SET id = $1, w = $2 WHERE id = $3`
	insertChild = `INSERT INTO kv_child (id, w) VALUES ($1, $2)`
	updateChild = `UPDATE kv_child SET w = $1 WHERE id = $2`
	updateGroup = `UPDATE kv SET w = $1 + id WHERE grp = $2 RETURNING id`
)

// groups is the number of values of kv.grp (id % groups).
const groups = 16

// tombstone is the value the log gives a register removed while it held w
// (see Schema).
func tombstone(reg, w int64) int64 {
	if w == 0 {
		return -(2*reg + 1)
	}
	return -(2*w + 1)
}

// anyKey is a key of 1..2·Rows: one that always exists (skewed like the
// plain reads) or, a third of the time, one that comes and goes.
func (wl *Workload) anyKey(g *gen) int64 {
	if g.rnd.IntN(3) == 0 {
		return wl.freeKey(g)
	}
	return g.row(wl.Rows)
}

// freeKey is a key of Rows+1..2·Rows, which writes insert, delete and move.
func (wl *Workload) freeKey(g *gen) int64 {
	return int64(wl.Rows + 1 + g.rnd.IntN(wl.Rows))
}

// groupValue returns a base for updateGroup: base+id is unique for every
// key (ids stay below 2^13) and never equal to a value().
func (wl *Workload) groupValue() int64 {
	return int64(wl.Process+1)<<40 | 1<<39 | wl.seq.Add(1)<<13
}

func (wl *Workload) readForms(ctx context.Context, g *gen) {
	switch n := g.rnd.IntN(20); {
	case n < 9:
		id := wl.anyKey(g)
		start := staleness.Now()
		var v, w int64
		err := wl.DB.QueryRowContext(ctx, readOne, id).Scan(&v, &w)
		wl.recordRead(ctx, g, "read", id, w, start, err)
	case n < 13:
		lo := int64(1 + g.rnd.IntN(2*wl.Rows))
		hi := min(lo+3, int64(2*wl.Rows))
		wl.scan(ctx, g, "range read", readRange, []any{lo, hi}, keysIn(lo, hi, 1, 0))
	case n < 16:
		grp := int64(g.rnd.IntN(groups))
		wl.scan(ctx, g, "group read", readGroup, []any{grp}, keysIn(1, int64(2*wl.Rows), groups, grp))
	default:
		id := wl.anyKey(g)
		start := staleness.Now()
		var w int64
		err := wl.DB.QueryRowContext(ctx, readChild, id).Scan(&w)
		wl.recordRead(ctx, g, "child read", childBase+id, w, start, err)
	}
}

// recordRead records a single-row read of register reg: its value, or its
// absence when the query found no row.
func (wl *Workload) recordRead(ctx context.Context, g *gen, what string, reg, w, start int64, err error) {
	end := staleness.Now()
	absent := errors.Is(err, sql.ErrNoRows)
	if err != nil && !absent {
		if ctx.Err() == nil {
			wl.fail(what, err)
		}
		return
	}
	wl.record(staleness.Op{Kind: staleness.Read, Row: reg, Value: w, Absent: absent, Start: start, End: end, Client: g.name})
}

// writeForms runs one write of the forms above (in autocommit, but for the
// key-changing update, which also gives the moved child a new value in the
// same transaction).
func (wl *Workload) writeForms(ctx context.Context, g *gen) {
	rec := func(reg, val, start, end int64, committed bool) {
		wl.record(staleness.Op{Kind: staleness.Write, Row: reg, Value: val, Start: start, End: end, Committed: committed, Client: g.name})
	}
	start := staleness.Now()
	switch n := g.rnd.IntN(20); {
	case n < 4: // insert with the key given, then its child
		id, val := wl.freeKey(g), wl.value()
		res, err := wl.DB.ExecContext(ctx, insertKey, id, val)
		end, ok := wl.outcome("insert", res, err)
		rec(id, val, start, end, ok)
		if ok {
			start, val = staleness.Now(), wl.value()
			res, err = wl.DB.ExecContext(ctx, insertChild, id, val)
			end, ok = wl.outcome("child insert", res, err)
			rec(childBase+id, val, start, end, ok)
		}
	case n < 6: // insert with the key from the column's default
		val := wl.value()
		var id int64
		err := wl.DB.QueryRowContext(ctx, insertAuto, val).Scan(&id)
		end, ok := wl.outcome("insert with default key", nil, err)
		rec(id, val, start, end, ok) // id 0 when unknown: Resolve finds it by value
	case n < 10: // delete by key
		id := wl.freeKey(g)
		var w int64
		err := wl.DB.QueryRowContext(ctx, deleteKey, id).Scan(&w)
		if errors.Is(err, sql.ErrNoRows) {
			return // nothing to delete: no write happened
		}
		end, ok := wl.outcome("delete", nil, err)
		if ok {
			rec(id, tombstone(id, w), start, end, true)
		} // unknown: the log's tombstone is taken as it is (Resolve)
	case n < 13: // key-changing update; the child moves with it (cascade)
		from, to := wl.freeKey(g), wl.freeKey(g)
		if from == to {
			return
		}
		val, cval := wl.value(), wl.value()
		moved, child, err := wl.move(ctx, from, to, val, cval)
		end := staleness.Now()
		if err != nil {
			wl.writeFailed("key-changing update", err)
			end = staleness.Unknown
		}
		rec(to, val, start, end, err == nil && moved)
		rec(childBase+to, cval, start, end, err == nil && child)
	case n < 15: // update by a non-key predicate: a whole group
		base, grp := wl.groupValue(), int64(g.rnd.IntN(groups))
		rows, err := wl.DB.QueryContext(ctx, updateGroup, base, grp)
		var ids []int64
		if err == nil {
			for rows.Next() {
				var id int64
				if err = rows.Scan(&id); err != nil {
					break
				}
				ids = append(ids, id)
			}
			if err == nil {
				err = rows.Err()
			}
			rows.Close()
		}
		end, ok := wl.outcome("update by group", nil, err)
		for _, id := range ids {
			rec(id, base+id, start, end, ok)
		}
	case n < 17: // insert a child row (its parent may be missing)
		id, val := wl.freeKey(g), wl.value()
		res, err := wl.DB.ExecContext(ctx, insertChild, id, val)
		end, ok := wl.outcome("child insert", res, err)
		rec(childBase+id, val, start, end, ok)
	default: // update a child row by key
		id, val := wl.anyKey(g), wl.value()
		res, err := wl.DB.ExecContext(ctx, updateChild, val, id)
		end, ok := wl.outcome("child update", res, err)
		rec(childBase+id, val, start, end, ok)
	}
}

// outcome turns a write's result into the End and Committed of its record:
// a write that changed no row, or that the database refused, committed
// nothing; one that failed otherwise has an unknown outcome.
func (wl *Workload) outcome(what string, res sql.Result, err error) (end int64, committed bool) {
	end = staleness.Now()
	if err != nil {
		wl.writeFailed(what, err)
		return staleness.Unknown, false
	}
	if res != nil {
		if n, err := res.RowsAffected(); err == nil && n == 0 {
			return end, false
		}
	}
	return end, true
}

// move changes key from into to and gives the child that the cascade
// moved with it the value cval, in one transaction. It reports whether a
// row moved and whether a child did.
func (wl *Workload) move(ctx context.Context, from, to, val, cval int64) (moved, child bool, err error) {
	tx, err := wl.DB.BeginTx(ctx, nil)
	if err != nil {
		return false, false, err
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, moveKey, to, val, from)
	if err != nil {
		return false, false, err
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return false, false, err
	}
	res, err = tx.ExecContext(ctx, updateChild, cval, to)
	if err != nil {
		return false, false, err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, false, err
	}
	return true, n > 0, tx.Commit()
}

// rejected reports whether err is the database refusing a write that
// could not apply (a key taken or missing, a deadlock between the forms'
// writes): it committed nothing, and the application expects it.
func rejected(err error) bool {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		return false
	}
	switch pe.Code {
	case "23505", "23503", "40P01", "40001": // unique, foreign key, deadlock, serialization
		return true
	}
	return false
}
