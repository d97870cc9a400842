package driver

import (
	"context"
	"database/sql/driver"
	"errors"

	"github.com/yokedcache/yoked/invalidator"
)

var _ driver.Tx = (*tx)(nil)

// tx collects the tables its statements write, marks them in flight in the
// store just before the base Commit (when the store is shared between
// processes) and invalidates them after it returns, before Commit returns to
// the application. Rollback invalidates nothing. Reads inside the transaction go to the database.
type tx struct {
	base driver.Tx
	cn   *conn
	itx  *invalidator.Tx
	ctx  context.Context // BeginTx's, for the Observer at Commit
	// state is the schema state the transaction's writes were planned
	// under (the first one's); mixed: some were planned under another.
	state *schemaState
	mixed bool
}

// stale reports, reading the schema epoch, whether a write of the
// transaction was planned under a catalog older than the schema (see
// planned), for writes that become visible before COMMIT (flush).
func (t *tx) stale(ctx context.Context) bool {
	s := t.cn.sch
	switch {
	case s == nil || t.state == nil && !t.mixed:
		return false
	case t.mixed || t.state != s.current():
		return true
	}
	return !s.fresh(ctx, t.cn.c, t.cn.base, t.state)
}

// planned records the schema state a write of the transaction was planned
// under. The schema epoch is checked once, at COMMIT: a write planned under
// a state other than the current one then makes the commit invalidate
// everything, as does an epoch that moved since the state was read
// (versions never come back, so an epoch found unchanged at COMMIT was
// unchanged when each write ran).
func (t *tx) planned(st *schemaState) {
	switch {
	case !t.mixed && t.state == nil:
		t.state, t.mixed = st, st == nil
	case st != t.state:
		t.mixed = true
	}
}

func (t *tx) Commit() error {
	ctx := context.Background()
	dirty := t.itx.Dirty()
	var tags []string
	if dirty {
		tags = t.itx.Tags()
	}
	// Announce the writes before the COMMIT is sent; in strict mode a store
	// that cannot be reached rolls the transaction back instead.
	w, err := t.itx.Prepare(ctx, t.cn.c.cfg.Strict)
	if err != nil {
		rerr := t.base.Rollback()
		t.cn.tx = nil
		t.cn.txEnded()
		t.itx.Rollback()
		if rerr != nil {
			return errors.Join(err, rerr)
		}
		return err
	}
	err = t.base.Commit()
	t.cn.tx = nil
	// Invalidate whatever err says: a commit that failed on a lost connection
	// may still have committed.
	if dirty {
		t.cn.c.cache.stats.invalidated(tags)
		t.observe(t.ctx, tags)
	}
	fresh := true
	switch s := t.cn.sch; {
	case !dirty || s == nil:
		w.Done(ctx)
	case t.mixed || t.state != nil && t.state != s.current():
		w.Done(ctx)
		fresh = false
	default:
		// The end of the mark reads the schema epoch in the same round trip.
		fresh = s.freshAfter(ctx, t.cn.c, t.cn.base, s.current(), w)
	}
	if !fresh {
		// The schema changed while the transaction ran: its writes were
		// planned with a catalog that may miss what they wrote.
		t.cn.c.invalidate(ctx, nil, true)
	}
	// After the commit's invalidation (which moves the schema epoch when
	// the transaction ran DDL), so the catalog is read under the new epoch.
	t.cn.txEnded()
	return err
}

func (t *tx) Rollback() error {
	err := t.base.Rollback()
	t.cn.tx = nil
	t.cn.txEnded()
	t.itx.Rollback()
	return err
}

// flush invalidates what the transaction wrote so far, for a COMMIT typed
// inside it; the tags stay collected for the real Commit.
func (t *tx) flush(ctx context.Context) {
	if t.itx.Dirty() && t.stale(ctx) {
		t.itx.Add(nil, true)
	}
	if t.itx.Dirty() {
		tags := t.itx.Tags()
		t.cn.c.cache.stats.invalidated(tags)
		t.observe(ctx, tags)
	}
	t.itx.Flush(ctx)
}

// observe tells the Observer, if any, what the transaction invalidates.
func (t *tx) observe(ctx context.Context, tags []string) {
	t.cn.c.observeInvalidate(ctx, tags, t.itx.All())
}
