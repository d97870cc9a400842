package postgres

import (
	"cmp"
	"slices"
	"strings"

	pg "github.com/pganalyze/pg_query_go/v6"

	"github.com/yokedcache/yoked/sqlparse"
)

// New returns the PostgreSQL Parser. It is safe for concurrent use.
func New() sqlparse.Parser { return parser{} }

type parser struct{}

var _ sqlparse.Parser = parser{}

// Parse summarises sql. It never panics: a text pg_query rejects, or a tree
// this package fails to walk, is answered by the lexical fallback.
func (parser) Parse(sql string) (st sqlparse.Statement) {
	defer func() {
		if recover() != nil {
			st = fallback(sql)
		}
	}()
	tree, err := parseTree(sql)
	if err != nil || tree == nil {
		return fallback(sql)
	}
	var a acc
	for _, raw := range tree.GetStmts() {
		a.stmt(raw.GetStmt())
	}
	st = a.finish(len(tree.GetStmts()))
	st.Pins = pins(tree.GetStmts())
	return st
}

// fallback answers for text the grammar rejected.
func fallback(sql string) sqlparse.Statement { return sqlparse.Scan(sql) }

// rank orders kinds as Statement.Kind documents: Unknown > DDL > Write >
// Session > Tx > Other > Read.
func rank(k sqlparse.Kind) int {
	switch k {
	case sqlparse.KindRead:
		return 0
	case sqlparse.KindOther:
		return 1
	case sqlparse.KindTx:
		return 2
	case sqlparse.KindSession:
		return 3
	case sqlparse.KindWrite:
		return 4
	case sqlparse.KindDDL:
		return 5
	}
	return 6
}

// acc accumulates what the walk finds across every statement in the text.
type acc struct {
	kind    sqlparse.Kind
	seen    bool // kind has been raised at least once
	reads   []sqlparse.Table
	writes  []sqlparse.Table
	all     bool
	reason  string // first reason a read is not cacheable
	funcs   []string
	ctes    []string // CTE names visible at the current point of the walk
	asWrite bool     // table references found now are targets, not sources
	session bool     // a session or transaction statement or call was seen
	endsTx  bool     // a statement may commit or end the transaction (see sqlparse.Statement.EndsTx)
	sets    []string // settings assigned by SET/RESET statements
	notSet  bool     // a statement other than SET/RESET of a setting was seen
	resets  bool     // DISCARD ALL was seen
}

func (a *acc) raise(k sqlparse.Kind) {
	if k == sqlparse.KindSession || k == sqlparse.KindTx {
		a.session = true // Statement.Session covers transaction control too
	}
	if !a.seen || rank(k) > rank(a.kind) {
		a.kind, a.seen = k, true
	}
}

func (a *acc) noCache(reason string) {
	if a.reason == "" {
		a.reason = reason
	}
}

// unknown marks a statement whose writes cannot be named.
func (a *acc) unknown(k sqlparse.Kind) {
	a.raise(k)
	a.all = true
}

func table(schema, name string) sqlparse.Table {
	return sqlparse.Table{Schema: schema, Name: name}
}

func (a *acc) write(t sqlparse.Table) {
	if t.Name != "" {
		a.writes = append(a.writes, t)
	}
}

func (a *acc) finish(n int) sqlparse.Statement {
	if !a.seen {
		// Empty text or only comments: nothing runs.
		a.raise(sqlparse.KindOther)
		a.noCache("empty statement")
	}
	st := sqlparse.Statement{
		Kind:      a.kind,
		Parsed:    true,
		Reads:     tables(a.reads),
		Writes:    tables(a.writes),
		AllTables: a.all,
		Functions: names(a.funcs),
		Session:   a.session,
		EndsTx:    a.endsTx,
	}
	if !a.notSet {
		st.Settings = names(a.sets)
	}
	st.ResetsSession = a.resets && n == 1
	switch {
	case a.kind != sqlparse.KindRead:
		st.Reason = kindReason[a.kind]
	case a.all || len(st.Writes) > 0:
		st.Reason = "statement writes"
	case n > 1:
		st.Reason = "multiple statements"
	default:
		st.Reason = a.reason
	}
	st.Cacheable = st.Reason == ""
	return st
}

var kindReason = map[sqlparse.Kind]string{
	sqlparse.KindUnknown: "statement effect unknown",
	sqlparse.KindWrite:   "statement writes",
	sqlparse.KindDDL:     "statement changes schema",
	sqlparse.KindTx:      "transaction control",
	sqlparse.KindSession: "statement changes session state",
	sqlparse.KindOther:   "not a query",
}

func tables(ts []sqlparse.Table) []sqlparse.Table {
	if len(ts) == 0 {
		return nil
	}
	slices.SortFunc(ts, func(x, y sqlparse.Table) int {
		return cmp.Or(cmp.Compare(x.Schema, y.Schema), cmp.Compare(x.Name, y.Name))
	})
	return slices.Compact(ts)
}

func names(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	slices.Sort(s)
	return slices.Compact(s)
}

// qualified turns a list of String nodes (a qualified name) into a Table,
// ignoring a leading catalog.
func qualified(items []*pg.Node) (sqlparse.Table, bool) {
	parts := make([]string, 0, len(items))
	for _, it := range items {
		s, ok := it.GetNode().(*pg.Node_String_)
		if !ok {
			return sqlparse.Table{}, false
		}
		parts = append(parts, s.String_.GetSval())
	}
	switch len(parts) {
	case 1:
		return table("", parts[0]), true
	case 2, 3:
		return table(parts[len(parts)-2], parts[len(parts)-1]), true
	}
	return sqlparse.Table{}, false
}

// funcName joins a function's (possibly qualified) name in lower case.
func funcName(items []*pg.Node) (full, base string) {
	parts := make([]string, 0, len(items))
	for _, it := range items {
		if s, ok := it.GetNode().(*pg.Node_String_); ok {
			parts = append(parts, strings.ToLower(s.String_.GetSval()))
		}
	}
	if len(parts) == 0 {
		return "", ""
	}
	return strings.Join(parts, "."), parts[len(parts)-1]
}
