package driver_test

import (
	"context"
	"testing"
)

// Transaction control typed inside a database/sql transaction: after it the
// "transaction" may be none, and its writes commit as they return. A read
// that starts after such a write returned never sees older data, whether
// the application then calls Commit or Rollback.
func TestE2ETransactionControlTypedInsideTx(t *testing.T) {
	stmts := map[string][]string{
		"sqlite":   {"COMMIT", "END"},
		"postgres": {"COMMIT", "END", "ROLLBACK", "ABORT", "COMMIT AND NO CHAIN"},
		"mysql":    {"COMMIT", "ROLLBACK", "BEGIN", "START TRANSACTION", "SET autocommit = 1", "ANALYZE TABLE orders", "CREATE TABLE yk_extra (id INT)"},
	}
	forEachBackend(t, func(t *testing.T, b backend) {
		for _, s := range stmts[b.dialect] {
			for _, end := range []string{"Rollback", "Commit"} {
				t.Run(s+"/"+end, func(t *testing.T) {
					e := b.open(t)
					ctx := context.Background()
					q := `SELECT name FROM users WHERE id = 1`
					e.str(e.db, q)
					e.hit(func() { e.str(e.db, q) })
					tx, err := e.db.BeginTx(ctx, nil)
					if err != nil {
						t.Fatal(err)
					}
					e.exec(tx, `UPDATE users SET name = 'first' WHERE id = 1`)
					if _, err := tx.ExecContext(ctx, s); err != nil {
						tx.Rollback()
						t.Skipf("%s inside a transaction: %v", s, err)
					}
					// A read elsewhere may cache what the database holds now.
					e.want("read after "+s, e.str(e.db, q), e.str(e.raw, q))
					e.str(e.db, q)
					e.exec(tx, `UPDATE users SET name = 'second' WHERE id = 1`)
					// The write returned: a new read elsewhere sees what the
					// database holds for every other session.
					e.want("read after the write returned", e.str(e.db, q), e.str(e.raw, q))
					if end == "Rollback" {
						tx.Rollback()
					} else {
						tx.Commit()
					}
					e.want("read after "+end, e.str(e.db, q), e.str(e.raw, q))
					e.want("read again", e.str(e.db, q), e.str(e.raw, q))
				})
			}
		}
	})
}

// MariaDB XA on a pinned connection: its writes do not commit as they
// return, so the connection must neither fill nor read the shared cache,
// and other sessions must never be served its uncommitted rows.
func TestE2EXAOnPinnedConnection(t *testing.T) {
	for _, b := range backends {
		if b.dialect != "mysql" {
			continue
		}
		for _, finish := range []string{"XA ROLLBACK 'yk'", "XA COMMIT 'yk'"} {
			t.Run(finish, func(t *testing.T) {
				e := b.open(t)
				ctx := context.Background()
				q := `SELECT name FROM users WHERE id = 1`
				e.str(e.db, q)
				conn, err := e.db.Conn(ctx)
				if err != nil {
					t.Fatal(err)
				}
				defer conn.Close()
				e.exec(conn, `XA START 'yk'`)
				e.exec(conn, `UPDATE users SET name = 'uncommitted' WHERE id = 1`)
				stores := e.cache.Stats().Stores
				for range 2 {
					e.miss(func() { e.want("own read", e.str(conn, q), "uncommitted") })
				}
				if got := e.cache.Stats().Stores; got != stores {
					t.Fatalf("the XA connection stored %d results", got-stores)
				}
				for range 2 {
					e.want("other session", e.str(e.db, q), "ada")
				}
				e.exec(conn, `XA END 'yk'`)
				if finish == "XA COMMIT 'yk'" {
					e.exec(conn, `XA PREPARE 'yk'`)
				}
				e.exec(conn, finish)
				e.want("after "+finish, e.str(e.db, q), e.str(e.raw, q))
			})
		}
	}
}
