package driver

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/yokedcache/yoked/catalog"
	"github.com/yokedcache/yoked/invalidator"
	"github.com/yokedcache/yoked/sqlparse"
	"github.com/yokedcache/yoked/tagstore"
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
// what is declared plus what yoked itself found. Names are table names,
// qualified or not; unqualified ones resolve as in the statements of the
// connection (see TableTag).
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

// catalogTimeout bounds one catalog read (a few queries on the catalog
// tables); a read that takes longer fails and is retried later.
const catalogTimeout = 10 * time.Second

// Skip reasons of reads planned without a catalog.
const (
	skipCatalogLoading = "catalog_loading"     // the catalog is being read
	skipCatalogFailed  = "catalog_unavailable" // the catalog could not be read
)

// Retry delays after a failed catalog read.
const (
	catalogRetryMin = time.Second
	catalogRetryMax = time.Minute
	// catalogEpochRetry is how soon a catalog read under an unknown epoch
	// (the store did not answer) is read again. Only a read whose stamp the
	// store answered asks for it (stampFresh), so it is not repeated while
	// the store is down; reads are not stored until then.
	catalogEpochRetry = 100 * time.Millisecond
)

// schemaState is one installed catalog.
type schemaState struct {
	cat *catalog.Catalog // catalog.Failed() when the read failed
	// epochTag is the tag of the database's schema epoch (SchemaTag);
	// epoch its version read before the catalog was. "" and 0 when the
	// read failed.
	epochTag string
	epoch    uint64
}

// schema is the catalog of one database as every connection of the process
// that reaches it (same identity, store and declared dependencies) sees it,
// with the plans made with it. It is read in the background through a base
// connection of its own, or, for SQLite (local, and a database in memory
// is visible to its own connection only), through the connection being
// opened; after DDL, through the connection that ran it.
//
// A schema epoch in the store (SchemaTag of the database's name) tells
// every process sharing the store that the schema changed: DDL through
// yoked moves it; every cached read depends on it; a read stores its result
// only while the epoch is the one its catalog was read under; a write (and
// a commit) that finds it moved invalidates everything, and the catalog is
// read again.
type schema struct {
	dialect  string
	identity string
	parser   sqlparse.Parser
	deps     map[string][]string
	log      *slog.Logger
	cache    *Cache
	planner  *planner
	// local: read through the application's own connections (SQLite).
	local bool

	// state is nil while the catalog is being read.
	state atomic.Pointer[schemaState]
	// due is set when a read should be (re)tried: the first connection,
	// after a failure once the retry delay passed, after the epoch moved.
	due atomic.Bool

	mu      sync.Mutex
	err     error  // why the last read failed
	loading bool   // a background read runs
	seq     uint64 // reads started
	shown   uint64 // seq of the read installed
	retryAt time.Time
	backoff time.Duration
}

// schemas holds the schema of each database reached in this process.
var schemas struct {
	sync.Mutex
	m map[string]*schema
}

// SchemaTag is the tag whose version is the schema epoch of a database (as
// catalog.Database names it): InvalidateTags(SchemaTag(name)) makes every
// yoked process sharing the store read that database's catalog again.
func SchemaTag(database string) string { return "schema:" + database }

// readsCatalog reports whether c reads a schema catalog.
func (c *connector) readsCatalog() bool {
	return catalog.Supported(c.dialect) && !c.disabled && !c.cfg.NoCatalog
}

// schemaFor returns the shared schema of the database a connection of c
// reached, identified as identity.
func schemaFor(c *connector, identity string) *schema {
	var deps []string
	for t, ds := range c.cfg.Dependencies {
		deps = append(deps, t+"="+strings.Join(ds, ","))
	}
	slices.Sort(deps)
	key := fmt.Sprintf("%p\x00%s\x00%s\x00%s", c.cache, c.dialect, identity, strings.Join(deps, ";"))
	schemas.Lock()
	defer schemas.Unlock()
	if s, ok := schemas.m[key]; ok {
		return s
	}
	if schemas.m == nil {
		schemas.m = map[string]*schema{}
	}
	s := &schema{dialect: c.dialect, identity: identity, parser: c.planner.parser, deps: c.cfg.Dependencies,
		log: c.cfg.Logger, cache: c.cache, local: c.dialect == sqlparse.DialectSQLite}
	s.planner = newPlanner(c.planner.parser, &c.cache.stats)
	s.planner.dialect, s.planner.rowTags = c.planner.dialect, c.planner.rowTags
	s.planner.sch = s
	s.due.Store(true)
	schemas.m[key] = s
	return s
}

// current returns the installed state, or nil while none is.
func (s *schema) current() *schemaState { return s.state.Load() }

// ensure starts a catalog read if one is due: in the background through a
// base connection of its own, or (local) at once through bc.
func (s *schema) ensure(ctx context.Context, c *connector, bc driver.Conn) {
	if !s.due.Load() {
		return
	}
	s.mu.Lock()
	if s.loading || !s.due.Load() || time.Now().Before(s.retryAt) {
		s.mu.Unlock()
		return
	}
	s.due.Store(false)
	if s.local {
		s.mu.Unlock()
		if bc != nil {
			s.load(ctx, baseQuerier{bc}, false)
		} else {
			s.due.Store(true)
		}
		return
	}
	s.loading = true
	s.mu.Unlock()
	go func() {
		defer func() {
			s.mu.Lock()
			s.loading = false
			s.mu.Unlock()
		}()
		ctx, cancel := context.WithTimeout(context.Background(), catalogTimeout)
		defer cancel()
		bc, err := c.base.Connect(ctx)
		if err != nil {
			s.fail(fmt.Errorf("connecting to read it: %w", err), false)
			return
		}
		defer bc.Close()
		s.load(ctx, baseQuerier{bc}, false)
	}()
}

// changed is called when the schema may have changed: until a new catalog
// is read, reads are not cached and writes invalidate everything. ddl, when
// not nil, is the connection that ran DDL: the epoch is moved and the
// catalog read through it at once (DDL is rare, and the next statement
// must see the new facts). Otherwise (the epoch moved: another handle ran
// the DDL) it is read in the background, or through seen when local.
func (s *schema) changed(ctx context.Context, c *connector, ddl, seen driver.Conn) {
	s.mu.Lock()
	s.retryAt = time.Time{}
	s.state.Store(nil)
	s.planner.reset()
	s.mu.Unlock()
	if ddl != nil {
		s.due.Store(false)
		s.load(ctx, baseQuerier{ddl}, true)
		return
	}
	s.due.Store(true)
	s.ensure(ctx, c, seen)
}

// ready waits until a catalog is installed and returns why it failed, if
// it did.
func (s *schema) ready(ctx context.Context) error {
	t := time.NewTicker(5 * time.Millisecond)
	defer t.Stop()
	for {
		if st := s.state.Load(); st != nil {
			if st.cat.IsFailed() {
				s.mu.Lock()
				err := s.err
				s.mu.Unlock()
				return err
			}
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

// WaitCatalog waits until the schema catalog of the database a DB opened
// through yoked reaches has been read, so that its reads may be cached:
// until then they bypass the cache (skip reason catalog_loading). It opens a
// connection if the DB has none. It returns nil at once for a DB that reads
// no catalog, and the error of the last read when it failed (reads then stay
// uncached until a later read succeeds).
func WaitCatalog(ctx context.Context, db *sql.DB) error {
	bd, ok := db.Driver().(*boundDriver)
	if !ok {
		return fmt.Errorf("yoked: DB was not opened through yoked (driver %T)", db.Driver())
	}
	c := bd.c
	if !c.readsCatalog() {
		return nil
	}
	s := c.lastSchema.Load()
	if s == nil {
		if err := db.PingContext(ctx); err != nil {
			return err
		}
		if s = c.lastSchema.Load(); s == nil {
			return errors.New("yoked: the connection reached no identified database; no catalog is read")
		}
	}
	return s.ready(ctx)
}

// load reads the catalog through q (bounded by catalogTimeout and by ctx)
// and installs it unless a later read was installed meanwhile. bump: DDL
// ran; move the epoch first.
func (s *schema) load(ctx context.Context, q catalog.Querier, bump bool) {
	ctx, cancel := context.WithTimeout(ctx, catalogTimeout)
	defer cancel()
	s.mu.Lock()
	s.seq++
	seq := s.seq
	s.mu.Unlock()
	name, err := catalog.Database(ctx, s.dialect, q)
	if err != nil {
		s.fail(err, ctx.Err() != nil)
		return
	}
	if name == "" {
		name = "private:" + s.identity
	}
	tag := SchemaTag(name)
	if bump {
		s.cache.inv.Invalidate(ctx, []string{tag}, false)
	}
	// The epoch before the catalog: a change after this point moves it
	// past what the catalog is recorded under.
	st, err := s.cache.store.Stamp(ctx, []string{tag})
	var epoch uint64
	if i := slices.Index(st.Tags, tag); err == nil && i >= 0 {
		epoch = st.Versions[i]
	} else {
		// The store cannot say now (down, or a write of everything in
		// flight): the catalog is used with an unknown epoch — writes trust
		// it, reads are not stored — and read again soon to learn it.
		s.log.Debug("yoked: schema epoch unknown; catalog read again soon", "err", err)
		defer func() {
			s.mu.Lock()
			s.retryAt = time.Now().Add(catalogEpochRetry)
			s.mu.Unlock()
			s.due.Store(true)
		}()
	}
	cat, err := catalog.Load(ctx, s.dialect, q, s.parser, s.deps)
	if err != nil && ctx.Err() == nil {
		// Once more: a relation dropped while the catalog was read can fail it.
		cat, err = catalog.Load(ctx, s.dialect, q, s.parser, s.deps)
	}
	if err != nil {
		s.fail(err, ctx.Err() != nil)
		return
	}
	s.install(seq, &schemaState{cat: cat, epochTag: tag, epoch: epoch})
}

// fail installs the failed catalog and schedules another read.
func (s *schema) fail(err error, cancelled bool) {
	s.log.Warn("yoked: cannot read the schema catalog; reads are not cached and every write invalidates everything until it can", "err", err)
	s.mu.Lock()
	s.seq++
	s.err = err
	if cancelled {
		s.backoff = 0
		s.retryAt = time.Now().Add(catalogRetryMin)
	} else {
		s.backoff = min(max(2*s.backoff, catalogRetryMin), catalogRetryMax)
	}
	if !cancelled {
		s.retryAt = time.Now().Add(s.backoff)
	}
	seq := s.seq
	s.mu.Unlock()
	s.install(seq, &schemaState{cat: catalog.Failed()})
	s.due.Store(true)
}

func (s *schema) install(seq uint64, st *schemaState) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if seq <= s.shown {
		return // a read started later was installed
	}
	s.shown = seq
	if !st.cat.IsFailed() {
		s.backoff, s.retryAt = 0, time.Time{}
	}
	if old := s.state.Load(); old != nil && old.epoch == st.epoch && old.epochTag == st.epochTag && old.cat.Equal(st.cat) {
		return
	}
	s.state.Store(st)
	s.planner.reset()
}

// fresh reports whether a write planned under st may trust its catalog: st
// is the installed state and the store's epoch is still the one it was read
// under. When the epoch moved, the catalog is read again.
func (s *schema) fresh(ctx context.Context, c *connector, bc driver.Conn, st *schemaState) bool {
	if st == nil || st != s.state.Load() || st.cat.IsFailed() {
		return false
	}
	if st.epoch == 0 {
		return true // unknown until the next read of the catalog (see load)
	}
	if s.cache.inv.Pending() > 0 {
		// The store is failing (an invalidation waits for a retry): do not
		// wait for it again; the write invalidates everything instead.
		return false
	}
	stamp, err := s.cache.store.Stamp(ctx, []string{st.epochTag})
	if err != nil {
		return false
	}
	return s.stampFresh(ctx, c, bc, stamp, st)
}

// freshAfter ends w, an autocommit write planned under st (w.Done), and
// then reports what fresh would: the schema epoch is read by the end's own
// round trip when the store can (invalidator.Write.DoneReading), after the
// write returned as fresh reads it, and by fresh otherwise.
func (s *schema) freshAfter(ctx context.Context, c *connector, bc driver.Conn, st *schemaState, w *invalidator.Write) bool {
	if st == nil || st != s.state.Load() || st.cat.IsFailed() || st.epoch == 0 || s.cache.inv.Pending() > 0 {
		w.Done(ctx)
		return s.fresh(ctx, c, bc, st) // decided without the store
	}
	v, ok := w.DoneReading(ctx, st.epochTag)
	if !ok {
		return s.fresh(ctx, c, bc, st)
	}
	return s.stampFresh(ctx, c, bc, tagstore.Stamp{Tags: []string{st.epochTag}, Versions: []uint64{v}}, st)
}

// stampFresh reports whether a read planned under st may store a result
// under stamp: st is the installed state and stamp holds the epoch it was
// read under. When the epoch moved, the catalog is read again.
func (s *schema) stampFresh(ctx context.Context, c *connector, bc driver.Conn, stamp tagstore.Stamp, st *schemaState) bool {
	if st == nil || st != s.state.Load() || st.cat.IsFailed() {
		return false
	}
	if st.epoch == 0 {
		s.ensure(ctx, c, bc) // learn the epoch; store nothing meanwhile
		return false
	}
	if i := slices.Index(stamp.Tags, st.epochTag); i >= 0 && stamp.Versions[i] == st.epoch {
		return true
	}
	if s.state.Load() == st {
		s.changed(ctx, c, nil, bc)
	}
	return false
}

// schemaChanged is called after a DDL statement (or one yoked could not
// classify) ran on the connection. Outside a transaction the catalog is read
// again at once. Inside one, the transaction invalidates everything when it
// commits (its later writes were planned with the old catalog) and the
// catalog is read again when it ends; on MySQL, where DDL commits the
// transaction, all that happens at once and the transaction's later writes
// are invalidated as they return.
func (cn *conn) schemaChanged(ctx context.Context) {
	s := cn.sch
	if s == nil {
		return
	}
	if cn.tx != nil && cn.c.dialect == sqlparse.DialectMySQL {
		// MySQL commits the transaction before and after DDL: what it wrote
		// is visible now, and so is every later write of the "transaction".
		cn.tx.itx.Add(nil, true)
		cn.tx.flush(ctx)
		cn.implicitCommit = true
		s.changed(ctx, cn.c, cn.base, nil)
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
	s.changed(ctx, cn.c, cn.base, nil)
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
		if cn.sch != nil {
			cn.sch.changed(context.Background(), cn.c, cn.base, nil)
		}
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
		//lint:ignore SA1019 the base statement may offer nothing newer
		rows, err = st.Query(nil)
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
