package catalog

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strings"

	"github.com/yokedcache/yoked/sqlparse"
)

// Querier runs one catalog query without arguments and returns its rows as
// text, NULL as "". Implementations must honour ctx.
type Querier interface {
	Query(ctx context.Context, query string) ([][]string, error)
}

// ErrUnexpected wraps every answer Load did not expect from the server (a
// column count that differs, a value it cannot read).
var ErrUnexpected = errors.New("catalog: unexpected answer")

// Dialects that have a catalog: the sqlparse dialect names.
func Supported(dialect string) bool { return loaderFor(dialect) != nil }

// funcClass is what the catalog knows of a function.
type funcClass uint8

const (
	funcBuiltin  funcClass = iota + 1 // the parser judges built-ins
	funcStable                        // user function that cannot write and is deterministic within a statement
	funcVolatile                      // user function that may write or return anything
)

// Column is one primary-key column.
type Column struct {
	Name string
	// Type is the column's type as the server names it (lower case).
	Type string
	// Collation is the column's collation, "" for types without one (and
	// on SQLite, whose catalog does not report it).
	Collation string
	// Exact is true when two values of the column's type are equal in the
	// database exactly when their text forms are byte-equal (integers, text
	// under a deterministic binary-equal collation). A caller that maps
	// equality on this column to keys may do so only when Exact.
	Exact bool
}

// facts are the raw findings of one dialect's introspection, by relation
// name (see relName).
type facts struct {
	// edges: a write of edge[0] also writes edge[1].
	edges [][2]string
	// views: a view and the relations its definition reads.
	views map[string][]string
	// opaqueViews: views whose reads are never cached, with the reason.
	opaqueViews map[string]string
	// viewFuncs: the functions views call, judged once functions are known.
	viewFuncs []viewFunc
	// triggers: a table and what its triggers' bodies write.
	triggers map[string]*body
	funcs    map[string]funcClass
	// funcBodies: what the bodies of stable user functions read (they
	// cannot write, but their result depends on those tables).
	funcBodies map[string]*body
	// allFuncs: every function callable is in funcs (PostgreSQL, SQLite), so
	// a name missing from it is unknown rather than built in.
	allFuncs bool
	rls      []string
	keys     map[string][]Column
	// sequences: every sequence; seqWriters: functions that advance or set
	// a sequence named by an argument the catalog does not see.
	sequences  []string
	seqWriters map[string]bool
	// sqlText: built-in functions that run SQL text given as an argument.
	sqlText map[string]bool
	// operators: user operator -> the functions behind it.
	operators map[string][]string
	// keyTriggers: tables with a trigger that may change the row a write
	// writes, its key included (BEFORE, INSTEAD OF, or timing unknown).
	keyTriggers map[string]bool
	// res resolves names (see resolve.go); nil: bare names.
	res *resolver
	// pathTriggers: tables with a trigger whose body names a table without
	// a schema, resolved through the session's search_path (PostgreSQL
	// functions without SET search_path).
	pathTriggers map[string]bool
}

type viewFunc struct {
	view  string
	funcs []string
}

func newFacts() *facts {
	return &facts{views: map[string][]string{}, opaqueViews: map[string]string{}, triggers: map[string]*body{},
		funcs: map[string]funcClass{}, funcBodies: map[string]*body{}, keys: map[string][]Column{},
		seqWriters: map[string]bool{}, sqlText: map[string]bool{}, operators: map[string][]string{},
		keyTriggers: map[string]bool{}, pathTriggers: map[string]bool{}}
}

// Catalog is the resolved form of one dialect's facts. It is never mutated
// once built and is safe for concurrent use.
type Catalog struct {
	// failed: the catalog could not be read; be conservative everywhere.
	failed bool
	// writes: relation -> every other relation a write to it also writes.
	writes map[string][]string
	// writeAll: relations whose writes may touch anything.
	writeAll map[string]string
	// reads: view -> every relation a read of the view depends on.
	reads map[string][]string
	// noCache: views whose reads are never cached, with the reason.
	noCache map[string]string
	// volatile: views whose reads call a volatile function, which may
	// write anything.
	volatile map[string]string
	funcs    map[string]funcClass
	// allFuncs: a function missing from funcs is unknown.
	allFuncs bool
	// volatileCall matches a call of a volatile user function in SQL text,
	// for parsers that do not list the functions a statement calls; nil
	// when there is none.
	volatileCall *regexp.Regexp
	// funcReads: stable user function -> the relations its body reads.
	funcReads map[string][]string
	// funcOpaque: stable user functions whose reads cannot be known.
	funcOpaque map[string]string
	rls        map[string]bool
	keys       map[string][]Column
	sequences  []string
	seqWriters map[string]bool
	sqlText    map[string]bool
	// opWrite/opRead match user operators backed by a volatile function
	// (a write of anything) or by another user function (not cacheable).
	opWrite, opRead *regexp.Regexp
	// notRowLocal: tables where a write of one row may change other rows
	// of the same table (a trigger, a foreign key to itself, a cycle of
	// cascades or triggers leading back).
	notRowLocal map[string]bool
	// res resolves the names statements give; pathTriggers: see facts.
	res          *resolver
	pathTriggers map[string]bool
}

var failed = &Catalog{failed: true}

// Failed returns the catalog to use while the schema cannot be read: no
// facts; every write may write anything, and no read that calls a function
// is cacheable.
func Failed() *Catalog { return failed }

// IsFailed reports whether c is Failed().
func (c *Catalog) IsFailed() bool { return c != nil && c.failed }

// Equal reports whether two catalogs hold the same facts.
func (c *Catalog) Equal(o *Catalog) bool { return c.equal(o) }

// PrimaryKey returns the primary-key columns of a table, in key order, and
// whether the catalog knows one. table is a relation name (Resolve). On
// MySQL only the current database's tables are known.
func (c *Catalog) PrimaryKey(table string) ([]Column, bool) {
	if c == nil || c.failed {
		return nil, false
	}
	cols, ok := c.keys[relName(table)]
	return cols, ok && len(cols) > 0
}

// RowLocal reports whether a write of rows of table, found by key, changes
// no other row of the same table, nor the key of the rows it writes: no
// BEFORE or INSTEAD OF trigger on the table (any trigger where the catalog
// does not read their timing), no AFTER trigger writing it, no foreign key
// from it to itself, no chain of cascades, triggers or declared dependencies
// that leads back to it, and no write that may touch anything. table is a
// relation name (Resolve). False for a nil or failed catalog.
func (c *Catalog) RowLocal(table string) bool {
	if c == nil || c.failed {
		return false
	}
	t := relName(table)
	_, all := c.writeAll[t]
	return !all && !c.notRowLocal[t]
}

// WritesOf returns the other relations a write to rows of table also
// changes (foreign-key actions, triggers, declared dependencies,
// transitively; relation names as Resolve gives them), and all when such a
// write may change anything (a nil or failed catalog, a trigger whose body
// cannot be read). It is for callers that see the rows a write changed but
// not what the database did beside them: MySQL's row binlog leaves out the
// rows a foreign key's action changes.
func (c *Catalog) WritesOf(table string) (also []string, all bool) {
	if c == nil || c.failed {
		return nil, true
	}
	t := relName(table)
	if _, ok := c.writeAll[t]; ok {
		return nil, true
	}
	return slices.Clone(c.writes[t]), false
}

// relName is the catalog's form of a relation name its loaders resolved:
// lower case.
func relName(name string) string { return strings.ToLower(name) }

// Load reads the catalog of dialect through q. deps are dependencies
// declared by hand: a write to a relation also writes deps[relation]
// (transitively; names resolved as Resolve does), and a relation with declared dependencies is trusted not
// to write anything else through opaque triggers. Load returns an error
// (never panics) when the server's answers are not what it expects.
func Load(ctx context.Context, dialect string, q Querier, parser sqlparse.Parser, deps map[string][]string) (cat *Catalog, err error) {
	load := loaderFor(dialect)
	if load == nil {
		return nil, fmt.Errorf("catalog: no catalog for dialect %q", dialect)
	}
	defer func() {
		if r := recover(); r != nil {
			cat, err = nil, fmt.Errorf("%w: %v", ErrUnexpected, r)
		}
	}()
	f, err := load(ctx, reader{q}, parser)
	if err != nil {
		return nil, err
	}
	return build(f, deps), nil
}

type loader func(ctx context.Context, q reader, parser sqlparse.Parser) (*facts, error)

func loaderFor(dialect string) loader {
	switch dialect {
	case sqlparse.DialectPostgres:
		return postgresFacts
	case sqlparse.DialectMySQL:
		return mysqlFacts
	case sqlparse.DialectSQLite:
		return sqliteFacts
	}
	return nil
}

// reader checks the shape of every answer.
type reader struct{ q Querier }

// rows runs query and returns its rows, each with exactly cols columns.
func (r reader) rows(ctx context.Context, what string, cols int, query string) ([][]string, error) {
	rows, err := r.q.Query(ctx, query)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", what, err)
	}
	for _, row := range rows {
		if len(row) != cols {
			return nil, fmt.Errorf("%w: reading %s: %d columns, want %d", ErrUnexpected, what, len(row), cols)
		}
	}
	return rows, nil
}

// isTrue reads a boolean column whatever form the driver gave it.
func isTrue(s string) bool {
	switch strings.ToLower(s) {
	case "true", "t", "1", "yes", "y", "on":
		return true
	}
	return false
}

// body is what a trigger or routine body was found to write (or read).
type body struct {
	// writes and reads are relation names (see resolve); writeTables and
	// readTables the tables as the body names them.
	writes, reads           []string
	writeTables, readTables []sqlparse.Table
	funcs                   []string
	opaque                  string // why the body cannot be read, or ""
	// text is the body without comments and literals, searched for calls
	// of user functions in any statement form (assignments, IF, RETURN,
	// PERFORM, SET @x = f()).
	text string
	// dynamic: the body runs SQL text (EXECUTE): it may call anything.
	dynamic bool
}

// build resolves facts and declared dependencies into a catalog.
func build(f *facts, deps map[string][]string) *Catalog {
	c := &Catalog{writes: map[string][]string{}, writeAll: map[string]string{}, reads: map[string][]string{},
		noCache: map[string]string{}, volatile: map[string]string{}, funcs: f.funcs, allFuncs: f.allFuncs, rls: map[string]bool{},
		funcReads: map[string][]string{}, funcOpaque: map[string]string{}, keys: map[string][]Column{},
		sequences: names(f.sequences), seqWriters: f.seqWriters, sqlText: f.sqlText,
		res: f.res, pathTriggers: map[string]bool{}}
	for t, k := range f.keys {
		c.keys[relName(t)] = k
	}
	for t := range f.pathTriggers {
		c.pathTriggers[relName(t)] = true
	}
	if c.funcs == nil {
		c.funcs = map[string]funcClass{}
	}
	if c.res == nil {
		c.res = &resolver{}
	}
	userCall := callPattern(c.funcs, func(cl funcClass) bool { return cl != funcBuiltin })
	calls := func(b *body) []string {
		out := slices.Clone(b.funcs)
		if userCall != nil && b.text != "" {
			for _, m := range userCall.FindAllStringSubmatch(b.text, -1) {
				out = append(out, strings.ToLower(m[1]+m[2]))
			}
		}
		return out
	}
	// A stable function that calls a volatile one (directly, through other
	// stable ones, or through SQL text it runs) may write: it is volatile.
	for changed := true; changed; {
		changed = false
		for fn, b := range f.funcBodies {
			if c.funcs[fn] != funcStable {
				continue
			}
			promote := b.dynamic
			for _, g := range calls(b) {
				if cl := c.funcs[baseName(g)]; cl == funcVolatile || (cl == 0 && c.allFuncs) {
					promote = true
				}
			}
			if promote {
				c.funcs[fn] = funcVolatile
				changed = true
			}
		}
	}
	graph := map[string][]string{}
	c.notRowLocal = map[string]bool{}
	edge := func(a, b string) {
		a, b = relName(a), relName(b)
		if a == b {
			c.notRowLocal[a] = true
		}
		if a != b && !slices.Contains(graph[a], b) {
			graph[a] = append(graph[a], b)
		}
	}
	for _, e := range f.edges {
		edge(e[0], e[1])
	}
	for v, bases := range f.views {
		for _, b := range bases {
			edge(v, b) // a write to an updatable view writes its bases
		}
	}
	for v, why := range f.opaqueViews {
		c.noCache[relName(v)] = why
		c.writeAll[relName(v)] = why
	}
	for fn, b := range f.funcBodies {
		why := b.opaque
		for _, g := range calls(b) {
			if cl := c.funcs[baseName(g)]; cl != funcBuiltin && (cl != 0 || c.allFuncs) {
				why = "function " + fn + " calls user function " + g
			}
		}
		if why != "" {
			c.funcOpaque[fn] = why
			continue
		}
		c.funcReads[fn] = union(nil, names(b.reads))
	}
	viewFuncReads := map[string][]string{}
	for _, vf := range f.viewFuncs {
		v := relName(vf.view)
		for _, fn := range vf.funcs {
			switch cl := c.funcs[baseName(fn)]; {
			case cl == funcStable && c.funcOpaque[baseName(fn)] != "":
				c.noCache[v] = "view " + vf.view + ": " + c.funcOpaque[baseName(fn)]
			case cl == funcStable:
				viewFuncReads[v] = append(viewFuncReads[v], c.funcReads[baseName(fn)]...)
			case cl == funcVolatile:
				c.volatile[v] = "view " + vf.view + " calls volatile function " + fn + ", which may write"
			case cl == 0 && c.allFuncs:
				c.noCache[v] = "view " + vf.view + " calls unknown function " + fn
			}
		}
	}
	c.volatileCall = callPattern(c.funcs, func(cl funcClass) bool { return cl == funcVolatile })
	var opWrite, opRead []string
	for op, fns := range f.operators {
		for _, fn := range fns {
			switch cl := c.funcs[baseName(fn)]; {
			case cl == funcVolatile:
				opWrite = append(opWrite, regexp.QuoteMeta(op))
			case cl != funcBuiltin:
				opRead = append(opRead, regexp.QuoteMeta(op))
			}
		}
	}
	c.opWrite, c.opRead = alternation(opWrite), alternation(opRead)
	declared := map[string]bool{}
	for t, ds := range deps {
		t = f.res.resolve(parseName(t))
		declared[t] = true
		for _, d := range ds {
			edge(t, f.res.resolve(parseName(d)))
		}
	}
	for t, b := range f.triggers {
		why := b.opaque
		for _, fn := range calls(b) {
			if cl := c.funcs[baseName(fn)]; cl == funcVolatile || (cl == 0 && c.allFuncs) {
				why = "trigger calls function " + fn
			}
		}
		if why != "" && !declared[relName(t)] {
			c.writeAll[relName(t)] = why
		}
		for _, w := range b.writes {
			edge(t, w)
		}
	}
	for _, t := range f.rls {
		c.rls[relName(t)] = true
	}
	// AFTER triggers count through what their bodies write (a body that
	// writes its own table is a self edge); the others may rewrite the row.
	for t := range f.keyTriggers {
		c.notRowLocal[relName(t)] = true
	}
	for start, next := range graph {
		for _, n := range next {
			if slices.Contains(closure(graph, n), start) {
				c.notRowLocal[start] = true
			}
		}
	}
	for start := range graph {
		seen := closure(graph, start)
		c.writes[start] = seen
		for _, t := range seen {
			if why, ok := c.writeAll[t]; ok {
				if _, own := c.writeAll[start]; !own {
					c.writeAll[start] = why
				}
			}
		}
	}
	// Views: reads expand through views only (a view's bases, their bases, ...).
	vg := map[string][]string{}
	for v, bases := range f.views {
		for _, b := range bases {
			vg[relName(v)] = append(vg[relName(v)], relName(b))
		}
	}
	for v, rels := range viewFuncReads {
		vg[v] = append(vg[v], rels...)
	}
	for v := range vg {
		c.reads[v] = closure(vg, v)
		for _, t := range c.reads[v] {
			if why, ok := c.noCache[t]; ok {
				c.noCache[v] = why
			}
			if why, ok := c.volatile[t]; ok {
				c.volatile[v] = why
			}
		}
	}
	return c
}

// callPattern matches, in SQL text, a call of a function of a class keep
// accepts: name(, "Name"(, or attribute notation (row.name); group 1 or 2
// is the name. nil when there is none.
func callPattern(funcs map[string]funcClass, keep func(funcClass) bool) *regexp.Regexp {
	var alt []string
	for fn, cl := range funcs {
		if keep(cl) {
			alt = append(alt, regexp.QuoteMeta(fn))
		}
	}
	if len(alt) == 0 {
		return nil
	}
	slices.Sort(alt)
	names := "(" + strings.Join(alt, "|") + ")"
	return regexp.MustCompile(`(?i)(?:\b|")` + names + `"?\s*\(|\.\s*"?` + names + `\b"?`)
}

// alternation matches any of the quoted operator symbols; nil for none.
func alternation(ops []string) *regexp.Regexp {
	if len(ops) == 0 {
		return nil
	}
	slices.Sort(ops)
	return regexp.MustCompile(strings.Join(ops, "|"))
}

// closure returns every node reachable from start (start excluded), sorted.
func closure(g map[string][]string, start string) []string {
	seen := map[string]bool{start: true}
	stack := []string{start}
	var out []string
	for len(stack) > 0 {
		n := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		for _, m := range g[n] {
			if !seen[m] {
				seen[m] = true
				out = append(out, m)
				stack = append(stack, m)
			}
		}
	}
	slices.Sort(out)
	return out
}

// Access is what a statement really reads and writes.
type Access struct {
	// Kind, Cacheable and Reason start as the parser's and are made more
	// conservative by the catalog (a read that calls a writing function
	// becomes a write).
	Kind      sqlparse.Kind
	Cacheable bool
	Reason    string
	// Reads and Writes are relation names (Resolve), without duplicates;
	// the ones the statement names come first.
	Reads, Writes []string
	// WriteAll: the statement may write anything.
	WriteAll bool
	// PathDependent: what the statement writes was resolved through the
	// session's search_path or current database (a table named without a
	// schema, or a trigger body that names one): on a session that may have
	// changed it, the statement may write anything.
	PathDependent bool
	// RunsUserCode: the statement runs code the catalog cannot read (a
	// volatile function, an opaque trigger), which may also change the
	// session (settings, the search_path: set_config, SET in a function).
	RunsUserCode bool
	// NeedsScope: the read depends on who asks (row-level security).
	NeedsScope bool
}

// IsWrite reports whether running the statement must invalidate anything.
func (a *Access) IsWrite() bool {
	switch a.Kind {
	case sqlparse.KindWrite, sqlparse.KindDDL, sqlparse.KindUnknown:
		return true
	}
	return a.WriteAll || len(a.Writes) > 0
}

// Plain is what a statement reads and writes by its text alone, for callers
// without a catalog: bare relation names (see Resolve).
func Plain(st *sqlparse.Statement) Access { return plain(st, nil) }

// plain is Plain with names resolved by res.
func plain(st *sqlparse.Statement, res *resolver) Access {
	a := Access{Kind: st.Kind, Cacheable: st.Cacheable, Reason: st.Reason,
		Reads: resolveAll(res, st.Reads), Writes: resolveAll(res, st.Writes),
		WriteAll: st.AllTables || st.Kind == sqlparse.KindUnknown}
	for _, t := range st.Writes {
		a.PathDependent = a.PathDependent || t.Schema == ""
	}
	return a
}

// resolveAll resolves tables, without duplicates.
func resolveAll(res *resolver, ts []sqlparse.Table) []string {
	if len(ts) == 0 {
		return nil
	}
	out := make([]string, 0, len(ts))
	for _, t := range ts {
		if r := res.resolve(t); !slices.Contains(out, r) {
			out = append(out, r)
		}
	}
	return out
}

// Access returns what a statement (st, parsed from query) really reads and
// writes. A nil catalog adds nothing (Plain).
func (c *Catalog) Access(st *sqlparse.Statement, query string) Access {
	if c == nil || c.failed {
		a := Plain(st)
		if c == nil {
			return a
		}
		if a.IsWrite() {
			a.WriteAll = true
		}
		if len(st.Functions) > 0 && a.Cacheable {
			a.Cacheable, a.Reason = false, "schema catalog unavailable: functions cannot be classified"
		}
		return a
	}
	a := plain(st, c.res)
	switch c.res.dialect {
	case sqlparse.DialectSQLite:
		for _, t := range a.Writes {
			if s, _, ok := strings.Cut(t, "."); ok && s != "temp" {
				// An attached database's alias is this connection's: other
				// connections may know the file as main or under another
				// alias, and tag it so.
				a.mayWriteAll("writes attached database " + s)
			}
		}
	case sqlparse.DialectPostgres:
		for _, t := range a.Reads {
			if s, _, _ := strings.Cut(t, "."); sqlparse.SystemSchema(sqlparse.DialectPostgres, s) && a.Cacheable {
				a.Cacheable, a.Reason = false, "reads a system catalog ("+t+")"
			}
		}
		for _, t := range st.Reads {
			if !c.res.knows(t) && a.Cacheable {
				// Created since the catalog was read, in a schema of the
				// path the resolver cannot know: its tag is a guess.
				a.Cacheable, a.Reason = false, "relation "+t.String()+" is not in the schema catalog"
			}
		}
	}
	for _, fn := range st.Functions {
		fn = strings.ToLower(baseName(fn))
		if c.seqWriters[fn] {
			// The sequence is an argument: any of them may advance.
			a.Cacheable, a.Reason = false, "advances a sequence: "+fn
			if a.Kind == sqlparse.KindRead || a.Kind == sqlparse.KindOther {
				a.Kind = sqlparse.KindWrite
			}
			a.Writes = union(a.Writes, c.sequences)
		}
		if c.sqlText[fn] {
			if strings.HasPrefix(fn, "dblink") {
				a.runsUserCode("runs SQL text elsewhere: " + fn)
			} else if a.Cacheable {
				a.Cacheable, a.Reason = false, "runs SQL text: "+fn
			}
		}
		switch cl := c.funcs[fn]; {
		case cl == funcVolatile:
			a.runsUserCode("calls volatile function " + fn + ", which may write")
		case cl == funcStable && c.funcOpaque[fn] != "":
			if a.Cacheable {
				a.Cacheable, a.Reason = false, c.funcOpaque[fn]
			}
		case cl == funcStable:
			// Its result depends on the tables it reads.
			a.Reads = union(a.Reads, c.funcReads[fn])
		case cl == 0 && c.allFuncs && a.Cacheable:
			a.Cacheable, a.Reason = false, "calls unknown function "+fn
		}
	}
	for _, t := range a.Reads {
		if why, ok := c.noCache[t]; ok && a.Cacheable {
			a.Cacheable, a.Reason = false, why
		}
	}
	a.Reads = expand(a.Reads, c.reads)
	for _, t := range a.Reads {
		if c.rls[t] {
			a.NeedsScope = true
		}
		if why, ok := c.volatile[t]; ok {
			a.runsUserCode(why)
		}
	}
	if c.volatileCall != nil && !a.WriteAll {
		if m := c.volatileCall.FindStringSubmatch(query); m != nil {
			a.runsUserCode("may call volatile function " + strings.ToLower(m[1]+m[2]) + ", which may write")
		}
	}
	if c.opWrite != nil && !a.WriteAll {
		if m := c.opWrite.FindString(query); m != "" {
			a.runsUserCode("operator " + m + " runs a volatile function, which may write")
		}
	}
	if c.opRead != nil && a.Cacheable {
		if m := c.opRead.FindString(query); m != "" {
			a.Cacheable, a.Reason = false, "operator "+m+" runs a user function"
		}
	}
	if !a.IsWrite() {
		return a
	}
	for _, t := range a.Writes {
		if _, ok := c.writeAll[t]; ok {
			a.WriteAll, a.RunsUserCode = true, true
		}
	}
	a.Writes = expand(a.Writes, c.writes)
	for _, t := range a.Writes {
		a.PathDependent = a.PathDependent || c.pathTriggers[t]
	}
	return a
}

// runsUserCode is mayWriteAll for code that may also change the session.
func (a *Access) runsUserCode(why string) {
	a.mayWriteAll(why)
	a.RunsUserCode = true
}

// mayWriteAll makes a statement a write of everything that is never cached.
func (a *Access) mayWriteAll(why string) {
	if a.Cacheable || a.Reason == "" {
		a.Cacheable, a.Reason = false, why
	}
	if a.Kind == sqlparse.KindRead || a.Kind == sqlparse.KindOther {
		a.Kind = sqlparse.KindWrite
	}
	a.WriteAll = true
}

// baseName drops a schema qualifier from a function name.
func baseName(fn string) string {
	if i := strings.LastIndexByte(fn, '.'); i >= 0 {
		return fn[i+1:]
	}
	return fn
}

// union returns rels plus the elements of more it lacks; rels itself (never
// modified) when there are none.
func union(rels, more []string) []string {
	out := rels
	for _, t := range more {
		if !slices.Contains(out, t) {
			if len(out) == len(rels) {
				out = slices.Clip(slices.Clone(rels))
			}
			out = append(out, t)
		}
	}
	return out
}

// names maps relation names to the catalog's form, without duplicates.
func names(ns []string) []string {
	if len(ns) == 0 {
		return nil
	}
	out := make([]string, 0, len(ns))
	for _, n := range ns {
		if r := relName(n); !slices.Contains(out, r) {
			out = append(out, r)
		}
	}
	return out
}

// expand returns rels plus everything m maps them to, without duplicates;
// rels itself when nothing is added.
func expand(rels []string, m map[string][]string) []string {
	var out []string
	for _, t := range rels {
		if more := m[t]; len(more) > 0 {
			if out == nil {
				out = slices.Clone(rels)
			}
			for _, x := range more {
				if !slices.Contains(out, x) {
					out = append(out, x)
				}
			}
		}
	}
	if out == nil {
		return rels
	}
	return out
}

func (c *Catalog) equal(o *Catalog) bool {
	if c == nil || o == nil {
		return c == o
	}
	return reflect.DeepEqual(c, o)
}

// Database returns a name of the database q reaches that is the same for
// every client of it, for callers that tell each other about schema
// changes: PostgreSQL's current database, the MySQL server (its catalog
// spans every database of the server), SQLite's main file. It is coarse on
// purpose (two clusters with a database of the same name share it), since
// sharing it only costs extra catalog reads. It is "" for a database no
// other connection can see (SQLite in memory or temporary).
func Database(ctx context.Context, dialect string, q Querier) (name string, err error) {
	defer func() {
		if r := recover(); r != nil {
			name, err = "", fmt.Errorf("%w: %v", ErrUnexpected, r)
		}
	}()
	r := reader{q}
	var rows [][]string
	switch dialect {
	case sqlparse.DialectPostgres:
		rows, err = r.rows(ctx, "database name", 1, `SELECT current_database()`)
	case sqlparse.DialectMySQL:
		rows, err = r.rows(ctx, "server name", 2, `SELECT @@hostname, @@port`)
	case sqlparse.DialectSQLite:
		rows, err = r.rows(ctx, "database list", 3, `PRAGMA database_list`)
		if err == nil {
			for _, row := range rows {
				if row[1] == "main" && row[2] != "" {
					return dialect + ":" + row[2], nil
				} else if row[1] == "main" {
					return "", nil
				}
			}
			return "", fmt.Errorf("%w: no main database", ErrUnexpected)
		}
	default:
		return "", fmt.Errorf("catalog: no catalog for dialect %q", dialect)
	}
	if err != nil {
		return "", err
	}
	if len(rows) != 1 || rows[0][0] == "" {
		return "", fmt.Errorf("%w: reading the database name: %d rows", ErrUnexpected, len(rows))
	}
	return dialect + ":" + strings.Join(rows[0], ":"), nil
}
