package driver

import (
	"log/slog"
	"time"

	"github.com/yokedcache/yoked/invalidator"
	"github.com/yokedcache/yoked/tagstore"
)

// Option configures a yoked driver, connector or DB. Options given in code
// override the environment (see Config).
type Option func(*Config)

// WithStore makes the cache use store instead of the default. Several DBs
// may share one store; they then also share invalidations.
func WithStore(store tagstore.Store) Option { return func(c *Config) { c.Store = store } }

// WithStoreURL selects the store by URL, as YOKED_STORE does ("memory",
// "memory://?max_bytes=N", "redis://host:6379/0", "redis-cluster://…").
// Stores opened by URL are shared by every DB of the process with the same
// URL and namespace. Ignored with WithStore.
func WithStoreURL(url string) Option { return func(c *Config) { c.StoreURL = url } }

// WithNamespace sets the namespace of the default store (ignored with WithStore).
func WithNamespace(ns string) Option { return func(c *Config) { c.Namespace = ns } }

// WithTTL sets how long a cached result may live; 0 means DefaultTTL.
func WithTTL(d time.Duration) Option { return func(c *Config) { c.TTL = d } }

// WithMaxRows sets the largest result, in rows, that is cached.
func WithMaxRows(n int) Option { return func(c *Config) { c.MaxRows = n } }

// WithMaxResultBytes sets the largest result, in estimated bytes, that is cached.
func WithMaxResultBytes(n int) Option { return func(c *Config) { c.MaxResultBytes = n } }

// WithDialect names the SQL dialect ("sqlite", "mysql", "postgres") for a
// base driver whose name does not say it.
func WithDialect(d string) Option { return func(c *Config) { c.Dialect = d } }

// WithIdentity sets the database identity that cache keys carry, as given:
// no identity query is sent. By default each connection's identity is built
// from what it reached (server, database, user, result-shaping settings, the
// absolute SQLite file; see docs/configuration.md), plus the base driver
// name and a hash of the DSN for Open (the password never appears in keys).
// Use it for a base that cannot answer the identity query (a mock), or to
// share entries between DSNs that differ; id must then differ for every
// database, user and setting that changes what a read returns.
func WithIdentity(id string) Option { return func(c *Config) { c.Identity = id } }

// WithLogger sets the logger (default: discard). yoked logs nothing on the hit path.
func WithLogger(l *slog.Logger) Option { return func(c *Config) { c.Logger = l } }

// WithDisabled turns caching off: every statement goes to the base driver
// and nothing is invalidated. For comparing with and without the cache.
func WithDisabled(off bool) Option { return func(c *Config) { c.Disabled = off } }

// WithStrictStore makes a write fail before it is sent to the database when
// the cache store is shared between processes (Redis) and cannot mark the
// write in flight first: the application gets an error wrapping
// invalidator.ErrUnreachable, nothing is written and no process can serve
// data older than a write that succeeded. The default (off) sends the write
// anyway; other processes may then serve older data until the store is
// reachable again from this process (docs/multi-service.md). Also
// YOKED_STRICT=true or strict=true in the store URL.
func WithStrictStore(on bool) Option { return func(c *Config) { c.Strict = on } }

// ErrStoreUnreachable is wrapped by the error of a write refused in strict
// mode (WithStrictStore).
var ErrStoreUnreachable = invalidator.ErrUnreachable

// WithRowTags turns row-level invalidation on or off. On, a read pinned by
// its table's whole primary key (WHERE id = $1, id IN (…), composite keys)
// is invalidated only by writes of those rows or by writes yoked cannot pin
// to rows; off, every write invalidates its whole table. On by default,
// with every store. With Redis in the default (not strict) mode, a write
// whose invalidation cannot reach Redis leaves other processes serving the
// rows it wrote until it gets through, as it does with table tags (where
// other writes to the table happen to close that window sooner), see
// docs/auto-invalidation.md.
func WithRowTags(on bool) Option { return func(c *Config) { c.RowTags = &on } }

// WithL1 turns the in-process near-cache (L1) of a Redis store on or off;
// it is on by default. With it, a hit repeated in this process is served
// from memory without a round trip, as fresh as a Redis hit: an
// invalidation returns only once every process's L1 has dropped the tags
// or can no longer answer (docs/multi-service.md). Also YOKED_L1 or l1= in
// the store URL. With WithRedisClient, a non-nil redisstore.Options.L1 is
// used as given whatever this says.
func WithL1(on bool) Option { return func(c *Config) { c.L1 = &on } }
