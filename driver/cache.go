package driver

import (
	"context"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/maypok86/otter/v2"

	"github.com/yokedcache/yoked/catalog"
	"github.com/yokedcache/yoked/invalidator"
	"github.com/yokedcache/yoked/sqlparse"
	"github.com/yokedcache/yoked/tagstore"
)

// TablePrefix is the prefix of the tag every cached read carries for each
// table it reads: "table:public.users".
const TablePrefix = "table:"

// TableTag returns the tag of a table named as the schema catalog names it
// (catalog.Catalog.Resolve), lower-cased: "table:public.users" on
// PostgreSQL (schema.table, an unqualified name resolved through the
// connection's search_path), "table:shop.users" on MySQL and MariaDB
// (database.table, an unqualified name in the connection's database),
// "table:users" for SQLite's main database ("table:temp.t" for a temporary
// table). A connector without a catalog (WithoutCatalog, a dialect without
// one) drops schemas: "table:users" for every spelling. TableTag itself
// resolves nothing: pass it a qualified name (as the change feed does) or use
// Cache.InvalidateTables, which resolves unqualified names.
func TableTag(name string) string { return TablePrefix + strings.ToLower(name) }

// Cache is the cache behind one or more yoked DBs: a tag store and the
// invalidator that writes to it. Every DB that uses the same store in this
// process shares one Cache, so a write through any of them invalidates reads
// of all of them. Get it with CacheOf.
type Cache struct {
	store tagstore.Store
	inv   *invalidator.Invalidator
	stats counters

	// Under caches' lock (store.go): connectors using the Cache, the name
	// of a store opened by URL, and whether the last release closes it.
	refs  int
	name  string
	owned bool
}

// Store returns the tag store, for the manual API (GetOrLoad, pattern
// invalidation, ...).
func (c *Cache) Store() tagstore.Store { return c.store }

// InvalidateTables invalidates every cached read of the named tables, for
// writes yoked cannot see (another program, raw connections). A name may be
// qualified ("public.users", "shop.users") or not ("users"); an unqualified
// name is resolved the way each database this process reaches through the
// Cache resolves it (the search_path, the current database: see TableTag),
// and its bare tag is invalidated too, for connectors without a catalog. A
// process that resolves names differently (another search_path or
// database) is reached only by a qualified name. When it returns, no read
// that starts afterwards in this process is served an older result (in
// other processes too when the store is shared).
func (c *Cache) InvalidateTables(ctx context.Context, tables ...string) {
	tags := make([]string, 0, len(tables))
	for _, t := range tables {
		tags = append(tags, c.tableTags(t)...)
	}
	c.stats.invalidated(tags)
	c.inv.Invalidate(ctx, tags, false)
}

// tableTags returns the tags of a table named as in InvalidateTables.
func (c *Cache) tableTags(name string) []string {
	tags := []string{TableTag(name)}
	if strings.Contains(name, ".") {
		tags = append(tags, TableTag(catalog.Failed().ResolveName(name))) // a connector without a catalog
	}
	schemas.Lock()
	defer schemas.Unlock()
	for _, s := range schemas.m {
		if st := s.current(); s.cache == c && st != nil {
			if tag := TableTag(st.cat.ResolveName(name)); !slices.Contains(tags, tag) {
				tags = append(tags, tag)
			}
		}
	}
	return tags
}

// InvalidateTags invalidates every entry carrying any of tags, with the
// guarantee of InvalidateTables.
func (c *Cache) InvalidateTags(ctx context.Context, tags ...string) {
	c.stats.invalidated(tags)
	c.inv.Invalidate(ctx, tags, false)
}

// InvalidateAll invalidates every entry of the namespace.
func (c *Cache) InvalidateAll(ctx context.Context) {
	c.stats.invalidated(nil)
	c.inv.Invalidate(ctx, nil, true)
}

// Stats returns the cache's counters.
func (c *Cache) Stats() Stats {
	s := c.stats.snapshot()
	s.Store = c.store.Stats()
	s.Invalidator = c.inv.Stats()
	return s
}

// Stats are a Cache's counters since it was created.
type Stats struct {
	Hits          uint64            `json:"hits"`
	Misses        uint64            `json:"misses"`
	Stores        uint64            `json:"stores"`
	Invalidations uint64            `json:"invalidations"`
	Skips         map[string]uint64 `json:"skips"` // by reason
	// Tables counts, by tag ("table:users"), the hits and misses of cached
	// reads of the table and the invalidations of its tag.
	Tables      map[string]TableStats `json:"tables"`
	Store       tagstore.Stats        `json:"store"`
	Invalidator invalidator.Stats     `json:"invalidator"`
}

// TableStats are the counters of one table tag.
type TableStats struct {
	Hits          uint64 `json:"hits"`
	Misses        uint64 `json:"misses"`
	Invalidations uint64 `json:"invalidations"`
}

type tableCounters struct{ hits, misses, invalidations atomic.Uint64 }

// Skip reasons counted in Stats.Skips.
const (
	skipTx         = "in_transaction"
	skipTainted    = "session_state"
	skipContext    = "context"
	skipNotCached  = "not_cacheable"
	skipArgs       = "argument_type"
	skipBlocked    = "pending_invalidation"
	skipStore      = "store_error"
	skipInFlight   = "write_in_flight"
	skipTooLarge   = "too_large"
	skipIncomplete = "incomplete"
	skipValueType  = "value_type"
)

type counters struct {
	hits, misses, stores, invalidations atomic.Uint64
	skips                               sync.Map // reason -> *atomic.Uint64
	tables                              sync.Map // tag -> *tableCounters
}

// table returns the counters of a tag, creating them.
func (c *counters) table(tag string) *tableCounters {
	v, ok := c.tables.Load(tag)
	if !ok {
		v, _ = c.tables.LoadOrStore(tag, new(tableCounters))
	}
	return v.(*tableCounters)
}

func (c *counters) invalidated(tags []string) {
	c.invalidations.Add(1)
	for _, t := range tags {
		// Only table tags: entity tags such as "user:42" are unbounded.
		if strings.HasPrefix(t, TablePrefix) {
			c.table(t).invalidations.Add(1)
		}
	}
}

func (c *counters) skip(reason string) {
	v, ok := c.skips.Load(reason)
	if !ok {
		v, _ = c.skips.LoadOrStore(reason, new(atomic.Uint64))
	}
	v.(*atomic.Uint64).Add(1)
}

func (c *counters) snapshot() Stats {
	s := Stats{Hits: c.hits.Load(), Misses: c.misses.Load(), Stores: c.stores.Load(), Invalidations: c.invalidations.Load(),
		Skips: map[string]uint64{}, Tables: map[string]TableStats{}}
	c.skips.Range(func(k, v any) bool {
		s.Skips[k.(string)] = v.(*atomic.Uint64).Load()
		return true
	})
	c.tables.Range(func(k, v any) bool {
		tc := v.(*tableCounters)
		s.Tables[k.(string)] = TableStats{Hits: tc.hits.Load(), Misses: tc.misses.Load(), Invalidations: tc.invalidations.Load()}
		return true
	})
	return s
}

// plan is what the driver decided about one SQL text on one connector. Plans
// are cached by text and shared: never mutated after they are built.
type plan struct {
	stmt sqlparse.Statement
	// readTags are the table and set tags of every table read; writeTags
	// the table tags of every table written (see rowtags.go).
	readTags  []string
	writeTags []string
	// rowRead and rowWrite, when set, replace readTags and writeTags with
	// row tags filled from each call's arguments (when they can be).
	rowRead, rowWrite *rowTemplate
	writeAll          bool
	// tables are the counters of readTags, resolved once per plan so the
	// hit path only adds to them.
	tables []*tableCounters
	// needsScope: the read touches a row-level-security table; it may be
	// cached only under a scope (WithScope).
	needsScope bool
	// pathDependent: what it writes was resolved through the search_path
	// or current database (catalog.Access.PathDependent); userCode: it runs
	// code that may change the session (catalog.Access.RunsUserCode).
	pathDependent, userCode bool
	// lookupTags are readTags plus the schema epoch tag.
	lookupTags []string
	// state is the catalog the plan was made with (nil without one);
	// bypass is the skip reason of reads planned while none could be used.
	state  *schemaState
	bypass string
}

func (p *plan) isWrite() bool {
	switch p.stmt.Kind {
	case sqlparse.KindWrite, sqlparse.KindDDL, sqlparse.KindUnknown:
		return true
	}
	return p.writeAll || len(p.writeTags) > 0
}

// planner parses statements once per text and turns tables into tags.
type planner struct {
	parser sqlparse.Parser
	// dialect names the SQL dialect; rowTags turns row-level tags on.
	dialect string
	rowTags bool
	plans   *otter.Cache[string, *plan]
	stats   *counters
	// epoch changes whenever plans must be rebuilt (the schema changed);
	// connections and statements holding plans compare it before use.
	epoch atomic.Uint64
	// sch is the schema whose catalog plans are expanded with (see
	// catalog.go); nil when the connector reads none. fixed is the catalog
	// of a planner without a schema (nil: none).
	sch   *schema
	fixed *catalog.Catalog
}

// reset drops every plan: after DDL, or when the catalog changed.
func (pl *planner) reset() {
	pl.epoch.Add(1)
	pl.plans.InvalidateAll()
}

func newPlanner(p sqlparse.Parser, stats *counters) *planner {
	return &planner{parser: p, plans: otter.Must(&otter.Options[string, *plan]{MaximumSize: 10_000}), stats: stats}
}

func (pl *planner) plan(query string) *plan {
	if p, ok := pl.plans.GetIfPresent(query); ok {
		return p
	}
	epoch := pl.epoch.Load()
	st := pl.parser.Parse(query)
	// What the statement really reads and writes (a nil catalog adds
	// nothing; while none is installed, the failed one's verdicts apply).
	cat := pl.fixed
	var state *schemaState
	var bypass string
	if pl.sch != nil {
		switch state = pl.sch.current(); {
		case state == nil:
			cat, bypass = catalog.Failed(), skipCatalogLoading
		case state.cat.IsFailed():
			cat, bypass = state.cat, skipCatalogFailed
		default:
			cat = state.cat
		}
	}
	a := cat.Access(&st, query)
	st.Kind, st.Cacheable, st.Reason = a.Kind, a.Cacheable, a.Reason
	p := &plan{stmt: st, writeAll: a.WriteAll, needsScope: a.NeedsScope, pathDependent: a.PathDependent, userCode: a.RunsUserCode,
		readTags: append(tagsOf(a.Reads), setTagsOf(a.Reads, "")...), writeTags: tagsOf(a.Writes),
		state: state, bypass: bypass}
	if pl.rowTags {
		pl.keyed(p, &a, cat)
	}
	p.lookupTags = p.readTags
	if state != nil && state.epochTag != "" {
		// Every cached read depends on the schema epoch; DDL moves it.
		p.lookupTags = append(slices.Clip(p.readTags), state.epochTag)
		if p.rowRead != nil {
			p.rowRead.base = append(p.rowRead.base, state.epochTag)
		}
	}
	for _, tag := range tagsOf(a.Reads) {
		p.tables = append(p.tables, pl.stats.table(tag))
	}
	if pl.epoch.Load() == epoch {
		// Not planned with a catalog replaced meanwhile.
		pl.plans.Set(query, p)
	}
	return p
}

// tagsOf maps catalog relation names to tags, without duplicates.
func tagsOf(rels []string) []string {
	if len(rels) == 0 {
		return nil
	}
	seen := make(map[string]struct{}, len(rels))
	tags := make([]string, 0, len(rels))
	for _, t := range rels {
		tag := TableTag(t)
		if _, ok := seen[tag]; !ok {
			seen[tag] = struct{}{}
			tags = append(tags, tag)
		}
	}
	return tags
}
