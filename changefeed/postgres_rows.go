package changefeed

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/yokedcache/yoked/catalog"
	"github.com/yokedcache/yoked/sqlparse"
	"github.com/yokedcache/yoked/sqlparse/dialect"
)

// PostgreSQL row changes: which tags a change of one row invalidates.
//
// A change of a relation in an inheritance tree (a partition, a
// partitioned table, an inheritance child or parent) invalidates the table
// tags of the relation and of every ancestor and descendant: the stream
// names the leaf partition, readers name the table they queried. Any other
// change is by row when everything below holds, by table otherwise:
//
//   - Config.RowTag is set, the DDL event trigger is installed and enabled
//     (without it DDL is seen late or not at all, and a catalog could vouch
//     for a key the table no longer has), and the schema catalog was read;
//   - the catalog, read after the last DDL the stream delivered, gives the
//     table a primary key, and RowTag accepts its columns' types;
//   - the relation message agrees: its key-flagged columns are exactly the
//     primary key (REPLICA IDENTITY DEFAULT, or USING INDEX on the same
//     columns), or the identity is FULL and the relation has every key
//     column; the type of each key column is the catalog's;
//   - every key value in the tuple is text, neither NULL nor an unchanged
//     TOAST value;
//   - an UPDATE names its old key (a key or old tuple), or its identity is
//     the primary key, so that an update without an old key kept its key.
//
// Then the change invalidates the row tag of the new key and of the old
// one (commit.touchRow: with the table's set tag, bounded per table and
// transaction). TRUNCATE and unknown relations are as without row tags.
//
// The catalog must not be older than the events it names keys for: every
// DDL message and every relation message sent again (the relation's cache
// was invalidated, an ALTER among the reasons) marks it stale, and the next
// row change reads it again first, synchronously, so it reflects at least
// everything the stream delivered. It may be newer than the events it is
// used for (DDL committed but not yet streamed): that DDL invalidates
// everything when it arrives, and heartbeats wait until the stream is past
// the server's WAL position read after the catalog (since), as on MySQL.
type pgSchema struct {
	conn    *pgconn.PgConn // a normal connection, only for reading the schema
	parser  sqlparse.Parser
	rowTags bool // Config.RowTag set and the DDL trigger in place

	cat *catalog.Catalog // nil: no row tags
	// family: relation (schema, name, as the server spells them) -> its
	// ancestors and descendants, whose readers see its rows.
	family map[[2]string][][2]string
	// ambiguous: relations whose lower-case name is another's too (the
	// catalog names relations in lower case).
	ambiguous map[string]bool
	since     pglogrepl.LSN // the server's WAL position after the last read
	gen       int           // counts reads, so relations recompute their keys
	stale     bool
}

// pgInheritAll lists parent and child of every inheritance edge, as the
// server spells their names.
const pgInheritAll = `SELECT pn.nspname, p.relname, cn.nspname, c.relname FROM pg_inherits i
JOIN pg_class p ON p.oid = i.inhparent JOIN pg_class c ON c.oid = i.inhrelid
JOIN pg_namespace pn ON pn.oid = p.relnamespace JOIN pg_namespace cn ON cn.oid = c.relnamespace`

// pgAmbiguous lists relation names that differ from another's by case only.
const pgAmbiguous = `SELECT lower(n.nspname || '.' || c.relname) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p') GROUP BY 1 HAVING count(*) > 1`

// load reads the schema: the catalog (when row tags are possible), the
// inheritance trees, and then the WAL position. Only a failure to read the
// trees or the position is an error; without a catalog, changes are by
// table.
func (s *pgSchema) load(ctx context.Context, w *Watcher) error {
	s.gen++
	s.stale = false
	s.cat = nil
	if s.rowTags {
		cat, err := catalog.Load(ctx, sqlparse.DialectPostgres, pgQuerier{s.conn}, s.parser, nil)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			w.cfg.Logger.Warn("changefeed: cannot read the schema catalog; changes invalidate whole tables until the next DDL", "err", err)
		} else {
			s.cat = cat
		}
		// Checked after the catalog: a trigger dropped or disabled since
		// the session started leaves DDL out of the stream.
		if rows, err := query(ctx, s.conn, ddlTriggerCheck); err != nil || len(rows) != 1 || rows[0][0] != "2" {
			if s.cat != nil {
				w.cfg.Logger.Warn("changefeed: the DDL event trigger is gone or disabled; changes invalidate whole tables", "err", err)
			}
			s.cat = nil
		}
	}
	rows, err := query(ctx, s.conn, pgInheritAll)
	if err != nil {
		return fmt.Errorf("read inheritance: %w", err)
	}
	up, down := map[[2]string][][2]string{}, map[[2]string][][2]string{}
	for _, r := range rows {
		if len(r) != 4 {
			return fmt.Errorf("read inheritance: %d columns", len(r))
		}
		p, c := [2]string{r[0], r[1]}, [2]string{r[2], r[3]}
		up[c] = append(up[c], p)
		down[p] = append(down[p], c)
	}
	s.family = map[[2]string][][2]string{}
	for _, m := range []map[[2]string][][2]string{up, down} {
		for rel := range m {
			if _, done := s.family[rel]; !done {
				s.family[rel] = append(reach(up, rel), reach(down, rel)...)
			}
		}
	}
	rows, err = query(ctx, s.conn, pgAmbiguous)
	if err != nil {
		return fmt.Errorf("read relation names: %w", err)
	}
	s.ambiguous = map[string]bool{}
	for _, r := range rows {
		s.ambiguous[r[0]] = true
	}
	rows, err = query(ctx, s.conn, "SELECT pg_current_wal_lsn()")
	if err != nil {
		return fmt.Errorf("read the WAL position: %w", err)
	}
	if len(rows) != 1 || len(rows[0]) != 1 {
		return fmt.Errorf("read the WAL position: %v", rows)
	}
	lsn, err := pglogrepl.ParseLSN(rows[0][0])
	if err != nil {
		return fmt.Errorf("read the WAL position: %w", err)
	}
	s.since = lsn
	return nil
}

// reach returns every relation reachable from start in g, start excluded.
func reach(g map[[2]string][][2]string, start [2]string) [][2]string {
	var out [][2]string
	todo := slices.Clone(g[start])
	for len(todo) > 0 {
		n := todo[len(todo)-1]
		todo = todo[:len(todo)-1]
		if n == start || slices.Contains(out, n) {
			continue
		}
		out = append(out, n)
		todo = append(todo, g[n]...)
	}
	return out
}

// newPgSchema opens the schema connection; rowTags asks for the catalog.
func newPgSchema(ctx context.Context, w *Watcher, cfg *pgconn.Config, rowTags bool) (*pgSchema, error) {
	s := &pgSchema{rowTags: rowTags}
	if rowTags {
		p, err := dialect.For(sqlparse.DialectPostgres)
		if err != nil {
			w.cfg.Logger.Warn("changefeed: no PostgreSQL parser for the schema catalog; changes invalidate whole tables", "err", err)
			s.rowTags = false
		}
		s.parser = p
	}
	c, err := pgconn.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect for the schema: %w", err)
	}
	s.conn = c
	return s, nil
}

// relation is what a relation message told about a table, and what the
// schema read at generation gen says of it.
type relation struct {
	schema, name string
	ident        uint8 // replica identity: 'd', 'n', 'f' or 'i'
	columns      []*pglogrepl.RelationMessageColumn

	gen    int
	tables [][2]string // its inheritance tree (itself excluded); nil: none
	key    *pgRowKey   // nil: changes are by table
}

// sameShape reports whether a relation message describes the relation as
// r does: name, columns, types, key flags and replica identity.
func (r *relation) sameShape(o *relation) bool {
	return r.schema == o.schema && r.name == o.name && r.ident == o.ident &&
		slices.EqualFunc(r.columns, o.columns, func(a, b *pglogrepl.RelationMessageColumn) bool {
			return a.Name == b.Name && a.DataType == b.DataType && a.TypeModifier == b.TypeModifier && a.Flags == b.Flags
		})
}

// pgRowKey is where a relation's tuples hold its primary key.
type pgRowKey struct {
	table    string // "schema.name", as RowTag takes it
	cols     []catalog.Column
	pos      []int // per key column, its position in the tuples
	sameKey  bool  // the replica identity is the key: an update without an old key kept it
	tableTag string
	setTag   string
}

// refresh recomputes what the schema says of r, when it was read since.
func (s *pgSchema) refresh(r *relation, cfg *Config) {
	if r.gen == s.gen {
		return
	}
	r.gen = s.gen
	r.tables = s.family[[2]string{r.schema, r.name}]
	r.key = nil
	if s.cat == nil || len(r.tables) > 0 || s.ambiguous[strings.ToLower(r.schema+"."+r.name)] {
		return
	}
	table := r.schema + "." + r.name
	pk, ok := s.cat.PrimaryKey(table)
	if !ok {
		return
	}
	k := &pgRowKey{table: table, cols: pk, tableTag: cfg.TableTag(r.schema, r.name), setTag: cfg.SetTag(table)}
	for _, c := range pk {
		i := slices.IndexFunc(r.columns, func(rc *pglogrepl.RelationMessageColumn) bool { return rc.Name == c.Name })
		if i < 0 || !pgTypeIs(r.columns[i].DataType, c.Type) {
			return
		}
		k.pos = append(k.pos, i)
	}
	switch r.ident {
	case 'd', 'i':
		// The flagged columns must be exactly the key.
		n := 0
		for i, rc := range r.columns {
			if rc.Flags&1 != 0 {
				if !slices.Contains(k.pos, i) {
					return
				}
				n++
			}
		}
		if n != len(k.pos) {
			return
		}
		k.sameKey = true
	case 'f':
	default:
		return
	}
	r.key = k
}

// pgTypeIs reports whether a relation message's type oid is the catalog's
// type name of the column, for the types a row tag may name.
func pgTypeIs(oid uint32, typ string) bool {
	switch oid {
	case 20:
		return typ == "bigint"
	case 21:
		return typ == "smallint"
	case 23:
		return typ == "integer"
	case 26:
		return typ == "oid"
	case 25:
		return typ == "text"
	case 1043:
		return strings.HasPrefix(typ, "character varying")
	}
	return false
}

// values returns the key values of a tuple, or false when one is missing,
// NULL or an unchanged TOAST value.
func (k *pgRowKey) values(t *pglogrepl.TupleData) ([]any, bool) {
	if t == nil {
		return nil, false
	}
	out := make([]any, len(k.pos))
	for i, p := range k.pos {
		if p >= len(t.Columns) || t.Columns[p].DataType != pglogrepl.TupleDataTypeText {
			return nil, false
		}
		out[i] = string(t.Columns[p].Data)
	}
	return out, true
}

// rowChange adds a change of rows of relation id to tx: old is the old key
// or old tuple (nil when the stream sent none), cur the new tuple or, for
// a delete, nil.
func (p *postgres) rowChange(ctx context.Context, w *Watcher, tx *commit, rels map[uint32]*relation, id uint32,
	update bool, old, cur *pglogrepl.TupleData) error {
	if tx == nil {
		return nil
	}
	r, ok := rels[id]
	if !ok {
		tx.all = true
		tx.events++
		return nil
	}
	if tx.all {
		tx.events++ // everything goes: no need for keys (or a fresh catalog)
		return nil
	}
	if err := p.fresh(ctx, w, r); err != nil {
		return err
	}
	if r.key != nil && p.byRow(tx, r.key, update, old, cur) {
		return nil
	}
	p.touchTable(tx, r)
	return nil
}

// fresh reads the schema again if it is stale, and what it says of r.
func (p *postgres) fresh(ctx context.Context, w *Watcher, r *relation) error {
	if p.schema.stale {
		if err := p.schema.load(ctx, w); err != nil {
			return err
		}
	}
	p.schema.refresh(r, &p.cfg)
	return nil
}

// byRow adds the row tags of one change, or returns false (adding nothing)
// when it cannot name every row the change touched.
func (p *postgres) byRow(tx *commit, k *pgRowKey, update bool, old, cur *pglogrepl.TupleData) bool {
	var tags []string
	for _, t := range []*pglogrepl.TupleData{old, cur} {
		if t == nil {
			continue
		}
		v, ok := k.values(t)
		if !ok {
			return false
		}
		tag, ok := p.cfg.RowTag(k.table, k.cols, v)
		if !ok {
			return false
		}
		tags = append(tags, tag)
	}
	switch {
	case len(tags) == 0:
		return false
	case update && old == nil && !k.sameKey:
		// Without an old tuple only an identity that is the key proves
		// the key unchanged.
		return false
	}
	for _, tag := range tags {
		tx.touchRow(k.tableTag, k.setTag, tag)
	}
	if len(tags) == 2 {
		tx.events-- // one change, two rows named
	}
	return true
}

// touchTable adds the table tags of a relation and of its inheritance tree.
func (p *postgres) touchTable(tx *commit, r *relation) {
	tx.touch(p.cfg.TableTag(r.schema, r.name))
	for _, o := range r.tables {
		tx.touch(p.cfg.TableTag(o[0], o[1]))
		tx.events--
	}
}
