package driver

import (
	"context"
	"database/sql/driver"

	"github.com/yokedcache/yoked/invalidator"
)

var _ driver.Tx = (*tx)(nil)

// tx collects the tables its statements write and invalidates them after the
// base Commit returns, before Commit returns to the application. Rollback
// invalidates nothing. Reads inside the transaction go to the database.
type tx struct {
	base driver.Tx
	cn   *conn
	itx  *invalidator.Tx
}

func (t *tx) Commit() error {
	err := t.base.Commit()
	t.cn.tx = nil
	t.cn.txEnded()
	// Invalidate whatever err says: a commit that failed on a lost connection
	// may still have committed.
	if t.itx.Dirty() {
		t.cn.c.cache.stats.invalidated(t.itx.Tags())
	}
	t.itx.Commit(context.Background(), err)
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
	if t.itx.Dirty() {
		t.cn.c.cache.stats.invalidated(t.itx.Tags())
	}
	t.itx.Flush(ctx)
}
