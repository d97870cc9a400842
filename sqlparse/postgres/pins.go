package postgres

import (
	"strconv"

	pg "github.com/pganalyze/pg_query_go/v6"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/yokedcache/yoked/sqlparse"
)

// pins finds the rows a lone statement is confined to (see sqlparse.Pin).
func pins(stmts []*pg.RawStmt) []sqlparse.Pin {
	if len(stmts) != 1 {
		return nil
	}
	n := stmts[0].GetStmt()
	var (
		rv    *pg.RangeVar
		where *pg.Node
		op    sqlparse.PinOp
		sets  []string
	)
	switch s := n.GetNode().(type) {
	case *pg.Node_SelectStmt:
		q := s.SelectStmt
		if q.GetWithClause() != nil || q.GetOp() != pg.SetOperation_SETOP_NONE || len(q.GetFromClause()) != 1 ||
			len(q.GetValuesLists()) > 0 || q.GetIntoClause() != nil {
			return nil
		}
		rv, where, op = q.GetFromClause()[0].GetRangeVar(), q.GetWhereClause(), sqlparse.PinRead
	case *pg.Node_UpdateStmt:
		u := s.UpdateStmt
		if u.GetWithClause() != nil || len(u.GetFromClause()) > 0 {
			return nil
		}
		for _, t := range u.GetTargetList() {
			rt := t.GetResTarget()
			if rt == nil {
				return nil
			}
			sets = append(sets, rt.GetName())
		}
		rv, where, op = u.GetRelation(), u.GetWhereClause(), sqlparse.PinUpdate
	case *pg.Node_DeleteStmt:
		d := s.DeleteStmt
		if d.GetWithClause() != nil || len(d.GetUsingClause()) > 0 {
			return nil
		}
		rv, where, op = d.GetRelation(), d.GetWhereClause(), sqlparse.PinDelete
	case *pg.Node_InsertStmt:
		return insertPins(s.InsertStmt)
	default:
		return nil
	}
	if rv == nil || where == nil || hasSubquery(n.ProtoReflect()) {
		return nil
	}
	qualifiers := []string{rv.GetRelname()}
	if a := rv.GetAlias(); a != nil {
		qualifiers = []string{a.GetAliasname()}
	}
	var b sqlparse.PinBuilder
	conjuncts(where, func(e *pg.Node) {
		col, vals, ok := equality(e, qualifiers)
		if ok {
			b.Equal(col, vals)
		}
	})
	p, ok := b.Pin(rel(rv), op)
	if !ok {
		return nil
	}
	p.Assigns = sets
	return []sqlparse.Pin{p}
}

// insertPins pins a plain INSERT … (cols) VALUES: no upsert, no CTE, no
// SELECT.
func insertPins(s *pg.InsertStmt) []sqlparse.Pin {
	if s.GetWithClause() != nil || s.GetOnConflictClause() != nil || len(s.GetCols()) == 0 || s.GetRelation() == nil {
		return nil
	}
	sel := s.GetSelectStmt().GetSelectStmt()
	if sel == nil || len(sel.GetValuesLists()) == 0 || len(sel.GetFromClause()) > 0 || sel.GetWithClause() != nil {
		return nil
	}
	cols := make([]string, len(s.GetCols()))
	for i, c := range s.GetCols() {
		rt := c.GetResTarget()
		if rt == nil || len(rt.GetIndirection()) > 0 {
			return nil
		}
		cols[i] = rt.GetName()
	}
	rows := make([][]*sqlparse.Value, len(sel.GetValuesLists()))
	for i, l := range sel.GetValuesLists() {
		for _, e := range l.GetList().GetItems() {
			var v *sqlparse.Value
			if x, ok := value(e); ok {
				v = &x
			}
			rows[i] = append(rows[i], v)
		}
	}
	p, ok := sqlparse.InsertPin(rel(s.GetRelation()), cols, rows)
	if !ok {
		return nil
	}
	return []sqlparse.Pin{p}
}

// conjuncts calls f with every term ANDed at the top of e.
func conjuncts(e *pg.Node, f func(*pg.Node)) {
	if b := e.GetBoolExpr(); b != nil {
		if b.GetBoolop() == pg.BoolExprType_AND_EXPR {
			for _, a := range b.GetArgs() {
				conjuncts(a, f)
			}
		}
		return
	}
	f(e)
}

// equality reads "col = value", "value = col" and "col IN (values)" on a
// column of the pinned table.
func equality(e *pg.Node, qualifiers []string) (string, []sqlparse.Value, bool) {
	x := e.GetAExpr()
	if x == nil || len(x.GetName()) != 1 || x.GetName()[0].GetString_().GetSval() != "=" {
		return "", nil, false
	}
	switch x.GetKind() {
	case pg.A_Expr_Kind_AEXPR_OP:
		l, r := x.GetLexpr(), x.GetRexpr()
		if _, ok := column(l, qualifiers); !ok {
			l, r = r, l
		}
		col, ok := column(l, qualifiers)
		if !ok {
			return "", nil, false
		}
		v, ok := value(r)
		if !ok {
			return "", nil, false
		}
		return col, []sqlparse.Value{v}, true
	case pg.A_Expr_Kind_AEXPR_IN:
		col, ok := column(x.GetLexpr(), qualifiers)
		items := x.GetRexpr().GetList().GetItems()
		if !ok || len(items) == 0 {
			return "", nil, false
		}
		vals := make([]sqlparse.Value, len(items))
		for i, it := range items {
			if vals[i], ok = value(it); !ok {
				return "", nil, false
			}
		}
		return col, vals, true
	}
	return "", nil, false
}

// column reads a reference to a column of the pinned table: unqualified, or
// qualified by its name (or alias), possibly after a schema.
func column(n *pg.Node, qualifiers []string) (string, bool) {
	c := n.GetColumnRef()
	if c == nil {
		return "", false
	}
	f := c.GetFields()
	if len(f) == 0 || len(f) > 3 {
		return "", false
	}
	name := f[len(f)-1].GetString_()
	if name == nil {
		return "", false
	}
	if len(f) >= 2 {
		q := f[len(f)-2].GetString_().GetSval()
		ok := false
		for _, want := range qualifiers {
			ok = ok || q == want
		}
		if !ok {
			return "", false
		}
	}
	return name.GetSval(), true
}

// value reads a bound argument or a literal (number or string), possibly
// cast once; NULL and other expressions are not values.
func value(n *pg.Node) (sqlparse.Value, bool) {
	if tc := n.GetTypeCast(); tc != nil {
		n = tc.GetArg()
	}
	if p := n.GetParamRef(); p != nil {
		return sqlparse.Value{Param: int(p.GetNumber())}, p.GetNumber() > 0
	}
	c := n.GetAConst()
	switch {
	case c == nil || c.GetIsnull():
		return sqlparse.Value{}, false
	case c.GetIval() != nil:
		return sqlparse.Value{Literal: strconv.FormatInt(int64(c.GetIval().GetIval()), 10)}, true
	case c.GetFval() != nil:
		return sqlparse.Value{Literal: c.GetFval().GetFval()}, true
	case c.GetSval() != nil:
		return sqlparse.Value{Literal: c.GetSval().GetSval(), Quoted: true}, true
	}
	return sqlparse.Value{}, false
}

// hasSubquery reports whether a tree holds a subquery or a set-returning
// FROM item anywhere: such a statement may touch rows its WHERE does not pin.
func hasSubquery(m protoreflect.Message) bool {
	found := false
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		switch {
		case fd.Message() == nil:
		case fd.IsList():
			l := v.List()
			for i := 0; i < l.Len() && !found; i++ {
				found = subMessage(l.Get(i).Message())
			}
		default:
			found = subMessage(v.Message())
		}
		return !found
	})
	return found
}

func subMessage(m protoreflect.Message) bool {
	switch m.Interface().(type) {
	case *pg.SubLink, *pg.RangeSubselect, *pg.RangeFunction, *pg.CommonTableExpr, *pg.JoinExpr:
		return true
	}
	return hasSubquery(m)
}
