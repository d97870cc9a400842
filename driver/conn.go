//lint:file-ignore SA1019 a wrapper offers and calls the legacy Execer, Queryer and Begin exactly when the base driver has them

package driver

import (
	"context"
	"database/sql/driver"
	"errors"

	"github.com/yokedcache/yoked/invalidator"
	"github.com/yokedcache/yoked/sqlparse"
)

// conn implements every optional connection interface. Where the base
// connection lacks one, the method answers exactly as database/sql behaves
// without it (driver.ErrSkip, nil, true, the emulated Begin/Prepare), so an
// application cannot tell the difference; Unwrap reaches the base.
var (
	_ driver.Conn               = (*conn)(nil)
	_ driver.ConnBeginTx        = (*conn)(nil)
	_ driver.ConnPrepareContext = (*conn)(nil)
	_ driver.ExecerContext      = (*conn)(nil)
	_ driver.QueryerContext     = (*conn)(nil)
	_ driver.Pinger             = (*conn)(nil)
	_ driver.SessionResetter    = (*conn)(nil)
	_ driver.Validator          = (*conn)(nil)
	_ driver.NamedValueChecker  = (*conn)(nil)

	// The legacy context-less interfaces, offered exactly when the base
	// connection has them (tests and tools assert them through sql.Conn.Raw).
	_ driver.Execer  = connE{}  //nolint:staticcheck // forwarded on purpose
	_ driver.Queryer = connQ{}  //nolint:staticcheck // forwarded on purpose
	_ driver.Execer  = connEQ{} //nolint:staticcheck // forwarded on purpose
	_ driver.Queryer = connEQ{} //nolint:staticcheck // forwarded on purpose
)

var (
	errNamedParams = errors.New("sql: driver does not support the use of Named Parameters")
	errIsolation   = errors.New("sql: driver does not support non-default isolation level")
	errReadOnlyTx  = errors.New("sql: driver does not support read-only transactions")
)

// conn wraps one base connection. database/sql uses a connection from one
// goroutine at a time, so its fields need no lock.
type conn struct {
	base driver.Conn
	c    *connector

	// The base's optional interfaces, asserted once.
	qc  driver.QueryerContext
	q   driver.Queryer //nolint:staticcheck // legacy interface, forwarded on purpose
	ec  driver.ExecerContext
	e   driver.Execer //nolint:staticcheck // legacy interface, forwarded on purpose
	nvc driver.NamedValueChecker

	tx *tx // the transaction begun through BeginTx, if any

	// identity is the database this connection reached, the first part of
	// its cache keys (identity.go); "" when it could not be established:
	// its reads then bypass the cache.
	identity string
	// skip: why this connection's reads are never cached, or "" (its
	// current database is a system schema).
	skip string

	// tainted: the session state was changed (SET, USE, PRAGMA, temporary
	// table, a transaction begun by hand, Unwrap): the connection neither reads
	// nor fills the cache until it is closed.
	tainted bool
	// sticky: writes may not commit when they return (BEGIN by hand,
	// autocommit turned off). Every table written since the connection became
	// sticky is invalidated again after every non-read statement and at Close.
	sticky   bool
	dirty    map[string]struct{}
	dirtyAll bool
	// unwrapped: the base connection was handed out; retire this one.
	unwrapped bool

	keyBuf []byte
	// skipped: the last read missed and the base answered driver.ErrSkip.
	skipped *skippedRead

	// plans is a small per-connection plan cache in front of the
	// connector's: no locks on the hit path. planEpoch is the planner epoch
	// it was filled in.
	plans     map[string]*plan
	planEpoch uint64

	// pl makes the plans of this connection: its database's (sch), or
	// the connector's when it reads no catalog or the database is not
	// identified.
	pl  *planner
	sch *schema

	// schemaPending: DDL ran inside the current transaction; the catalog is
	// read again when it ends.
	schemaPending bool
	// implicitCommit: a statement may have ended the current transaction
	// (COMMIT typed by hand, MySQL DDL, XA, CALL, text that did not parse);
	// its later writes may commit as they return.
	implicitCommit bool
	// recheck: a setting that is part of the identity was assigned; the
	// identity is compared before the next cached read (see session.go).
	recheck bool
	// resetCheck: DISCARD ALL succeeded; if the identity is again the one
	// the connection opened with, the taint is cleared.
	resetCheck bool
	// pathUnsure: the session may no longer resolve table names the way
	// the catalog does (see session.go): writes resolved through the
	// search_path or current database invalidate everything.
	pathUnsure bool
}

// maxConnPlans bounds the per-connection plan cache; it is emptied when full.
const maxConnPlans = 256

// plan returns the plan of query, from the connection's own cache when it
// is current.
func (cn *conn) plan(query string) *plan {
	pl := cn.pl
	if e := pl.epoch.Load(); e != cn.planEpoch || cn.plans == nil {
		cn.plans = make(map[string]*plan, 16)
		cn.planEpoch = e
	}
	if p, ok := cn.plans[query]; ok {
		return p
	}
	p := pl.plan(query)
	if len(cn.plans) >= maxConnPlans {
		clear(cn.plans)
	}
	cn.plans[query] = p
	return p
}

func newConn(base driver.Conn, c *connector) *conn {
	cn := &conn{base: base, c: c, pl: c.planner}
	cn.qc, _ = base.(driver.QueryerContext)
	cn.q, _ = base.(driver.Queryer) //nolint:staticcheck
	cn.ec, _ = base.(driver.ExecerContext)
	cn.e, _ = base.(driver.Execer) //nolint:staticcheck
	cn.nvc, _ = base.(driver.NamedValueChecker)
	return cn
}

// connE, connQ and connEQ add the legacy driver.Execer and driver.Queryer
// to a conn whose base has them, so that code asserting them on the value
// sql.Conn.Raw hands out finds what it would find without yoked. database/sql
// itself prefers the context versions, which every variant has. Their
// methods go through the cache like ExecContext and QueryContext.
type (
	connE  struct{ *conn }
	connQ  struct{ *conn }
	connEQ struct{ *conn }
)

// public returns cn as database/sql is given it: with the legacy interfaces
// its base has.
func (cn *conn) public() driver.Conn {
	switch {
	case cn.e != nil && cn.q != nil:
		return connEQ{cn}
	case cn.e != nil:
		return connE{cn}
	case cn.q != nil:
		return connQ{cn}
	}
	return cn
}

// yokedConn returns the conn behind v, a value database/sql was given.
func yokedConn(v any) (*conn, bool) {
	switch c := v.(type) {
	case *conn:
		return c, true
	case connE:
		return c.conn, true
	case connQ:
		return c.conn, true
	case connEQ:
		return c.conn, true
	}
	return nil, false
}

func (c connE) Exec(query string, args []driver.Value) (driver.Result, error) { //nolint:staticcheck
	return c.ExecContext(context.Background(), query, valuesToNamed(args))
}

func (c connQ) Query(query string, args []driver.Value) (driver.Rows, error) { //nolint:staticcheck
	return c.QueryContext(context.Background(), query, valuesToNamed(args))
}

func (c connEQ) Exec(query string, args []driver.Value) (driver.Result, error) { //nolint:staticcheck
	return c.ExecContext(context.Background(), query, valuesToNamed(args))
}

func (c connEQ) Query(query string, args []driver.Value) (driver.Rows, error) { //nolint:staticcheck
	return c.QueryContext(context.Background(), query, valuesToNamed(args))
}

// Unwrap returns the base connection. yoked cannot see what is done through
// it, so the connection stops using the cache, reports itself invalid so
// that database/sql closes it instead of pooling it, and invalidates the
// whole namespace when it is closed (and after every later statement on it).
// Call Cache.InvalidateTables right after writing through the base
// connection to make those writes visible sooner.
func (cn *conn) Unwrap() driver.Conn {
	cn.tainted, cn.sticky, cn.dirtyAll, cn.unwrapped = true, true, true, true
	return cn.base
}

// Unwrap returns the base connection of a yoked connection, as handed to the
// function given to sql.Conn.Raw, or v itself when it is not yoked's.
func Unwrap(v any) any {
	if cn, ok := yokedConn(v); ok {
		return cn.Unwrap()
	}
	return v
}

func (cn *conn) Prepare(query string) (driver.Stmt, error) {
	return cn.PrepareContext(context.Background(), query)
}

func (cn *conn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	var (
		si  driver.Stmt
		err error
	)
	if pc, ok := cn.base.(driver.ConnPrepareContext); ok {
		si, err = pc.PrepareContext(ctx, query)
	} else {
		si, err = cn.base.Prepare(query)
		if err == nil {
			select {
			default:
			case <-ctx.Done():
				si.Close()
				return nil, ctx.Err()
			}
		}
	}
	if err != nil {
		return nil, err
	}
	return newStmt(si, cn, query), nil
}

func (cn *conn) Close() error {
	cn.flushDirty(context.Background())
	return cn.base.Close()
}

func (cn *conn) Begin() (driver.Tx, error) { //nolint:staticcheck // required by driver.Conn
	return cn.BeginTx(context.Background(), driver.TxOptions{})
}

func (cn *conn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	var (
		bt  driver.Tx
		err error
	)
	if bc, ok := cn.base.(driver.ConnBeginTx); ok {
		bt, err = bc.BeginTx(ctx, opts)
	} else {
		if opts.Isolation != 0 {
			return nil, errIsolation
		}
		if opts.ReadOnly {
			return nil, errReadOnlyTx
		}
		bt, err = cn.base.Begin() //nolint:staticcheck
		if err == nil && ctx.Done() != nil {
			select {
			default:
			case <-ctx.Done():
				bt.Rollback()
				return nil, ctx.Err()
			}
		}
	}
	if err != nil {
		return nil, err
	}
	t := &tx{base: bt, cn: cn, itx: cn.c.cache.inv.Begin(), ctx: ctx}
	cn.tx = t
	return t, nil
}

func (cn *conn) Ping(ctx context.Context) error {
	if p, ok := cn.base.(driver.Pinger); ok {
		return p.Ping(ctx)
	}
	return nil
}

func (cn *conn) ResetSession(ctx context.Context) error {
	if r, ok := cn.base.(driver.SessionResetter); ok {
		return r.ResetSession(ctx)
	}
	return nil
}

func (cn *conn) IsValid() bool {
	if cn.unwrapped {
		return false
	}
	if v, ok := cn.base.(driver.Validator); ok {
		return v.IsValid()
	}
	return true
}

func (cn *conn) CheckNamedValue(nv *driver.NamedValue) error {
	if cn.nvc != nil {
		return cn.nvc.CheckNamedValue(nv)
	}
	return driver.ErrSkip
}

func (cn *conn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	if cn.ec == nil && cn.e == nil {
		return nil, driver.ErrSkip
	}
	return cn.exec(ctx, cn.plan(query), args, func() (driver.Result, error) {
		if cn.ec != nil {
			return cn.ec.ExecContext(ctx, query, args)
		}
		dargs, err := legacyArgs(ctx, args)
		if err != nil {
			return nil, err
		}
		return cn.e.Exec(query, dargs)
	})
}

func (cn *conn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	if cn.qc == nil && cn.q == nil {
		return nil, driver.ErrSkip
	}
	return cn.query(ctx, cn.plan(query), query, args, func() (driver.Rows, error) {
		if cn.qc != nil {
			return cn.qc.QueryContext(ctx, query, args)
		}
		dargs, err := legacyArgs(ctx, args)
		if err != nil {
			return nil, err
		}
		return cn.q.Query(query, dargs)
	})
}

// legacyArgs prepares a call of a legacy (context-less) base method as
// database/sql does: named parameters are refused, and a context already
// done is reported instead of calling.
func legacyArgs(ctx context.Context, args []driver.NamedValue) ([]driver.Value, error) {
	dargs, err := namedValueToValue(args)
	if err != nil {
		return nil, err
	}
	select {
	default:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return dargs, nil
}

func namedValueToValue(named []driver.NamedValue) ([]driver.Value, error) {
	args := make([]driver.Value, len(named))
	for n, param := range named {
		if len(param.Name) > 0 {
			return nil, errNamedParams
		}
		args[n] = param.Value
	}
	return args, nil
}

// exec runs a statement that returns no rows, and invalidates what it wrote.
func (cn *conn) exec(ctx context.Context, p *plan, args []driver.NamedValue, run func() (driver.Result, error)) (driver.Result, error) {
	if cn.c.disabled {
		return run()
	}
	cn.before(p)
	p = cn.resolved(p)
	tags := p.writeTagsFor(args)
	w, err := cn.prepare(ctx, p, tags)
	if err != nil {
		return nil, err
	}
	res, err := run()
	if errors.Is(err, driver.ErrSkip) {
		cn.abandon(ctx, w)
		return res, err
	}
	cn.after(ctx, p, tags, w)
	cn.sessionAfter(p, err)
	if p.changesSchema() {
		cn.schemaChanged(ctx)
	}
	return res, err
}

// query runs a statement that returns rows: a read through the cache, or a
// write (INSERT … RETURNING) that is invalidated when it returns and again
// when its rows are closed, after which its statement has surely completed.
func (cn *conn) query(ctx context.Context, p *plan, query string, args []driver.NamedValue, run func() (driver.Rows, error)) (driver.Rows, error) {
	if cn.c.disabled {
		return run()
	}
	if p.stmt.Kind != sqlparse.KindRead {
		cn.before(p)
		p = cn.resolved(p)
		tags := p.writeTagsFor(args)
		w, err := cn.prepare(ctx, p, tags)
		if err != nil {
			return nil, err
		}
		rows, err := run()
		if errors.Is(err, driver.ErrSkip) {
			cn.abandon(ctx, w)
			return rows, err
		}
		cn.after(ctx, p, tags, w)
		cn.sessionAfter(p, err)
		if err != nil || !p.isWrite() {
			return rows, err
		}
		return &writeRows{fwdRows: fwd(rows), cn: cn, p: p, tags: tags, ctx: ctx}, nil
	}
	return cn.read(ctx, p, query, args, run)
}

// prepare announces a write that commits when it returns (autocommit) to
// the store before it is sent (invalidator.Prepare); nil for anything
// else. In strict mode it fails when the store cannot be reached, and the
// statement must not be sent. tags are the statement's write tags for its
// arguments (plan.writeTagsFor).
func (cn *conn) prepare(ctx context.Context, p *plan, tags []string) (*invalidator.Write, error) {
	if cn.tx != nil && !cn.implicitCommit || cn.sticky || !p.isWrite() {
		// (A transaction that may have ended (see before) commits its
		// writes as they return: they are announced like autocommit ones.)
		return nil, nil
	}
	return cn.c.cache.inv.Prepare(ctx, tags, p.writeAll, cn.c.cfg.Strict)
}

// abandon ends the mark of a statement the base did not run (ErrSkip):
// database/sql sends it again another way, which marks it again.
func (cn *conn) abandon(ctx context.Context, w *invalidator.Write) {
	if w != nil {
		w.Abandon(ctx)
	}
}

// after makes the statement's writes visible according to where it ran;
// tags are its write tags for its arguments, w is prepare's Write.
func (cn *conn) after(ctx context.Context, p *plan, tags []string, w *invalidator.Write) {
	write := p.isWrite()
	if write && !p.writeAll && cn.sch != nil && w != nil && cn.tx == nil && !cn.sticky {
		// An autocommit write that was marked: its end reads the schema
		// epoch in the same round trip (see schema.freshAfter).
		cn.c.cache.stats.invalidated(tags)
		fresh := cn.sch.freshAfter(ctx, cn.c, cn.base, p.state, w)
		cn.c.observeInvalidate(ctx, p.writeTags, false)
		if !fresh {
			// Planned with a catalog older than the schema it ran against.
			cn.c.invalidate(ctx, tags, true)
		}
		return
	}
	if write && !p.writeAll && cn.sch != nil && cn.tx != nil && w == nil {
		// Inside a transaction: checked once at COMMIT (tx.Commit), against
		// the state every write was planned under.
		cn.tx.planned(p.state)
	} else if write && !p.writeAll && cn.sch != nil && !cn.sch.fresh(ctx, cn.c, cn.base, p.state) {
		// Planned with a catalog older than the schema it ran against.
		stale := *p
		stale.writeAll = true
		p = &stale
		if w != nil {
			// The announced write covers the plan's own tags only.
			cn.c.cache.stats.invalidated(p.writeTags)
			w.Done(ctx)
			cn.c.observeInvalidate(ctx, p.writeTags, false)
			w = nil
		}
	}
	switch {
	case cn.tx != nil:
		if write {
			cn.tx.itx.Add(tags, p.writeAll)
		}
		if p.stmt.Kind == sqlparse.KindTx || cn.implicitCommit {
			// COMMIT typed inside a transaction (or anything that may end
			// it: see before) made writes visible already, and the writes
			// after it commit as they return.
			cn.tx.flush(ctx)
		}
		if w != nil {
			w.Done(ctx)
		}
	case cn.sticky:
		if write {
			cn.addDirty(p, tags)
		}
		cn.flushDirty(ctx)
	case w != nil:
		cn.c.cache.stats.invalidated(tags)
		w.Done(ctx)
		cn.c.observeInvalidate(ctx, p.writeTags, p.writeAll)
	case write:
		cn.c.invalidate(ctx, tags, p.writeAll)
	}
}

func (cn *conn) addDirty(p *plan, tags []string) {
	if p.writeAll {
		cn.dirtyAll = true
	}
	if len(tags) > 0 && cn.dirty == nil {
		cn.dirty = map[string]struct{}{}
	}
	for _, t := range tags {
		cn.dirty[t] = struct{}{}
	}
}

// flushDirty invalidates every table written since the connection became
// sticky. The set is kept: a later COMMIT typed by hand must invalidate again.
func (cn *conn) flushDirty(ctx context.Context) {
	if !cn.dirtyAll && len(cn.dirty) == 0 {
		return
	}
	tags := make([]string, 0, len(cn.dirty))
	for t := range cn.dirty {
		tags = append(tags, t)
	}
	cn.c.invalidate(ctx, tags, cn.dirtyAll)
}
