package driver_test

import (
	"context"
	"sync/atomic"
	"testing"

	yoked "github.com/yokedcache/yoked/driver"
	"github.com/yokedcache/yoked/internal/testenv"
	"github.com/yokedcache/yoked/tagstore"
	"github.com/yokedcache/yoked/tagstore/redisstore"
)

// stampCounter is a Redis store that counts Stamp calls (its other methods,
// optional interfaces included, are the Store's own).
type stampCounter struct {
	*redisstore.Store
	stamps atomic.Int64
}

func (s *stampCounter) Stamp(ctx context.Context, tags []string) (tagstore.Stamp, error) {
	s.stamps.Add(1)
	return s.Store.Stamp(ctx, tags)
}

// TestEpochReadByTheEndOfTheMark: with the Redis store, a marked write
// (autocommit or COMMIT) reads the schema epoch in the script that ends its
// mark, not in a round trip of its own; the check is as strong as before:
// DDL by another process between the write's plan and its end makes it
// invalidate everything, and a write planned under the current catalog
// invalidates only what it wrote.
func TestEpochReadByTheEndOfTheMark(t *testing.T) {
	b := backends[2] // pgx
	addr := testenv.Redis(t)
	ns := testenv.Name("epoch_")
	newStore := func() *stampCounter {
		rs, err := redisstore.NewFromURL("redis://"+addr+"/0", redisstore.Options{Namespace: ns, Codec: yoked.ResultCodec()})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { rs.Close() })
		return &stampCounter{Store: rs}
	}
	mine := newStore()
	e := b.open(t, yoked.WithStore(mine))
	e.ready(e.db)
	// Another process: a store and a catalog of its own.
	theirs := newStore()
	other, err := yoked.Open(b.name, e.dsn, yoked.WithStore(theirs))
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if err := yoked.WaitCatalog(context.Background(), other); err != nil {
		t.Fatal(err)
	}
	// The other process plans its writes now, under the catalog without
	// the trigger (the first run of each statement plans it).
	e.exec(other, `UPDATE orders SET total = 11 WHERE id = 1`)
	tx, err := other.Begin()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(`UPDATE orders SET total = 12 WHERE id = 1`); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}

	stampsOf := func(write func()) int64 {
		n := theirs.stamps.Load()
		write()
		return theirs.stamps.Load() - n
	}
	// Under the current catalog: no Stamp, and only what it wrote.
	e.cachedCount("audit", "0")
	if n := stampsOf(func() { e.exec(other, `UPDATE orders SET total = 13 WHERE id = 1`) }); n != 0 {
		t.Errorf("an autocommit write stamped %d times, want 0 (the epoch read by the end script)", n)
	}
	e.hit(func() { e.want("audit after an unrelated write", e.str(e.db, e.countQ("audit")), "0") })
	if n := stampsOf(func() {
		tx, err := other.Begin()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tx.Exec(`UPDATE orders SET total = 12 WHERE id = 1`); err != nil {
			t.Fatal(err)
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("a COMMIT stamped %d times, want 0 (the epoch read by the end script)", n)
	}
	e.hit(func() { e.want("audit after an unrelated commit", e.str(e.db, e.countQ("audit")), "0") })

	// DDL in this process moves the epoch; the other process has not read
	// it yet when it writes users, whose new trigger writes audit.
	for _, q := range triggerSQL(b, "trg_epoch", `INSERT INTO audit (note) VALUES ('epoch')`) {
		e.exec(e.db, q)
	}
	e.ready(e.db)
	e.cachedCount("audit", "0")
	// (It reads the catalog again then, which stamps.)
	e.exec(other, `UPDATE users SET name = 'ann' WHERE id = 1`)
	e.want("audit after the stale process's autocommit write", e.str(e.db, e.countQ("audit")), "1")

	// Again, for a transaction's COMMIT: the other process reads the
	// catalog without any trigger (its stale write finds the epoch moved)
	// and plans the write, then a trigger appears.
	for _, q := range []string{`DROP TRIGGER trg_epoch ON users`, `DROP FUNCTION trg_epoch_fn()`} {
		e.exec(e.db, q)
	}
	e.exec(other, `UPDATE users SET name = 'ann' WHERE id = 1`)
	if err := yoked.WaitCatalog(context.Background(), other); err != nil {
		t.Fatal(err)
	}
	e.exec(other, `UPDATE users SET name = 'ann' WHERE id = 2`)
	for _, q := range triggerSQL(b, "trg_epoch2", `INSERT INTO audit (note) VALUES ('epoch2')`) {
		e.exec(e.db, q)
	}
	e.ready(e.db)
	e.cachedCount("audit", "1")
	commit := func() {
		tx, err := other.Begin()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tx.Exec(`UPDATE orders SET total = 14 WHERE id = 1`); err != nil {
			t.Fatal(err)
		}
		if _, err := tx.Exec(`UPDATE users SET name = 'ann' WHERE id = 2`); err != nil {
			t.Fatal(err)
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	commit()
	e.want("audit after the stale process's commit", e.str(e.db, e.countQ("audit")), "2")
}
