package driver

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"

	"github.com/yokedcache/yoked/catalog"
	"github.com/yokedcache/yoked/sqlparse"
	"github.com/yokedcache/yoked/sqlparse/dialect"
)

var (
	_ driver.Connector = (*connector)(nil)
	_ io.Closer        = (*connector)(nil)
)

// connector wraps a base connector. It owns the configuration, the plan cache
// of its dialect, and a reference to the shared Cache of its store.
type connector struct {
	base     driver.Connector
	baseName string
	cfg      Config
	// idBase is the part of every connection's identity that does not
	// come from the server (see identity.go).
	idBase   string
	idWarned atomic.Bool
	dialect  string
	planner  *planner
	cache    *Cache
	disabled bool
	drv      *boundDriver
	feed     *feedGate // nil unless WithChangeFeed (feed.go)

	// blind plans for connections whose database is not identified: with
	// no catalog to trust, their writes invalidate everything.
	blind *planner
	// lastSchema is the schema of the last connection opened (WaitCatalog).
	lastSchema atomic.Pointer[schema]

	closeOnce sync.Once
}

// boundDriver is what db.Driver() returns for a yoked DB: a Driver that also
// knows the connector's cache, so CacheOf can find it.
type boundDriver struct {
	*Driver
	c *connector
}

// newConnector returns the connector of a DB; idBase is the part of the
// identity its opener knows (identityOf for a DSN, the base name for OpenDB).
func newConnector(base driver.Connector, baseName, idBase string, opts []Option) (*connector, error) {
	cfg, err := resolveConfig(opts)
	if err != nil {
		return nil, err
	}
	d := cfg.Dialect
	if d == "" {
		d = sqlparse.NormalizeDialect(baseName)
		if d == "" {
			return nil, configErr("no SQL dialect is known for base driver %q; pass WithDialect(\"sqlite\"|\"mysql\"|\"postgres\")", baseName)
		}
	}
	parser, err := dialect.For(d)
	if err != nil {
		return nil, configErr("%v", err)
	}
	cache, err := acquireCache(&cfg)
	if err != nil {
		return nil, err
	}
	c := &connector{
		base:     base,
		baseName: baseName,
		cfg:      cfg,
		idBase:   idBase,
		dialect:  sqlparse.NormalizeDialect(d),
		cache:    cache,
		disabled: cfg.Disabled,
	}
	if cfg.FeedMaxLag > 0 {
		if c.feed, err = newFeedGate(cache.store, cfg.FeedMaxLag); err != nil {
			releaseCache(cache)
			return nil, err
		}
	}
	c.planner = newPlanner(parser, &c.cache.stats)
	c.blind = newPlanner(parser, &c.cache.stats)
	c.blind.fixed = catalog.Failed()
	for _, pl := range []*planner{c.planner, c.blind} {
		pl.dialect, pl.rowTags = c.dialect, rowTagsOn(&cfg)
	}
	c.drv = &boundDriver{Driver: &Driver{base: base.Driver(), opts: opts}, c: c}
	return c, nil
}

func (c *connector) Connect(ctx context.Context) (driver.Conn, error) {
	bc, err := c.base.Connect(ctx)
	if err != nil {
		return nil, err
	}
	cn := newConn(bc, c)
	if !c.disabled {
		cn.identity, cn.skip = c.identify(ctx, bc)
	}
	if c.readsCatalog() {
		if cn.identity == "" {
			cn.pl = c.blind
		} else {
			// The catalog of the database reached, shared in the process,
			// read in the background (SQLite: through this connection);
			// until it is, reads bypass the cache.
			cn.sch = schemaFor(c, cn.identity)
			cn.pl = cn.sch.planner
			c.lastSchema.Store(cn.sch)
			cn.sch.ensure(ctx, c, bc)
		}
	}
	return cn.public(), nil
}

func (c *connector) Driver() driver.Driver { return c.drv }

// Close closes the base connector when it is an io.Closer, and releases
// the store: the last DB of the process using a store yoked opened closes
// it (see caches). Idempotent.
func (c *connector) Close() error {
	var err error
	c.closeOnce.Do(func() {
		err = releaseCache(c.cache)
		if cl, ok := c.base.(io.Closer); ok {
			err = errors.Join(cl.Close(), err)
		}
	})
	return err
}

// Open opens a DB on the base driver registered as baseName, through yoked.
func Open(baseName, dsn string, opts ...Option) (*sql.DB, error) {
	all := append(append([]Option(nil), registeredOpts(baseName)...), opts...)
	c, err := (&Driver{baseName: baseName, opts: all}).OpenConnector(dsn)
	if err != nil {
		return nil, err
	}
	return sql.OpenDB(c), nil
}

// OpenDB opens a DB on a base connector (for example pgx's
// stdlib.GetConnector, which keeps its options), through yoked. Entries are
// keyed by what each connection reached (server, database, user, settings;
// see WithIdentity), so DBs of any process that reach the same database
// through the same base driver share them.
func OpenDB(base driver.Connector, opts ...Option) (*sql.DB, error) {
	name := driverName(base.Driver())
	c, err := newConnector(base, name, name, opts)
	if err != nil {
		return nil, err
	}
	return sql.OpenDB(c), nil
}

// CacheOf returns the Cache behind a DB opened through yoked, or an error for
// any other DB.
func CacheOf(db *sql.DB) (*Cache, error) {
	if bd, ok := db.Driver().(*boundDriver); ok {
		return bd.c.cache, nil
	}
	return nil, fmt.Errorf("yoked: DB was not opened through yoked (driver %T)", db.Driver())
}
