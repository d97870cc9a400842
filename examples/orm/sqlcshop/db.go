package sqlcshop

import (
	"context"
	"database/sql"
)

// DBTX is what Queries runs on: a *sql.DB, a *sql.Tx or a *sql.Conn.
type DBTX interface {
	ExecContext(context.Context, string, ...any) (sql.Result, error)
	PrepareContext(context.Context, string) (*sql.Stmt, error)
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
	QueryRowContext(context.Context, string, ...any) *sql.Row
}

// New returns the queries of query.sql over db.
func New(db DBTX) *Queries { return &Queries{db: db} }

// Queries runs the named queries of query.sql.
type Queries struct{ db DBTX }

// WithTx returns the same queries inside tx.
func (q *Queries) WithTx(tx *sql.Tx) *Queries { return &Queries{db: tx} }
