package sqlparse

// Pin says which rows of one table a statement can touch: every row it
// reads or writes has, for one of the alternatives in Values, Columns[i]
// equal to the alternative's i-th value. It is found from the WHERE clause
// of a single-table SELECT, UPDATE or DELETE (equalities ANDed at the top,
// IN lists of values, literals or bound arguments) and from the VALUES rows
// of a plain INSERT. A pin lists only what must hold; other conditions of
// the statement may select fewer rows, never more.
//
// Dialects report pins only where the statement has no other way to touch
// rows of the table: no join, subquery, CTE, set operation, upsert clause or
// multi-table form, and one statement in the text. What the equality means
// (collations, type conversions) is the caller's to judge with the schema.
type Pin struct {
	Table Table `json:"table"`
	// Op is what the statement does to the pinned rows.
	Op PinOp `json:"op"`
	// Columns are the pinned columns, folded like table names.
	Columns []string `json:"columns"`
	// Values are the alternatives, each one value per column.
	Values [][]Value `json:"values"`
	// Assigns are the columns an UPDATE sets, folded like Columns.
	Assigns []string `json:"assigns,omitempty"`
}

// PinOp is what a statement does to the rows it pins.
type PinOp string

// Pin operations.
const (
	PinRead   PinOp = "read"
	PinUpdate PinOp = "update"
	PinDelete PinOp = "delete"
	// PinInsert: the statement inserts exactly these rows (a plain INSERT …
	// VALUES listing the columns); columns whose value is not a literal or
	// argument in every row are left out.
	PinInsert PinOp = "insert"
)

// Value is one value of a pin: a bound argument or a literal.
type Value struct {
	// Param is the 1-based ordinal of the bound argument, 0 for a literal.
	Param int `json:"param,omitempty"`
	// Literal is the text of a number literal (with its sign) or the
	// contents of a string literal.
	Literal string `json:"literal,omitempty"`
	// Quoted is true for a string literal.
	Quoted bool `json:"quoted,omitempty"`
}

// MaxPinValues bounds the alternatives of one pin (IN lists multiply):
// beyond it a dialect reports no pin.
const MaxPinValues = 64

// PinBuilder gathers the equalities of one table's WHERE clause (or the
// columns of INSERT rows) into a Pin, for the dialects. The zero value is
// ready to use.
type PinBuilder struct {
	cols []string
	alts [][]Value
	over bool
}

// Equal records that every row has col equal to one of vals (one value for
// =, several for IN). A column recorded before keeps its first values: rows
// that satisfy both conditions satisfy the first.
func (b *PinBuilder) Equal(col string, vals []Value) {
	if len(vals) == 0 || b.over {
		return
	}
	for _, c := range b.cols {
		if c == col {
			return
		}
	}
	if len(b.cols) == 0 {
		b.alts = [][]Value{nil}
	}
	if len(b.alts)*len(vals) > MaxPinValues {
		b.over = true
		return
	}
	b.cols = append(b.cols, col)
	next := make([][]Value, 0, len(b.alts)*len(vals))
	for _, a := range b.alts {
		for _, v := range vals {
			next = append(next, append(append(make([]Value, 0, len(a)+1), a...), v))
		}
	}
	b.alts = next
}

// Pin returns the pin of t, or false when nothing was recorded or the
// alternatives grew past MaxPinValues.
func (b *PinBuilder) Pin(t Table, op PinOp) (Pin, bool) {
	if b.over || len(b.cols) == 0 {
		return Pin{}, false
	}
	return Pin{Table: t, Op: op, Columns: b.cols, Values: b.alts}, true
}

// InsertPin builds the pin of an INSERT: cols are the columns listed, rows the
// values of each row (nil where a value is neither literal nor argument).
// A column whose value is missing in any row is left out.
func InsertPin(t Table, cols []string, rows [][]*Value) (Pin, bool) {
	if len(rows) == 0 || len(rows) > MaxPinValues {
		return Pin{}, false
	}
	p := Pin{Table: t, Op: PinInsert, Values: make([][]Value, len(rows))}
	for j, c := range cols {
		ok := true
		for _, r := range rows {
			if len(r) != len(cols) || r[j] == nil {
				ok = false
				break
			}
		}
		if !ok {
			continue
		}
		p.Columns = append(p.Columns, c)
		for i, r := range rows {
			p.Values[i] = append(p.Values[i], *r[j])
		}
	}
	if len(p.Columns) == 0 {
		return Pin{}, false
	}
	return p, true
}
