//lint:file-ignore SA1019 a wrapper forwards the legacy ColumnConverter and Stmt.Exec/Query of base drivers that have only those

package driver

import (
	"context"
	"database/sql/driver"
)

// stmt implements the context statement interfaces and NamedValueChecker;
// stmtCC adds ColumnConverter, and is used only when the base statement has
// one, because database/sql treats a statement's ColumnConverter differently
// from its default conversion.
var (
	_ driver.Stmt              = (*stmt)(nil)
	_ driver.StmtExecContext   = (*stmt)(nil)
	_ driver.StmtQueryContext  = (*stmt)(nil)
	_ driver.NamedValueChecker = (*stmt)(nil)
	_ driver.ColumnConverter   = (*stmtCC)(nil) //nolint:staticcheck // forwarded on purpose
)

type stmt struct {
	base  driver.Stmt
	cn    *conn
	query string
}

type stmtCC struct{ *stmt }

func (s stmtCC) ColumnConverter(idx int) driver.ValueConverter { //nolint:staticcheck
	return s.base.(driver.ColumnConverter).ColumnConverter(idx) //nolint:staticcheck
}

func newStmt(base driver.Stmt, cn *conn, query string) driver.Stmt {
	s := &stmt{base: base, cn: cn, query: query}
	if _, ok := base.(driver.ColumnConverter); ok { //nolint:staticcheck
		return stmtCC{s}
	}
	return s
}

func (s *stmt) Close() error  { return s.base.Close() }
func (s *stmt) NumInput() int { return s.base.NumInput() }

// CheckNamedValue asks the base statement, then the base connection, as
// database/sql would; driver.ErrSkip sends database/sql on to the
// ColumnConverter or its default conversion.
func (s *stmt) CheckNamedValue(nv *driver.NamedValue) error {
	if c, ok := s.base.(driver.NamedValueChecker); ok {
		return c.CheckNamedValue(nv)
	}
	return s.cn.CheckNamedValue(nv)
}

func (s *stmt) Exec(args []driver.Value) (driver.Result, error) { //nolint:staticcheck // required by driver.Stmt
	return s.ExecContext(context.Background(), valuesToNamed(args))
}

func (s *stmt) Query(args []driver.Value) (driver.Rows, error) { //nolint:staticcheck // required by driver.Stmt
	return s.QueryContext(context.Background(), valuesToNamed(args))
}

func valuesToNamed(args []driver.Value) []driver.NamedValue {
	nv := make([]driver.NamedValue, len(args))
	for i, v := range args {
		nv[i] = driver.NamedValue{Ordinal: i + 1, Value: v}
	}
	return nv
}

func (s *stmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	return s.cn.exec(ctx, s.cn.plan(s.query), args, func() (driver.Result, error) {
		if sc, ok := s.base.(driver.StmtExecContext); ok {
			return sc.ExecContext(ctx, args)
		}
		dargs, err := legacyArgs(ctx, args)
		if err != nil {
			return nil, err
		}
		return s.base.Exec(dargs) //nolint:staticcheck
	})
}

func (s *stmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	return s.cn.query(ctx, s.cn.plan(s.query), s.query, args, func() (driver.Rows, error) {
		if sc, ok := s.base.(driver.StmtQueryContext); ok {
			return sc.QueryContext(ctx, args)
		}
		dargs, err := legacyArgs(ctx, args)
		if err != nil {
			return nil, err
		}
		return s.base.Query(dargs) //nolint:staticcheck
	})
}
