package driver

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/yokedcache/yoked/catalog"
	"github.com/yokedcache/yoked/sqlparse"
)

// The schema catalog (package catalog) tells what a statement really reads
// and writes. The driver reads it once per connector, through the first
// base connection (not through yoked), and again after every DDL statement
// yoked sees, through the base connection that ran it (after COMMIT for DDL
// inside a transaction, which meanwhile invalidates everything when it
// commits). A catalog that cannot be read makes every write invalidate
// everything and every read that calls a function uncacheable, until a read
// succeeds. Schema changes made by other programs are seen only after the
// next DDL through yoked or a new connector.

// skipUnscoped is the skip reason of reads of row-level-security tables
// without a scope in the context.
const skipUnscoped = "unscoped_row_security"

// WithDependencies declares writes yoked cannot see in the schema: a write
// to table X also invalidates every table in deps[X] (transitively). Use it
// for triggers whose bodies yoked cannot read, for writes made by stored
// procedures, or to stop an opaque trigger from invalidating the whole
// namespace: a table with a declared dependency is trusted to write only
// what is declared plus what yoked itself found. Names are table names;
// schemas are dropped as in TableTag.
func WithDependencies(deps map[string][]string) Option {
	return func(c *Config) {
		if c.Dependencies == nil {
			c.Dependencies = map[string][]string{}
		}
		for k, v := range deps {
			c.Dependencies[k] = append(c.Dependencies[k], v...)
		}
	}
}

// WithoutCatalog stops yoked from reading the schema catalog: statements are
// tagged with exactly the tables they name. Use it only when the schema has
// no cascading foreign keys, views, triggers, inheritance, partitions,
// user functions or row-level security that yoked would need to know, or
// with a base driver that cannot answer catalog queries (a mock). Without
// it, a base whose catalog cannot be read makes every write invalidate
// everything.
func WithoutCatalog() Option { return func(c *Config) { c.NoCatalog = true } }

// catalogTimeout bounds one introspection.
const catalogTimeout = 30 * time.Second

// loadCatalog reads the catalog through bc and installs it, resetting the
// plans when it changed. first: only if no catalog was read yet (first
// connection of the connector). A failure installs failedCatalog.
func (c *connector) loadCatalog(ctx context.Context, bc driver.Conn, first bool) {
	if !catalog.Supported(c.dialect) || c.disabled || c.cfg.NoCatalog {
		return
	}
	c.catMu.Lock()
	defer c.catMu.Unlock()
	if first && c.catLoaded {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), catalogTimeout)
	defer cancel()
	q := baseQuerier{bc}
	cat, err := catalog.Load(ctx, c.dialect, q, c.planner.parser, c.cfg.Dependencies)
	if err != nil && ctx.Err() == nil {
		// Once more: a relation dropped while the catalog was read can fail it.
		cat, err = catalog.Load(ctx, c.dialect, q, c.planner.parser, c.cfg.Dependencies)
	}
	if err != nil {
		c.cfg.Logger.Warn("yoked: cannot read the schema catalog; every write invalidates everything until it can", "err", err)
		cat = catalog.Failed()
		c.catLoaded = false
	} else {
		c.catLoaded = true
	}
	if old := c.planner.cat.Load(); old != nil && old.Equal(cat) {
		return
	}
	c.planner.cat.Store(cat)
	c.planner.reset()
}

// schemaChanged is called after a DDL statement (or one yoked could not
// classify) ran on the connection. Outside a transaction the catalog is read
// again at once through this connection. Inside one, the transaction
// invalidates everything when it commits (its later writes were planned with
// the old catalog) and the catalog is read again when it ends; on MySQL,
// where DDL commits the transaction, all that happens at once and the
// transaction's later writes are invalidated as they return.
func (cn *conn) schemaChanged(ctx context.Context) {
	if cn.c.disabled || cn.c.cfg.NoCatalog || !catalog.Supported(cn.c.dialect) {
		return
	}
	if cn.tx != nil && cn.c.dialect == sqlparse.DialectMySQL {
		// MySQL commits the transaction before and after DDL: what it wrote
		// is visible now, and so is every later write of the "transaction".
		cn.tx.itx.Add(nil, true)
		cn.tx.flush(ctx)
		cn.implicitCommit = true
		cn.c.loadCatalog(ctx, cn.base, false)
		return
	}
	if cn.tx != nil {
		cn.tx.itx.Add(nil, true)
		cn.schemaPending = true
		return
	}
	if cn.sticky {
		// A transaction begun by hand may still undo or hold the change:
		// everything written on this connection is invalidated from now on.
		cn.dirtyAll = true
	}
	cn.c.loadCatalog(ctx, cn.base, false)
}

// changesSchema: the statement may have changed the schema (DDL, or text
// yoked could not classify). DDL sent through Query rather than Exec is
// seen at the next DDL or connector.
func (p *plan) changesSchema() bool {
	return p.stmt.Kind == sqlparse.KindDDL || p.stmt.Kind == sqlparse.KindUnknown
}

// txEnded reads the catalog again if the transaction that just ended ran DDL.
func (cn *conn) txEnded() {
	cn.implicitCommit = false
	if cn.schemaPending {
		cn.schemaPending = false
		cn.c.loadCatalog(context.Background(), cn.base, false)
	}
}

// baseQuerier runs catalog queries on a base connection.
type baseQuerier struct{ bc driver.Conn }

func (q baseQuerier) Query(ctx context.Context, query string) ([][]string, error) {
	return baseQuery(ctx, q.bc, query)
}

// baseQuery runs a catalog query without arguments on a base connection and
// returns its rows as strings (NULL is "").
func baseQuery(ctx context.Context, bc driver.Conn, q string) (out [][]string, err error) {
	var rows driver.Rows
	if qc, ok := bc.(driver.QueryerContext); ok {
		rows, err = qc.QueryContext(ctx, q, nil)
	} else {
		err = driver.ErrSkip
	}
	if errors.Is(err, driver.ErrSkip) {
		var st driver.Stmt
		if pc, ok := bc.(driver.ConnPrepareContext); ok {
			st, err = pc.PrepareContext(ctx, q)
		} else {
			st, err = bc.Prepare(q)
		}
		if err != nil {
			return nil, err
		}
		defer st.Close()
		rows, err = st.Query(nil) //nolint:staticcheck // the base may offer nothing newer
	}
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	dest := make([]driver.Value, len(rows.Columns()))
	for {
		if err := rows.Next(dest); err == io.EOF {
			return out, nil
		} else if err != nil {
			return nil, err
		}
		row := make([]string, len(dest))
		for i, v := range dest {
			switch v := v.(type) {
			case nil:
			case string:
				row[i] = v
			case []byte:
				row[i] = string(v)
			case int64:
				row[i] = strconv.FormatInt(v, 10)
			case bool:
				row[i] = strconv.FormatBool(v)
			default:
				row[i] = fmt.Sprint(v)
			}
		}
		out = append(out, row)
	}
}
