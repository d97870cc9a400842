package mysql

import (
	"slices"
	"strconv"

	"github.com/pingcap/tidb/pkg/parser/ast"
	"github.com/pingcap/tidb/pkg/parser/opcode"
	"github.com/pingcap/tidb/pkg/parser/test_driver"

	"github.com/yokedcache/yoked/sqlparse"
)

// pins finds the rows a lone statement is confined to (see sqlparse.Pin).
// Column names are lower-cased: MySQL compares them without case.
func pins(stmts []ast.StmtNode, o *Options) []sqlparse.Pin {
	if len(stmts) != 1 {
		return nil
	}
	pv := pinValues{ordinals: paramOrdinals(stmts[0])}
	var (
		refs  *ast.TableRefsClause
		where ast.ExprNode
		op    sqlparse.PinOp
		sets  []string
	)
	switch s := stmts[0].(type) {
	case *ast.SelectStmt:
		if s.With != nil || s.Kind != ast.SelectStmtKindSelect || s.SelectIntoOpt != nil {
			return nil
		}
		refs, where, op = s.From, s.Where, sqlparse.PinRead
	case *ast.UpdateStmt:
		if s.With != nil || s.MultipleTable {
			return nil
		}
		for _, a := range s.List {
			if a.Column == nil {
				return nil
			}
			sets = append(sets, a.Column.Name.L)
		}
		refs, where, op = s.TableRefs, s.Where, sqlparse.PinUpdate
	case *ast.DeleteStmt:
		if s.With != nil || s.IsMultiTable {
			return nil
		}
		refs, where, op = s.TableRefs, s.Where, sqlparse.PinDelete
	case *ast.InsertStmt:
		return pv.insertPins(s, o)
	default:
		return nil
	}
	tn, alias := single(refs)
	if tn == nil || where == nil || hasSubquery(stmts[0]) {
		return nil
	}
	t, session := o.Table(tn.Schema.L, tn.Name.L)
	if session {
		return nil
	}
	if alias == "" {
		alias = tn.Name.L
	}
	var b sqlparse.PinBuilder
	conjuncts(where, func(e ast.ExprNode) {
		if col, vals, ok := pv.equality(e, alias); ok {
			b.Equal(col, vals)
		}
	})
	p, ok := b.Pin(t, op)
	if !ok {
		return nil
	}
	p.Assigns = sets
	return []sqlparse.Pin{p}
}

// single returns the one table of a FROM clause and its alias, or nil.
func single(refs *ast.TableRefsClause) (*ast.TableName, string) {
	if refs == nil || refs.TableRefs == nil || refs.TableRefs.Right != nil {
		return nil, ""
	}
	ts, ok := refs.TableRefs.Left.(*ast.TableSource)
	if !ok {
		return nil, ""
	}
	tn, ok := ts.Source.(*ast.TableName)
	if !ok {
		return nil, ""
	}
	return tn, ts.AsName.L
}

// insertPins pins a plain INSERT … (cols) VALUES: no REPLACE, no ON
// DUPLICATE KEY UPDATE, no SELECT.
func (pv pinValues) insertPins(s *ast.InsertStmt, o *Options) []sqlparse.Pin {
	if s.IsReplace || len(s.OnDuplicate) > 0 || s.Select != nil || len(s.Columns) == 0 || len(s.Lists) == 0 {
		return nil
	}
	tn, _ := single(s.Table)
	if tn == nil || hasSubquery(s) {
		return nil
	}
	t, session := o.Table(tn.Schema.L, tn.Name.L)
	if session {
		return nil
	}
	cols := make([]string, len(s.Columns))
	for i, c := range s.Columns {
		cols[i] = c.Name.L
	}
	rows := make([][]*sqlparse.Value, len(s.Lists))
	for i, l := range s.Lists {
		for _, e := range l {
			var v *sqlparse.Value
			if x, ok := pv.value(e); ok {
				v = &x
			}
			rows[i] = append(rows[i], v)
		}
	}
	p, ok := sqlparse.InsertPin(t, cols, rows)
	if !ok {
		return nil
	}
	return []sqlparse.Pin{p}
}

// conjuncts calls f with every term ANDed at the top of e.
func conjuncts(e ast.ExprNode, f func(ast.ExprNode)) {
	switch x := e.(type) {
	case *ast.ParenthesesExpr:
		conjuncts(x.Expr, f)
		return
	case *ast.BinaryOperationExpr:
		if x.Op == opcode.LogicAnd {
			conjuncts(x.L, f)
			conjuncts(x.R, f)
			return
		}
	}
	f(e)
}

// equality reads "col = value", "value = col" and "col IN (values)" on a
// column of the pinned table (named alias in the statement).
func (pv pinValues) equality(e ast.ExprNode, alias string) (string, []sqlparse.Value, bool) {
	switch x := e.(type) {
	case *ast.BinaryOperationExpr:
		if x.Op != opcode.EQ {
			return "", nil, false
		}
		l, r := x.L, x.R
		if _, ok := column(l, alias); !ok {
			l, r = r, l
		}
		col, ok := column(l, alias)
		if !ok {
			return "", nil, false
		}
		v, ok := pv.value(r)
		if !ok {
			return "", nil, false
		}
		return col, []sqlparse.Value{v}, true
	case *ast.PatternInExpr:
		col, ok := column(x.Expr, alias)
		if !ok || x.Not || x.Sel != nil || len(x.List) == 0 {
			return "", nil, false
		}
		vals := make([]sqlparse.Value, len(x.List))
		for i, it := range x.List {
			if vals[i], ok = pv.value(it); !ok {
				return "", nil, false
			}
		}
		return col, vals, true
	}
	return "", nil, false
}

// column reads a reference to a column of the pinned table.
func column(e ast.ExprNode, alias string) (string, bool) {
	if p, ok := e.(*ast.ParenthesesExpr); ok {
		return column(p.Expr, alias)
	}
	c, ok := e.(*ast.ColumnNameExpr)
	if !ok || c.Name == nil || c.Name.Table.L != "" && c.Name.Table.L != alias {
		return "", false
	}
	return c.Name.Name.L, true
}

// value reads a bound argument or a literal number or string; NULL and
// other expressions are not values.
func (pv pinValues) value(e ast.ExprNode) (sqlparse.Value, bool) {
	switch x := e.(type) {
	case *ast.ParenthesesExpr:
		return pv.value(x.Expr)
	case *test_driver.ParamMarkerExpr:
		n, ok := pv.ordinals[x.Offset]
		return sqlparse.Value{Param: n}, ok
	case *ast.UnaryOperationExpr:
		if x.Op != opcode.Minus {
			return sqlparse.Value{}, false
		}
		v, ok := pv.value(x.V)
		if !ok || v.Param != 0 || v.Quoted || v.Literal == "" || v.Literal[0] == '-' {
			return sqlparse.Value{}, false
		}
		return sqlparse.Value{Literal: "-" + v.Literal}, true
	case *test_driver.ValueExpr:
		switch v := x.GetValue().(type) {
		case int64:
			return sqlparse.Value{Literal: strconv.FormatInt(v, 10)}, true
		case uint64:
			return sqlparse.Value{Literal: strconv.FormatUint(v, 10)}, true
		case string:
			return sqlparse.Value{Literal: v, Quoted: true}, true
		case *test_driver.MyDecimal:
			return sqlparse.Value{Literal: v.String()}, true
		}
	}
	return sqlparse.Value{}, false
}

// subqueryFinder flags subqueries, joins and derived tables.
type subqueryFinder struct{ found bool }

func (f *subqueryFinder) Enter(n ast.Node) (ast.Node, bool) {
	switch x := n.(type) {
	case *ast.SubqueryExpr, *ast.ExistsSubqueryExpr, *ast.CompareSubqueryExpr, *ast.WithClause, *ast.SetOprStmt:
		f.found = true
	case *ast.Join:
		f.found = f.found || x.Right != nil
	case *ast.TableSource:
		_, plain := x.Source.(*ast.TableName)
		f.found = f.found || !plain
	}
	return n, f.found
}

func (f *subqueryFinder) Leave(n ast.Node) (ast.Node, bool) { return n, true }

// hasSubquery reports whether a statement holds a subquery, a join or a
// derived table anywhere.
func hasSubquery(n ast.Node) bool {
	var f subqueryFinder
	n.Accept(&f)
	return f.found
}

// pinValues reads values; ordinals maps the text offset of each ? to its
// 1-based ordinal (the parser leaves ParamMarkerExpr.Order unset).
type pinValues struct{ ordinals map[int]int }

// paramCollector gathers the offsets of every ? of a statement.
type paramCollector struct{ offsets []int }

func (c *paramCollector) Enter(n ast.Node) (ast.Node, bool) {
	if p, ok := n.(*test_driver.ParamMarkerExpr); ok {
		c.offsets = append(c.offsets, p.Offset)
	}
	return n, false
}

func (c *paramCollector) Leave(n ast.Node) (ast.Node, bool) { return n, true }

// paramOrdinals numbers the ? of a statement in text order.
func paramOrdinals(n ast.Node) map[int]int {
	var c paramCollector
	n.Accept(&c)
	slices.Sort(c.offsets)
	m := make(map[int]int, len(c.offsets))
	for i, off := range c.offsets {
		if _, dup := m[off]; dup {
			return nil // offsets must tell the markers apart
		}
		m[off] = i + 1
	}
	return m
}
