package benchsuite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"io"
)

// floorDriver returns a fixed one-row result for every query and accepts
// every write, doing nothing: what database/sql costs by itself.
type floorDriver struct{}

type floorConn struct{}

type floorRows struct{ sent bool }

type floorResult struct{}

var (
	_ driver.QueryerContext = floorConn{}
	_ driver.ExecerContext  = floorConn{}
)

func (floorDriver) Open(string) (driver.Conn, error) { return floorConn{}, nil }

func (floorConn) Prepare(string) (driver.Stmt, error) { return nil, driver.ErrSkip }
func (floorConn) Close() error                        { return nil }
func (floorConn) Begin() (driver.Tx, error)           { return floorConn{}, nil }
func (floorConn) Commit() error                       { return nil }
func (floorConn) Rollback() error                     { return nil }
func (floorConn) ExecContext(context.Context, string, []driver.NamedValue) (driver.Result, error) {
	return floorResult{}, nil
}
func (floorConn) QueryContext(context.Context, string, []driver.NamedValue) (driver.Rows, error) {
	return &floorRows{}, nil
}

func (floorResult) LastInsertId() (int64, error) { return 0, nil }
func (floorResult) RowsAffected() (int64, error) { return 1, nil }

func (*floorRows) Columns() []string { return []string{"id", "name"} }
func (*floorRows) Close() error      { return nil }
func (r *floorRows) Next(dest []driver.Value) error {
	if r.sent {
		return io.EOF
	}
	r.sent = true
	dest[0], dest[1] = int64(1), "ada"
	return nil
}

func init() { sql.Register("benchsuite-floor", floorDriver{}) }
