package postgres

import (
	"slices"
	"strings"

	pg "github.com/pganalyze/pg_query_go/v6"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/yokedcache/yoked/sqlparse"
)

// The walk visits every message of the raw parse tree. The few node kinds
// that matter (table references, DML, WITH scopes, function calls,
// constants, row locks, sampling) are handled by type; every other node is
// only descended into, so a construct this file does not know still has its
// tables and calls found.

func (a *acc) walkNode(n *pg.Node) {
	if n != nil {
		a.walk(n.ProtoReflect())
	}
}

func (a *acc) walkList(l []*pg.Node) {
	for _, n := range l {
		a.walkNode(n)
	}
}

func (a *acc) walk(m protoreflect.Message) {
	switch x := m.Interface().(type) {
	case *pg.RangeVar:
		a.rangeVar(x)
		return
	case *pg.SelectStmt:
		a.selectStmt(x)
		return
	case *pg.InsertStmt:
		a.dml(m, x.GetRelation(), x.GetWithClause())
		return
	case *pg.UpdateStmt:
		a.dml(m, x.GetRelation(), x.GetWithClause())
		return
	case *pg.DeleteStmt:
		a.dml(m, x.GetRelation(), x.GetWithClause())
		return
	case *pg.MergeStmt:
		a.dml(m, x.GetRelation(), x.GetWithClause())
		return
	case *pg.WithClause:
		// Reached only outside a statement that scopes it: walk it in place.
		a.with(x, func() {})
		return
	case *pg.IntoClause:
		a.into(x)
		return
	case *pg.ExecuteStmt:
		a.unknown(sqlparse.KindUnknown)
	case *pg.FuncCall:
		a.funcCall(x)
	case *pg.SQLValueFunction:
		a.sqlValue(x)
		return
	case *pg.A_Const:
		a.constant(x)
		return
	case *pg.TypeCast:
		if t := regType(x.GetTypeName()); t != "" {
			// 'users'::regclass is an oid looked up in the catalog: it
			// changes with DROP and CREATE.
			a.noCache("reads the catalog: ::" + t)
		}
	case *pg.RangeTableSample:
		a.noCache("TABLESAMPLE returns a random sample")
	case *pg.LockingClause:
		a.noCache("locks rows")
		return // its relations are names from FROM, already seen
	}
	a.children(m)
}

// children walks every message-valued field of m except the named ones.
func (a *acc) children(m protoreflect.Message, skip ...protoreflect.Name) {
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		if fd.Kind() != protoreflect.MessageKind || fd.IsMap() || slices.Contains(skip, fd.Name()) {
			return true
		}
		if fd.IsList() {
			l := v.List()
			for i := range l.Len() {
				a.walk(l.Get(i).Message())
			}
			return true
		}
		a.walk(v.Message())
		return true
	})
}

// with makes the CTE names of w visible to body with PostgreSQL's scoping:
// a non-recursive CTE sees only the CTEs before it, a recursive WITH makes
// every name visible in every CTE; the body sees them all. On return the
// names are out of scope again.
func (a *acc) with(w *pg.WithClause, body func()) {
	base := len(a.ctes)
	if w != nil {
		if w.GetRecursive() {
			for _, c := range w.GetCtes() {
				a.ctes = append(a.ctes, c.GetCommonTableExpr().GetCtename())
			}
		}
		for _, c := range w.GetCtes() {
			cte := c.GetCommonTableExpr()
			if cte == nil {
				a.walkNode(c)
				continue
			}
			a.walkNode(cte.GetCtequery())
			if !w.GetRecursive() {
				a.ctes = append(a.ctes, cte.GetCtename())
			}
		}
	}
	body()
	a.ctes = a.ctes[:base]
}

func (a *acc) selectStmt(s *pg.SelectStmt) {
	a.with(s.GetWithClause(), func() {
		if s.GetIntoClause() != nil {
			a.into(s.GetIntoClause()) // SELECT … INTO creates a table
		}
		if len(s.GetLockingClause()) > 0 {
			a.noCache("locks rows")
		}
		a.children(s.ProtoReflect(), "with_clause", "into_clause", "locking_clause")
	})
}

// dml records an INSERT, UPDATE, DELETE or MERGE wherever it appears. Its
// target is never a CTE name: PostgreSQL resolves it to a table.
func (a *acc) dml(m protoreflect.Message, target *pg.RangeVar, w *pg.WithClause) {
	a.raise(sqlparse.KindWrite)
	if target == nil {
		a.all = true
	}
	a.with(w, func() {
		a.write(rel(target))
		a.children(m, "relation", "with_clause")
	})
}

func (a *acc) rangeVar(rv *pg.RangeVar) {
	t := rel(rv)
	if t.Name == "" {
		return
	}
	if a.asWrite {
		a.write(t)
		return
	}
	if t.Schema == "" && rv.GetCatalogname() == "" && slices.Contains(a.ctes, t.Name) {
		return
	}
	switch {
	case sqlparse.SystemSchema(sqlparse.DialectPostgres, t.Schema),
		t.Schema == "" && strings.HasPrefix(t.Name, "pg_"):
		// Every relation of pg_catalog is named pg_…, and pg_catalog is
		// searched first whatever search_path says. (information_schema
		// reached through search_path is the driver's business: it knows
		// the connection's search_path.)
		a.noCache("reads a system catalog")
	case strings.HasPrefix(t.Schema, "pg_temp"):
		a.noCache("reads a temporary table")
	}
	a.reads = append(a.reads, t)
}

func (a *acc) funcCall(f *pg.FuncCall) {
	full, base := funcName(f.GetFuncname())
	if full == "" {
		return
	}
	a.funcs = append(a.funcs, full)
	if why := volatile(base); why != "" {
		a.noCache(why + " " + full + "()")
	}
	switch base {
	case "set_config":
		a.raise(sqlparse.KindSession)
	case "nextval", "setval":
		// Advancing a sequence writes it; name it when the call does.
		a.raise(sqlparse.KindWrite)
		if t, ok := sequenceArg(f.GetArgs()); ok {
			a.write(t)
		}
	}
}

// sequenceArg reads the sequence named by a constant first argument
// ('s', 'public.s', '"S"'::regclass).
func sequenceArg(args []*pg.Node) (sqlparse.Table, bool) {
	if len(args) == 0 {
		return sqlparse.Table{}, false
	}
	n := args[0]
	if tc := n.GetTypeCast(); tc != nil {
		n = tc.GetArg()
	}
	c := n.GetAConst()
	if c == nil || c.GetSval() == nil {
		return sqlparse.Table{}, false
	}
	parts, ok := identifiers(c.GetSval().GetSval())
	if !ok {
		return sqlparse.Table{}, false
	}
	switch len(parts) {
	case 1:
		return table("", parts[0]), true
	case 2, 3:
		return table(parts[len(parts)-2], parts[len(parts)-1]), true
	}
	return sqlparse.Table{}, false
}

// identifiers splits a dotted name the way regclass input does: unquoted
// parts fold to lower case, quoted parts keep case and may contain "" and dots.
func identifiers(s string) ([]string, bool) {
	var parts []string
	s = strings.TrimSpace(s)
	for {
		var part string
		if strings.HasPrefix(s, `"`) {
			var b strings.Builder
			i := 1
			for {
				if i >= len(s) {
					return nil, false
				}
				if s[i] == '"' {
					if i+1 < len(s) && s[i+1] == '"' {
						b.WriteByte('"')
						i += 2
						continue
					}
					i++
					break
				}
				b.WriteByte(s[i])
				i++
			}
			part, s = b.String(), s[i:]
		} else {
			end := strings.IndexByte(s, '.')
			if end < 0 {
				end = len(s)
			}
			part, s = strings.ToLower(strings.TrimSpace(s[:end])), s[end:]
		}
		if part == "" {
			return nil, false
		}
		parts = append(parts, part)
		if s == "" {
			return parts, true
		}
		if s[0] != '.' {
			return nil, false
		}
		s = s[1:]
	}
}

var sqlValueNames = map[pg.SQLValueFunctionOp]string{
	pg.SQLValueFunctionOp_SVFOP_CURRENT_DATE:        "current_date",
	pg.SQLValueFunctionOp_SVFOP_CURRENT_TIME:        "current_time",
	pg.SQLValueFunctionOp_SVFOP_CURRENT_TIME_N:      "current_time",
	pg.SQLValueFunctionOp_SVFOP_CURRENT_TIMESTAMP:   "current_timestamp",
	pg.SQLValueFunctionOp_SVFOP_CURRENT_TIMESTAMP_N: "current_timestamp",
	pg.SQLValueFunctionOp_SVFOP_LOCALTIME:           "localtime",
	pg.SQLValueFunctionOp_SVFOP_LOCALTIME_N:         "localtime",
	pg.SQLValueFunctionOp_SVFOP_LOCALTIMESTAMP:      "localtimestamp",
	pg.SQLValueFunctionOp_SVFOP_LOCALTIMESTAMP_N:    "localtimestamp",
	pg.SQLValueFunctionOp_SVFOP_CURRENT_ROLE:        "current_role",
	pg.SQLValueFunctionOp_SVFOP_CURRENT_USER:        "current_user",
	pg.SQLValueFunctionOp_SVFOP_USER:                "user",
	pg.SQLValueFunctionOp_SVFOP_SESSION_USER:        "session_user",
	pg.SQLValueFunctionOp_SVFOP_CURRENT_CATALOG:     "current_catalog",
	pg.SQLValueFunctionOp_SVFOP_CURRENT_SCHEMA:      "current_schema",
}

// sqlValue handles CURRENT_DATE, CURRENT_USER and their kin: each depends on
// the clock or the session.
func (a *acc) sqlValue(f *pg.SQLValueFunction) {
	name, ok := sqlValueNames[f.GetOp()]
	if !ok {
		name = "sql value function"
	}
	a.funcs = append(a.funcs, name)
	a.noCache("depends on the clock or session: " + name)
}

// constant catches the special date/time inputs that PostgreSQL evaluates
// when the statement runs ('now'::timestamptz, date 'today', or an untyped
// 'now' compared with a timestamp column).
func (a *acc) constant(c *pg.A_Const) {
	s := c.GetSval()
	if s == nil {
		return
	}
	switch strings.ToLower(strings.TrimSpace(s.GetSval())) {
	case "now", "today", "tomorrow", "yesterday":
		a.noCache("time-relative literal '" + s.GetSval() + "'")
	}
}

// regType returns the name of an object-identifier type (regclass,
// regproc, …) that a cast looks up in the catalog, or "".
func regType(t *pg.TypeName) string {
	if t == nil || len(t.GetNames()) == 0 {
		return ""
	}
	s, ok := t.GetNames()[len(t.GetNames())-1].GetNode().(*pg.Node_String_)
	if !ok {
		return ""
	}
	switch n := strings.ToLower(s.String_.GetSval()); n {
	case "regclass", "regtype", "regproc", "regprocedure", "regoper", "regoperator", "regnamespace",
		"regrole", "regconfig", "regdictionary", "regcollation":
		return n
	}
	return ""
}
