package driver

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/yokedcache/yoked/sqlparse"
)

// The catalog: what the database's schema adds to what a statement's text
// says. A statement names the tables it reads and writes; the schema decides
// what else those reads depend on and what else those writes change:
//
//   - a foreign key with ON DELETE/UPDATE CASCADE, SET NULL or SET DEFAULT
//     makes a write to the parent a write to the child (transitively);
//   - a read of a view reads the view's base tables (nested views included);
//     a write to a view writes them; a materialized view is a table of its
//     own, written by REFRESH MATERIALIZED VIEW;
//   - a trigger makes a write to its table a write to the tables its body
//     writes, when the body can be read (SQL or PL/pgSQL whose statements the
//     dialect parses); otherwise a write to that table invalidates the whole
//     namespace. WithDependencies declares such dependencies by hand;
//   - partitions and inherited tables and their parents invalidate each other;
//   - a read that calls a volatile user function (PostgreSQL provolatile 'v',
//     any MySQL stored function, a non-deterministic SQLite function
//     registered by the application) is not cached and is treated as a write
//     of everything, since the function may write; a read that calls a
//     function neither built in nor in the catalog is not cached;
//   - a read of a PostgreSQL table with row-level security is cached only
//     when the context carries a scope (WithScope).
//
// The catalog is read once per connector, through the first base connection
// (not through yoked), and again after every DDL statement yoked sees,
// through the base connection that ran it (after COMMIT for DDL inside a
// transaction, which meanwhile invalidates everything when it commits). A
// catalog that cannot be read makes every write invalidate everything and
// every read that calls a function uncacheable, until a read succeeds.
// Schema changes made by other programs are seen only after the next DDL
// through yoked or a new connector.

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

// funcClass is what the catalog knows of a function.
type funcClass uint8

const (
	funcBuiltin  funcClass = iota + 1 // the parser judges built-ins
	funcStable                        // user function that cannot write and is deterministic within a statement
	funcVolatile                      // user function that may write or return anything
)

// facts are the raw findings of one dialect's introspection, by table name
// (lower case, schema dropped).
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
}

type viewFunc struct {
	view  string
	funcs []string
}

func newFacts() *facts {
	return &facts{views: map[string][]string{}, opaqueViews: map[string]string{}, triggers: map[string]*body{},
		funcs: map[string]funcClass{}, funcBodies: map[string]*body{}}
}

// catalogQuery is baseQuery with the error saying what was being read.
func catalogQuery(ctx context.Context, bc driver.Conn, what, q string) ([][]string, error) {
	rows, err := baseQuery(ctx, bc, q)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", what, err)
	}
	return rows, nil
}

// body is what a trigger or routine body was found to write (or read).
type body struct {
	writes []string
	reads  []string
	funcs  []string
	opaque string // why the body cannot be read, or ""
}

// catalog is the resolved form of facts that plans use. Never mutated once
// built, shared by every plan of a connector.
type catalog struct {
	// failed: the catalog could not be read; be conservative everywhere.
	failed bool
	// writes: table tag -> every other tag a write to it also writes.
	writes map[string][]string
	// writeAll: table tags whose writes may touch anything.
	writeAll map[string]string
	// reads: view tag -> every tag a read of the view depends on.
	reads map[string][]string
	// noCache: view tags whose reads are never cached, with the reason.
	noCache map[string]string
	// volatile: view tags whose reads call a volatile function, which may
	// write anything.
	volatile map[string]string
	funcs    map[string]funcClass
	// allFuncs: a function missing from funcs is unknown.
	allFuncs bool
	// volatileCall matches a call of a volatile user function in SQL text,
	// for parsers that do not list the functions a statement calls; nil
	// when there is none.
	volatileCall *regexp.Regexp
	// funcReads: stable user function -> tags of the tables its body reads.
	funcReads map[string][]string
	// funcOpaque: stable user functions whose reads cannot be known.
	funcOpaque map[string]string
	rls        map[string]bool
}

// failedCatalog is used while the schema cannot be read.
var failedCatalog = &catalog{failed: true}

// build resolves facts and declared dependencies into a catalog.
func build(f *facts, deps map[string][]string) *catalog {
	c := &catalog{writes: map[string][]string{}, writeAll: map[string]string{}, reads: map[string][]string{},
		noCache: map[string]string{}, volatile: map[string]string{}, funcs: f.funcs, allFuncs: f.allFuncs, rls: map[string]bool{},
		funcReads: map[string][]string{}, funcOpaque: map[string]string{}}
	if c.funcs == nil {
		c.funcs = map[string]funcClass{}
	}
	graph := map[string][]string{}
	edge := func(a, b string) {
		a, b = TableTag(a), TableTag(b)
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
		c.noCache[TableTag(v)] = why
		c.writeAll[TableTag(v)] = why
	}
	for fn, b := range f.funcBodies {
		why := b.opaque
		for _, g := range b.funcs {
			if cl := c.funcs[baseName(g)]; cl != funcBuiltin && (cl != 0 || c.allFuncs) {
				why = "function " + fn + " calls user function " + g
			}
		}
		if why != "" {
			c.funcOpaque[fn] = why
			continue
		}
		c.funcReads[fn] = union(nil, tagsOfNames(b.reads))
	}
	viewFuncReads := map[string][]string{}
	for _, vf := range f.viewFuncs {
		for _, fn := range vf.funcs {
			switch cl := c.funcs[baseName(fn)]; {
			case cl == funcStable && c.funcOpaque[baseName(fn)] != "":
				c.noCache[TableTag(vf.view)] = "view " + vf.view + ": " + c.funcOpaque[baseName(fn)]
			case cl == funcStable:
				viewFuncReads[TableTag(vf.view)] = append(viewFuncReads[TableTag(vf.view)], c.funcReads[baseName(fn)]...)
			case cl == funcVolatile:
				c.volatile[TableTag(vf.view)] = "view " + vf.view + " calls volatile function " + fn + ", which may write"
			case cl == 0 && c.allFuncs:
				c.noCache[TableTag(vf.view)] = "view " + vf.view + " calls unknown function " + fn
			}
		}
	}
	var volatile []string
	for fn, cl := range c.funcs {
		if cl == funcVolatile {
			volatile = append(volatile, regexp.QuoteMeta(fn))
		}
	}
	if len(volatile) > 0 {
		slices.Sort(volatile)
		c.volatileCall = regexp.MustCompile("(?i)\\b(" + strings.Join(volatile, "|") + ")\\s*\\(")
	}
	declared := map[string]bool{}
	for t, ds := range deps {
		declared[TableTag(t)] = true
		for _, d := range ds {
			edge(t, d)
		}
	}
	for t, b := range f.triggers {
		why := b.opaque
		for _, fn := range b.funcs {
			if cl := c.funcs[fn]; cl == funcVolatile || (cl == 0 && c.allFuncs) {
				why = "trigger calls function " + fn
			}
		}
		if why != "" && !declared[TableTag(t)] {
			c.writeAll[TableTag(t)] = why
		}
		for _, w := range b.writes {
			edge(t, w)
		}
	}
	for _, t := range f.rls {
		c.rls[TableTag(t)] = true
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
			vg[TableTag(v)] = append(vg[TableTag(v)], TableTag(b))
		}
	}
	for v, tags := range viewFuncReads {
		vg[v] = append(vg[v], tags...)
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

// apply adds to a plan what the catalog knows: view bases to its reads,
// cascades to its writes, and the verdict on the functions it calls.
func (c *catalog) apply(p *plan, query string) {
	if c.failed {
		if p.isWrite() {
			p.writeAll = true
		}
		if len(p.stmt.Functions) > 0 && p.stmt.Cacheable {
			p.stmt.Cacheable, p.stmt.Reason = false, "schema catalog unavailable: functions cannot be classified"
		}
		return
	}
	for _, fn := range p.stmt.Functions {
		fn = baseName(fn)
		switch cl := c.funcs[fn]; {
		case cl == funcVolatile:
			p.mayWriteAll("calls volatile function " + fn + ", which may write")
		case cl == funcStable && c.funcOpaque[fn] != "":
			if p.stmt.Cacheable {
				p.stmt.Cacheable, p.stmt.Reason = false, c.funcOpaque[fn]
			}
		case cl == funcStable:
			// Its result depends on the tables it reads.
			p.readTags = union(p.readTags, c.funcReads[fn])
		case cl == 0 && c.allFuncs && p.stmt.Cacheable:
			p.stmt.Cacheable, p.stmt.Reason = false, "calls unknown function "+fn
		}
	}
	for _, t := range p.readTags {
		if why, ok := c.noCache[t]; ok && p.stmt.Cacheable {
			p.stmt.Cacheable, p.stmt.Reason = false, why
		}
		if c.rls[t] {
			p.needsScope = true
		}
	}
	p.readTags = expand(p.readTags, c.reads)
	for _, t := range p.readTags {
		if c.rls[t] {
			p.needsScope = true
		}
		if why, ok := c.volatile[t]; ok {
			p.mayWriteAll(why)
		}
	}
	if c.volatileCall != nil && !p.writeAll {
		if m := c.volatileCall.FindStringSubmatch(query); m != nil {
			p.mayWriteAll("may call volatile function " + strings.ToLower(m[1]) + ", which may write")
		}
	}
	if !p.isWrite() {
		return
	}
	for _, t := range p.writeTags {
		if _, ok := c.writeAll[t]; ok {
			p.writeAll = true
		}
	}
	p.writeTags = expand(p.writeTags, c.writes)
}

// mayWriteAll makes a statement a write of everything that is never cached.
func (p *plan) mayWriteAll(why string) {
	if p.stmt.Cacheable || p.stmt.Reason == "" {
		p.stmt.Cacheable, p.stmt.Reason = false, why
	}
	if p.stmt.Kind == sqlparse.KindRead || p.stmt.Kind == sqlparse.KindOther {
		p.stmt.Kind = sqlparse.KindWrite
	}
	p.writeAll = true
}

// baseName drops a schema qualifier from a function name.
func baseName(fn string) string {
	if i := strings.LastIndexByte(fn, '.'); i >= 0 {
		return fn[i+1:]
	}
	return fn
}

// union returns tags plus the elements of more it lacks; tags itself (never
// modified) when there are none.
func union(tags, more []string) []string {
	out := tags
	for _, t := range more {
		if !slices.Contains(out, t) {
			if len(out) == len(tags) {
				out = slices.Clip(slices.Clone(tags))
			}
			out = append(out, t)
		}
	}
	return out
}

func tagsOfNames(names []string) []string {
	tags := make([]string, len(names))
	for i, n := range names {
		tags[i] = TableTag(n)
	}
	return tags
}

// expand returns tags plus everything m maps them to, without duplicates; tags
// itself when nothing is added.
func expand(tags []string, m map[string][]string) []string {
	var out []string
	for _, t := range tags {
		if more := m[t]; len(more) > 0 {
			if out == nil {
				out = slices.Clone(tags)
			}
			for _, x := range more {
				if !slices.Contains(out, x) {
					out = append(out, x)
				}
			}
		}
	}
	if out == nil {
		return tags
	}
	return out
}

// introspector reads one dialect's catalog through a base connection.
type introspector func(ctx context.Context, bc driver.Conn, parser sqlparse.Parser) (*facts, error)

func introspectorFor(dialect string) introspector {
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

// catalogTimeout bounds one introspection.
const catalogTimeout = 30 * time.Second

// loadCatalog reads the catalog through bc and installs it, resetting the
// plans when it changed. first: only if no catalog was read yet (first
// connection of the connector). A failure installs failedCatalog.
func (c *connector) loadCatalog(ctx context.Context, bc driver.Conn, first bool) {
	intro := introspectorFor(c.dialect)
	if intro == nil || c.disabled || c.cfg.NoCatalog {
		return
	}
	c.catMu.Lock()
	defer c.catMu.Unlock()
	if first && c.catLoaded {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), catalogTimeout)
	defer cancel()
	var cat *catalog
	f, err := intro(ctx, bc, c.planner.parser)
	if err != nil && ctx.Err() == nil {
		// Once more: a relation dropped while the catalog was read can fail it.
		f, err = intro(ctx, bc, c.planner.parser)
	}
	if err != nil {
		c.cfg.Logger.Warn("yoked: cannot read the schema catalog; every write invalidates everything until it can", "err", err)
		cat = failedCatalog
		c.catLoaded = false
	} else {
		cat = build(f, c.cfg.Dependencies)
		c.catLoaded = true
	}
	if old := c.planner.cat.Load(); old != nil && reflect.DeepEqual(old, cat) {
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
	if cn.c.disabled || cn.c.cfg.NoCatalog || introspectorFor(cn.c.dialect) == nil {
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

var (
	bodyLiteral  = regexp.MustCompile(`'(?:[^']|'')*'`)
	bodyComment  = regexp.MustCompile(`(?s)--[^\n]*|/\*.*?\*/`)
	bodyOpaque   = regexp.MustCompile(`(?i)\b(execute|perform|call|copy|do|prepare)\b`)
	bodyWriteKey = regexp.MustCompile(`(?i)\b(insert|update|delete|merge|replace|truncate|with)\b`)
)

// bodyStatements drops comments and the contents of string literals from a
// routine body and splits it at ';'; why names the keyword that makes the
// body unreadable (dynamic SQL, calls), or is "".
func bodyStatements(text string) (parts []string, why string) {
	text = bodyComment.ReplaceAllString(text, " ")
	text = bodyLiteral.ReplaceAllString(text, "''")
	if m := bodyOpaque.FindString(text); m != "" {
		return nil, strings.ToUpper(m)
	}
	return strings.Split(text, ";"), ""
}

var bodyReadKey = regexp.MustCompile(`(?i)\b(select|with|values|table)\b`)

// readFunctionBody finds what the body of a stable function (language sql
// or plpgsql) reads; any other language, or a statement the parser does not
// understand, makes it opaque.
func readFunctionBody(parser sqlparse.Parser, lang, src string) *body {
	b := &body{}
	var chunks []string
	switch lang {
	case "sql":
		chunks = []string{src}
	case "plpgsql":
		parts, why := bodyStatements(src)
		if why != "" {
			b.opaque = "function body uses " + why
			return b
		}
		for _, chunk := range parts {
			if loc := bodyReadKey.FindStringIndex(chunk); loc != nil {
				chunks = append(chunks, chunk[loc[0]:])
			}
		}
	default:
		b.opaque = "function in language " + lang
		return b
	}
	for _, c := range chunks {
		st := parser.Parse(c)
		if !st.Parsed || st.AllTables || st.Kind == sqlparse.KindUnknown {
			b.opaque = "function statement not understood: " + strings.TrimSpace(c)
			return b
		}
		for _, t := range st.Reads {
			b.reads = append(b.reads, t.Name)
		}
		b.funcs = append(b.funcs, st.Functions...)
	}
	return b
}

// readBody finds what a trigger or routine body written in SQL (or
// PL/pgSQL, or a MySQL compound statement) writes: every statement that
// starts with a write keyword is parsed with the dialect's parser. Anything
// it cannot pin down (dynamic SQL, procedure calls, a statement the parser
// does not understand) makes the body opaque.
func readBody(parser sqlparse.Parser, text string) *body {
	b := &body{}
	parts, why := bodyStatements(text)
	if why != "" {
		b.opaque = "trigger body uses " + why
		return b
	}
	for _, chunk := range parts {
		loc := bodyWriteKey.FindStringIndex(chunk)
		if loc == nil {
			continue
		}
		st := parser.Parse(chunk[loc[0]:])
		if !st.Parsed || st.AllTables || st.Kind == sqlparse.KindUnknown || (st.Kind == sqlparse.KindWrite && len(st.Writes) == 0) {
			b.opaque = "trigger statement not understood: " + strings.TrimSpace(chunk)
			return b
		}
		for _, w := range st.Writes {
			b.writes = append(b.writes, w.Name)
		}
		b.funcs = append(b.funcs, st.Functions...)
	}
	slices.Sort(b.writes)
	b.writes = slices.Compact(b.writes)
	return b
}
