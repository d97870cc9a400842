package sqlite

import "github.com/yokedcache/yoked/sqlparse"

// ex is what a pin needs to know of an expression: a column, a value, a
// conjunction, or a column matched against values (= or IN). Any other
// expression is the zero ex.
type ex struct {
	kind   exKind
	qual   string           // exColumn, exMatch: the table qualifier, "" when none
	col    string           // exColumn, exMatch
	vals   []sqlparse.Value // exValue (one), exMatch
	terms  []ex             // exAnd
	number bool             // exValue: an unsigned number literal
}

type exKind uint8

const (
	exOther exKind = iota
	exColumn
	exValue
	exAnd
	exMatch
)

func value(v sqlparse.Value) ex { return ex{kind: exValue, vals: []sqlparse.Value{v}} }

// conjuncts are the terms ANDed at the top of e.
func (e ex) conjuncts() []ex {
	if e.kind == exAnd {
		return e.terms
	}
	return []ex{e}
}

// match is l = r (in is nil) or l IN (in…): a column matched against
// values, or the zero ex.
func match(l, r ex, in []sqlparse.Value) ex {
	if in != nil {
		if l.kind != exColumn {
			return ex{}
		}
		return ex{kind: exMatch, qual: l.qual, col: l.col, vals: in}
	}
	if l.kind != exColumn {
		l, r = r, l
	}
	if l.kind != exColumn || r.kind != exValue {
		return ex{}
	}
	return ex{kind: exMatch, qual: l.qual, col: l.col, vals: r.vals}
}

// pinState is what query records for sqlparse.Pin while it reads.
type pinState struct {
	op       sqlparse.PinOp
	nested   bool      // a subquery, join, CTE, compound, derived table or table function
	numbered bool      // a ?NNN or named parameter: text order is not the ordinal
	noPin    bool      // OR REPLACE and the other conflict forms, REPLACE, upserts, row assignments
	params   int       // parameters met so far
	sources  int       // FROM items
	src      [3]string // schema, name, alias of the last table in FROM
	target   [3]string // schema, name, alias of a write's target
	where    ex
	sets     []string
	cols     []string
	rows     [][]*sqlparse.Value // the rows of VALUES
}

// pins returns the pin of a lone single-table statement (see sqlparse.Pin),
// or nil.
func (q *query) pins() []sqlparse.Pin {
	ps := &q.pin
	if ps.op == "" || ps.nested || ps.numbered || ps.noPin || q.temp {
		return nil
	}
	from := ps.target
	if ps.op == sqlparse.PinRead {
		if ps.sources != 1 {
			return nil
		}
		from = ps.src
	}
	t, temp := table(from[0], from[1])
	if temp || from[1] == "" {
		return nil
	}
	if ps.op == sqlparse.PinInsert {
		if len(ps.cols) == 0 || ps.rows == nil {
			return nil
		}
		p, ok := sqlparse.InsertPin(t, ps.cols, ps.rows)
		if !ok {
			return nil
		}
		return []sqlparse.Pin{p}
	}
	alias := from[2]
	if alias == "" {
		alias = from[1]
	}
	var b sqlparse.PinBuilder
	for _, c := range ps.where.conjuncts() {
		if c.kind == exMatch && (c.qual == "" || c.qual == alias) {
			b.Equal(c.col, c.vals)
		}
	}
	p, ok := b.Pin(t, ps.op)
	if !ok {
		return nil
	}
	p.Assigns = ps.sets
	return []sqlparse.Pin{p}
}
