package sqlite

import (
	"strings"

	"github.com/yokedcache/yoked/sqlparse"
)

// query is a recursive-descent reader of SQLite's grammar for the
// statements that touch rows (SELECT, VALUES, INSERT, REPLACE, UPDATE,
// DELETE, each with WITH), following https://sqlite.org/lang.html. It
// builds no tree: it records the tables a statement reads and writes and
// the functions it calls as it goes. Table names are only taken where the
// grammar puts a table (FROM, JOIN, IN table, the target of a write), so a
// statement it reads to the end is summarised exactly; one it cannot read
// to the end is refused whole.
type query struct {
	s      []token
	i      int
	depth  int
	kind   sqlparse.Kind
	reads  []sqlparse.Table
	writes []sqlparse.Table
	funcs  []string
	reason string
	all    bool
	temp   bool     // a temporary table is read or written
	ctes   []string // CTE names in scope
	pin    pinState
}

// syntaxError is panicked inside the descent and recovered by summarise.
type syntaxError struct{}

// maxDepth bounds the nesting of expressions and subqueries.
const maxDepth = 400

// summarise reads one statement of the forms query knows; ok is false when
// the statement is not one of them or not valid SQLite.
func summarise(s []token) (st sqlparse.Statement, ok bool) {
	q := &query{s: s}
	defer func() {
		if r := recover(); r != nil {
			if _, syntax := r.(syntaxError); !syntax {
				panic(r)
			}
			ok = false
		}
	}()
	q.statement()
	if q.i != len(q.s) {
		return st, false
	}
	st = q.finish()
	st.Pins = q.pins()
	return st, true
}

func (q *query) finish() sqlparse.Statement {
	st := sqlparse.Statement{
		Kind:      q.kind,
		Parsed:    true,
		Reads:     sqlparse.SortTables(q.reads),
		Writes:    sqlparse.SortTables(q.writes),
		AllTables: q.all,
		Functions: sqlparse.SortNames(q.funcs),
	}
	if q.temp {
		st.Session = true
		if st.Kind == sqlparse.KindRead {
			st.Kind = sqlparse.KindSession
		}
	}
	st.Reason = st.Kind.Reason()
	if st.Kind == sqlparse.KindRead {
		st.Reason = q.reason
	}
	st.Cacheable = st.Reason == ""
	return st
}

func (q *query) fail() { panic(syntaxError{}) }

func (q *query) noCache(reason string) {
	if q.reason == "" {
		q.reason = reason
	}
}

// cur is the current token; past the end it is an empty punctuation.
func (q *query) cur() token { return q.at(0) }

func (q *query) at(k int) token {
	if q.i+k < len(q.s) {
		return q.s[q.i+k]
	}
	return token{kind: tPunct}
}

// is reports whether the current token is the word w.
func (q *query) is(w string) bool {
	t := q.cur()
	return t.kind == tWord && t.up == w
}

func (q *query) isPunct(p string) bool {
	t := q.cur()
	return t.kind == tPunct && t.text == p
}

// accept consumes the word w when it is current.
func (q *query) accept(w string) bool {
	if q.is(w) {
		q.i++
		return true
	}
	return false
}

func (q *query) acceptPunct(p string) bool {
	if q.isPunct(p) {
		q.i++
		return true
	}
	return false
}

func (q *query) expect(w string) {
	if !q.accept(w) {
		q.fail()
	}
}

func (q *query) expectPunct(p string) {
	if !q.acceptPunct(p) {
		q.fail()
	}
}

// startsQuery reports whether the current token opens a SELECT, VALUES or
// WITH … SELECT.
func (q *query) startsQuery() bool {
	return q.is("SELECT") || q.is("VALUES") || q.is("WITH")
}

func (q *query) enter() {
	q.depth++
	if q.depth > maxDepth {
		q.fail()
	}
}

func (q *query) leave() { q.depth-- }

// reserved are the words SQLite never takes as a name.
var reserved = words2set("ALL ALTER AND AS AUTOINCREMENT BETWEEN CASE CHECK COLLATE COMMIT CONSTRAINT CREATE " +
	"DEFAULT DEFERRABLE DELETE DISTINCT DROP ELSE ESCAPE EXCEPT EXISTS FOREIGN FROM GROUP HAVING IN INDEX " +
	"INSERT INTERSECT INTO IS ISNULL JOIN LIMIT NOT NOTNULL NULL ON OR ORDER PRIMARY REFERENCES RETURNING " +
	"SELECT  SET TABLE THEN TO TRANSACTION UNION UNIQUE UPDATE USING VALUES WHEN WHERE")

// notAlias are the words that may follow a table or a result column and so
// are never read as an alias written without AS.
var notAlias = words2set("LEFT RIGHT FULL INNER CROSS NATURAL OUTER INDEXED WINDOW OFFSET ASC DESC NULLS " +
	"FILTER OVER LIKE GLOB MATCH REGEXP DO")

func words2set(s string) map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(s) {
		m[w] = true
	}
	return m
}

// name consumes an identifier (a word SQLite accepts as a name, or a
// quoted identifier; a string too where str is set, as SQLite accepts
// 'name' in place of a name) and returns it unquoted, lower case.
func (q *query) name(str bool) string {
	t := q.cur()
	switch {
	case t.kind == tWord && !reserved[t.up] && !digit(t.text[0]):
	case t.kind == tIdent:
	case t.kind == tString && str && t.text[0] == '\'':
	default:
		q.fail()
	}
	n, _ := ident(q.s, q.i)
	q.i++
	return n
}

func digit(c byte) bool { return c >= '0' && c <= '9' }

// isName reports whether the current token can be a name.
func (q *query) isName() bool {
	t := q.cur()
	return t.kind == tWord && !reserved[t.up] && !digit(t.text[0]) || t.kind == tIdent
}

// qualifiedName consumes [schema.]name.
func (q *query) qualifiedName() (schema, name string) {
	name = q.name(true)
	if q.acceptPunct(".") {
		schema, name = name, q.name(true)
	}
	return schema, name
}

// alias consumes an optional [AS] alias and returns it ("" when none).
func (q *query) alias() string {
	if q.accept("AS") {
		return q.name(true)
	}
	if t := q.cur(); q.isName() && !notAlias[t.up] || t.kind == tString {
		return q.name(true)
	}
	return ""
}

// statement reads one statement of the forms query knows.
func (q *query) statement() {
	if q.is("WITH") {
		q.with()
	}
	switch {
	case q.is("SELECT") || q.is("VALUES"):
		q.kind, q.pin.op = sqlparse.KindRead, sqlparse.PinRead
		q.selectStmt()
	case q.is("INSERT") || q.is("REPLACE"):
		q.kind, q.pin.op = sqlparse.KindWrite, sqlparse.PinInsert
		q.insert()
	case q.is("UPDATE"):
		q.kind, q.pin.op = sqlparse.KindWrite, sqlparse.PinUpdate
		q.update()
	case q.is("DELETE"):
		q.kind, q.pin.op = sqlparse.KindWrite, sqlparse.PinDelete
		q.delete()
	default:
		q.fail()
	}
}

// with reads WITH [RECURSIVE] name [(cols)] AS [[NOT] MATERIALIZED] (query),
// …, leaving every name in scope for the rest of the enclosing statement.
// Outside WITH RECURSIVE a CTE does not see its own name: a table of that
// name is then read (a tag too many, never one too few).
func (q *query) with() {
	q.expect("WITH")
	q.pin.nested = true
	recursive := q.accept("RECURSIVE")
	for {
		n := q.name(false)
		if q.acceptPunct("(") {
			q.names()
			q.expectPunct(")")
		}
		q.expect("AS")
		if !q.accept("MATERIALIZED") && q.accept("NOT") {
			q.expect("MATERIALIZED")
		}
		if recursive {
			q.ctes = append(q.ctes, n)
		}
		q.expectPunct("(")
		q.subquery()
		q.expectPunct(")")
		if !recursive {
			q.ctes = append(q.ctes, n)
		}
		if !q.acceptPunct(",") {
			return
		}
	}
}

// names reads name, name, ….
func (q *query) names() []string {
	var n []string
	for {
		n = append(n, q.name(false))
		if !q.acceptPunct(",") {
			return n
		}
	}
}

// subquery reads [WITH …] select-stmt with its own CTE scope.
func (q *query) subquery() {
	q.enter()
	defer q.leave()
	q.pin.nested = true
	mark := len(q.ctes)
	if q.is("WITH") {
		q.with()
	}
	q.selectStmt()
	q.ctes = q.ctes[:mark]
}

// selectStmt reads select-core [compound select-core]… [ORDER BY] [LIMIT].
func (q *query) selectStmt() {
	for {
		q.selectCore()
		switch {
		case q.accept("UNION"):
			q.accept("ALL")
		case q.accept("INTERSECT"), q.accept("EXCEPT"):
		default:
			q.orderLimit()
			return
		}
		q.pin.nested = true
	}
}

func (q *query) orderLimit() {
	if q.accept("ORDER") {
		q.expect("BY")
		q.orderingTerms()
	}
	if q.accept("LIMIT") {
		q.expr()
		if q.accept("OFFSET") || q.acceptPunct(",") {
			q.expr()
		}
	}
}

func (q *query) selectCore() {
	if q.accept("VALUES") {
		for {
			q.expectPunct("(")
			var row []*sqlparse.Value
			for {
				var v *sqlparse.Value
				if e := q.expr(); e.kind == exValue {
					v = &e.vals[0]
				}
				row = append(row, v)
				if !q.acceptPunct(",") {
					break
				}
			}
			q.pin.rows = append(q.pin.rows, row)
			q.expectPunct(")")
			if !q.acceptPunct(",") {
				return
			}
		}
	}
	q.expect("SELECT")
	if !q.accept("DISTINCT") {
		q.accept("ALL")
	}
	q.resultColumns()
	if q.accept("FROM") {
		q.joinClause()
	}
	if q.accept("WHERE") {
		q.pin.where = q.expr()
	}
	if q.accept("GROUP") {
		q.expect("BY")
		q.exprs()
	}
	if q.accept("HAVING") {
		q.expr()
	}
	if q.accept("WINDOW") {
		for {
			q.name(false)
			q.expect("AS")
			q.windowDefn()
			if !q.acceptPunct(",") {
				break
			}
		}
	}
}

// resultColumns reads * | table.* | expr [[AS] alias], ….
func (q *query) resultColumns() {
	for {
		switch {
		case q.acceptPunct("*"):
		case q.isName() && q.at(1).text == "." && q.at(2).text == "*" && q.at(2).kind == tPunct:
			q.i += 3
		default:
			q.expr()
			q.alias()
		}
		if !q.acceptPunct(",") {
			return
		}
	}
}

// joinClause reads table-or-subquery [join-operator table-or-subquery
// join-constraint]….
func (q *query) joinClause() {
	q.tableOrSubquery()
	for {
		if q.acceptPunct(",") {
			q.tableOrSubquery()
			continue
		}
		natural := q.accept("NATURAL")
		switch {
		case q.accept("LEFT"), q.accept("RIGHT"), q.accept("FULL"):
			q.accept("OUTER")
			q.expect("JOIN")
		case q.accept("INNER"), q.accept("CROSS"):
			q.expect("JOIN")
		case q.accept("JOIN"):
		default:
			if natural {
				q.fail()
			}
			return
		}
		q.tableOrSubquery()
		switch {
		case q.is("ON") && !(q.at(1).kind == tWord && q.at(1).up == "CONFLICT"):
			q.i++
			q.expr()
		case q.accept("USING"):
			q.expectPunct("(")
			q.names()
			q.expectPunct(")")
		}
	}
}

func (q *query) tableOrSubquery() {
	q.enter()
	defer q.leave()
	q.pin.sources++
	if q.acceptPunct("(") {
		q.pin.nested = true
		if q.startsQuery() {
			q.subquery()
		} else {
			q.joinClause()
		}
		q.expectPunct(")")
		q.alias()
		return
	}
	table := q.namedSource()
	q.pin.src[2] = q.alias()
	if table {
		q.indexed()
	}
}

// namedSource reads and records [schema.]table or [schema.]function(args);
// it reports whether it was a table.
func (q *query) namedSource() bool {
	schema, name := q.qualifiedName()
	if !q.acceptPunct("(") {
		q.read(schema, name)
		q.pin.src = [3]string{schema, name}
		return true
	}
	q.tableFunction(schema, name)
	if !q.acceptPunct(")") {
		q.exprs()
		q.expectPunct(")")
	}
	return false
}

// indexed reads INDEXED BY name | NOT INDEXED.
func (q *query) indexed() {
	if q.accept("INDEXED") {
		q.expect("BY")
		q.name(false)
	} else if q.accept("NOT") {
		q.expect("INDEXED")
	}
}

// read records a table read by name, unless a CTE of that name is in scope.
func (q *query) read(schema, name string) {
	if schema == "" {
		for _, c := range q.ctes {
			if c == name {
				return
			}
		}
	}
	t, temp := table(schema, name)
	q.temp = q.temp || temp
	if why := systemTable(name); why != "" {
		q.noCache(why + " " + name)
	}
	q.reads = append(q.reads, t)
}

// write records the target of a write.
func (q *query) write(schema, name string) {
	t, temp := table(schema, name)
	q.temp = q.temp || temp
	q.pin.target = [3]string{schema, name}
	if schemaTable(name) {
		q.all = true // writing the schema table changes the schema
	}
	q.writes = append(q.writes, t)
}

// tableFunction records a table-valued function in FROM or after IN.
func (q *query) tableFunction(schema, name string) {
	q.pin.nested = true
	switch {
	case pureTableFuncs[name]:
	case strings.HasPrefix(name, "pragma_"):
		q.noCache("reads the schema: " + name)
	default:
		// An eponymous virtual table of a module the application
		// registered, or an FTS table called with its query: it may read
		// anything.
		q.read(schema, name)
		q.noCache("table-valued function: " + name)
	}
}

// insert reads INSERT [OR x] | REPLACE INTO table [AS alias] [(cols)]
// (select | DEFAULT VALUES) [upsert]… [RETURNING …].
func (q *query) insert() {
	// REPLACE and the OR forms delete conflicting rows the VALUES do not
	// name.
	if !q.accept("REPLACE") {
		q.expect("INSERT")
		if q.accept("OR") {
			q.conflictAction()
			q.pin.noPin = true
		}
	} else {
		q.pin.noPin = true
	}
	q.expect("INTO")
	q.write(q.qualifiedName())
	if q.accept("AS") {
		q.name(false)
	}
	if q.acceptPunct("(") {
		q.pin.cols = q.names()
		q.expectPunct(")")
	}
	if q.accept("DEFAULT") {
		q.expect("VALUES")
	} else {
		if q.is("WITH") {
			q.subquery()
		} else {
			q.selectStmt()
		}
		if q.pin.sources > 0 {
			q.pin.nested = true // INSERT … SELECT … FROM
		}
		for q.is("ON") {
			q.pin.noPin = true
			q.upsert()
		}
	}
	q.returning()
}

func (q *query) conflictAction() {
	for _, w := range []string{"REPLACE", "ROLLBACK", "ABORT", "FAIL", "IGNORE"} {
		if q.accept(w) {
			return
		}
	}
	q.fail()
}

// upsert reads ON CONFLICT [(indexed-columns) [WHERE expr]] DO NOTHING |
// DO UPDATE SET … [WHERE expr].
func (q *query) upsert() {
	q.expect("ON")
	q.expect("CONFLICT")
	if q.acceptPunct("(") {
		q.orderingTerms()
		q.expectPunct(")")
		if q.accept("WHERE") {
			q.expr()
		}
	}
	q.expect("DO")
	if q.accept("NOTHING") {
		return
	}
	q.expect("UPDATE")
	q.set()
	if q.accept("WHERE") {
		q.expr()
	}
}

// set reads SET (col | (cols)) = expr, ….
func (q *query) set() {
	q.expect("SET")
	for {
		if q.acceptPunct("(") {
			q.names()
			q.expectPunct(")")
			q.pin.noPin = true
		} else {
			q.pin.sets = append(q.pin.sets, q.name(false))
		}
		q.expectPunct("=")
		q.expr()
		if !q.acceptPunct(",") {
			return
		}
	}
}

func (q *query) returning() {
	if !q.accept("RETURNING") {
		return
	}
	q.resultColumns()
}

// update reads UPDATE [OR x] table [AS alias] [INDEXED …] SET … [FROM …]
// [WHERE …] [RETURNING …] [ORDER BY …] [LIMIT …].
func (q *query) update() {
	q.expect("UPDATE")
	if q.accept("OR") {
		q.conflictAction()
		q.pin.noPin = true
	}
	q.write(q.qualifiedName())
	if q.accept("AS") {
		q.pin.target[2] = q.name(false)
	}
	q.indexed()
	q.set()
	if q.accept("FROM") {
		q.pin.nested = true
		q.joinClause()
	}
	q.whereReturning()
}

// delete reads DELETE FROM table [AS alias] [INDEXED …] [WHERE …]
// [RETURNING …] [ORDER BY …] [LIMIT …].
func (q *query) delete() {
	q.expect("DELETE")
	q.expect("FROM")
	q.write(q.qualifiedName())
	if q.accept("AS") {
		q.pin.target[2] = q.name(false)
	}
	q.indexed()
	q.whereReturning()
}

func (q *query) whereReturning() {
	if q.accept("WHERE") {
		q.pin.where = q.expr()
	}
	q.returning()
	q.orderLimit()
}

// orderingTerms reads expr [ASC|DESC] [NULLS FIRST|LAST], … (COLLATE is an
// operator of expr).
func (q *query) orderingTerms() {
	for {
		q.expr()
		if !q.accept("ASC") {
			q.accept("DESC")
		}
		if q.accept("NULLS") {
			if !q.accept("FIRST") {
				q.expect("LAST")
			}
		}
		if !q.acceptPunct(",") {
			return
		}
	}
}

func (q *query) exprs() {
	for {
		q.expr()
		if !q.acceptPunct(",") {
			return
		}
	}
}

// Binding strength of SQLite's binary operators, lowest first.
const (
	precOr = 1 + iota
	precAnd
	precNot
	precEq // = == != <> IS IN LIKE GLOB MATCH REGEXP BETWEEN ISNULL NOTNULL
	precCmp
	precBit
	precAdd
	precMul
	precConcat // || -> ->>
	precCollate
)

func (q *query) expr() ex { return q.binary(precOr) }

// binary reads an expression whose operators bind at least as strongly
// as min.
func (q *query) binary(min int) ex {
	q.enter()
	defer q.leave()
	left := q.unary()
	for {
		prec, n := q.operator()
		if prec == 0 || prec < min {
			return left
		}
		op := q.cur().up
		if op == "" {
			op = q.cur().text
		}
		q.i += n
		switch op {
		case "ISNULL", "NOTNULL":
			left = ex{}
		case "NOT":
			if op = q.s[q.i-1].up; op != "NULL" {
				q.operatorCall(op)
				q.predicate(op)
			}
			left = ex{}
		case "IS":
			q.accept("NOT")
			if q.accept("DISTINCT") {
				q.expect("FROM")
			}
			q.binary(prec + 1)
			left = ex{}
		case "COLLATE":
			q.name(true)
			left = ex{}
		case "IN":
			left = match(left, ex{}, q.inRight())
		case "LIKE", "GLOB", "MATCH", "REGEXP", "BETWEEN":
			q.operatorCall(op)
			q.predicate(op)
			left = ex{}
		case "->", "->>":
			q.operatorCall(op)
			q.binary(prec + 1)
			left = ex{}
		case "AND":
			left = ex{kind: exAnd, terms: append(left.conjuncts(), q.binary(prec+1).conjuncts()...)}
		case "=", "==":
			left = match(left, q.binary(prec+1), nil)
		default: // OR and the other punctuation operators
			q.binary(prec + 1)
			left = ex{}
		}
	}
}

// operatorCall lists the function an operator calls: LIKE, GLOB and REGEXP
// call like(), glob() and regexp(), which an application may define or
// replace, and -> and ->> call the JSON functions of those names. MATCH is
// left out: SQLite's full-text tables overload match() without marking it
// deterministic, so a catalog would take every full-text query for a call
// of an application function that may write.
func (q *query) operatorCall(op string) {
	switch op {
	case "LIKE", "GLOB", "REGEXP":
		q.funcs = append(q.funcs, strings.ToLower(op))
	case "->", "->>":
		q.funcs = append(q.funcs, op)
	}
}

// predicate reads what follows IN, LIKE, GLOB, MATCH, REGEXP or BETWEEN.
func (q *query) predicate(op string) {
	switch op {
	case "IN":
		q.inRight()
	case "BETWEEN":
		q.binary(precCmp)
		q.expect("AND")
		q.binary(precCmp)
	default: // LIKE GLOB MATCH REGEXP
		q.binary(precCmp)
		if q.accept("ESCAPE") {
			q.binary(precCmp)
		}
	}
}

// operator returns the binding strength of the binary or postfix operator
// at the current token and how many tokens it spans (0, 0 when there is
// none).
func (q *query) operator() (prec, n int) {
	t := q.cur()
	if t.kind == tPunct {
		switch t.text {
		case "=", "==", "!=", "<>":
			return precEq, 1
		case "<", "<=", ">", ">=":
			return precCmp, 1
		case "&", "|", "<<", ">>":
			return precBit, 1
		case "+", "-":
			return precAdd, 1
		case "*", "/", "%":
			return precMul, 1
		case "||", "->", "->>":
			return precConcat, 1
		}
		return 0, 0
	}
	if t.kind != tWord {
		return 0, 0
	}
	switch t.up {
	case "OR":
		return precOr, 1
	case "AND":
		return precAnd, 1
	case "IS", "IN", "LIKE", "GLOB", "MATCH", "REGEXP", "BETWEEN", "ISNULL", "NOTNULL":
		return precEq, 1
	case "NOT":
		if n := q.at(1); n.kind == tWord {
			switch n.up {
			case "NULL", "IN", "LIKE", "GLOB", "MATCH", "REGEXP", "BETWEEN":
				return precEq, 2
			}
		}
	case "COLLATE":
		return precCollate, 1
	}
	return 0, 0
}

// inRight reads the right side of IN: (), (select), (exprs), a table or a
// table-valued function. It returns the values of a non-empty list made
// only of values, else nil.
func (q *query) inRight() []sqlparse.Value {
	if !q.acceptPunct("(") {
		q.pin.nested = true
		q.namedSource()
		return nil
	}
	var vals []sqlparse.Value
	switch {
	case q.isPunct(")"):
	case q.startsQuery():
		q.subquery()
	default:
		all := true
		for {
			e := q.expr()
			all = all && e.kind == exValue
			vals = append(vals, e.vals...)
			if !q.acceptPunct(",") {
				break
			}
		}
		if !all {
			vals = nil
		}
	}
	q.expectPunct(")")
	return vals
}

// unary reads a prefix operator and an operand.
func (q *query) unary() ex {
	t := q.cur()
	switch t.kind {
	case tPunct:
		switch t.text {
		case "-", "+", "~":
			q.i++
			q.enter()
			e := q.unary()
			q.leave()
			if t.text == "-" && e.kind == exValue && e.number {
				e.vals = []sqlparse.Value{{Literal: "-" + e.vals[0].Literal}}
				e.number = false // - -1 is not a literal
				return e
			}
			return ex{}
		case "(":
			q.i++
			var e ex
			if q.startsQuery() {
				q.subquery()
			} else if e = q.expr(); q.acceptPunct(",") {
				q.exprs() // a row value
				e = ex{}
			}
			q.expectPunct(")")
			return e
		case ".":
			if n := q.at(1); n.kind == tWord && !n.gap && digit(n.text[0]) {
				q.i += 2 // .5
				return ex{}
			}
		}
		q.fail()
	case tParam:
		q.i++
		q.pin.params++
		if t.text != "?" {
			// ?NNN and names are numbered by SQLite, not in text order.
			q.pin.numbered = true
		}
		return value(sqlparse.Value{Param: q.pin.params})
	case tString:
		q.i++
		if t.text[0] != '\'' {
			return ex{} // a blob
		}
		return value(sqlparse.Value{Literal: unquote(t.text), Quoted: true})
	case tIdent:
		return q.nameOrCall()
	}
	if digit(t.text[0]) {
		return q.number()
	}
	switch t.up {
	case "NOT":
		q.i++
		q.binary(precNot)
	case "NULL", "TRUE", "FALSE":
		q.i++
	case "CURRENT_TIME", "CURRENT_DATE", "CURRENT_TIMESTAMP":
		q.i++
		q.call(strings.ToLower(t.up), nil)
	case "CASE":
		q.caseExpr()
	case "CAST":
		q.i++
		q.expectPunct("(")
		q.expr()
		q.expect("AS")
		q.typeName()
		q.expectPunct(")")
	case "EXISTS":
		q.i++
		q.expectPunct("(")
		q.subquery()
		q.expectPunct(")")
	case "RAISE":
		q.i++
		q.expectPunct("(")
		if !q.accept("IGNORE") {
			q.conflictAction()
			q.expectPunct(",")
			q.expr()
		}
		q.expectPunct(")")
	default:
		return q.nameOrCall()
	}
	return ex{}
}

// number reads 1, 1.5, 1., 1e5, 1.5e-3, 0x1F (the lexer cuts them at '.'
// and at a sign). Decimal integers and fractions are values; the others
// are left out of pins rather than normalised.
func (q *query) number() ex {
	start := q.i
	t := q.cur()
	q.i++
	if n := q.cur(); n.kind == tPunct && n.text == "." && !n.gap {
		q.i++
		if f := q.cur(); f.kind == tWord && !f.gap && digit(f.text[0]) {
			q.i++
			t = f
		}
	}
	// 1e-5 / 1.5E+3: the exponent's sign was cut off as an operator.
	if e := t.up; strings.HasSuffix(e, "E") && !strings.HasPrefix(e, "0X") {
		if s := q.cur(); s.kind == tPunct && (s.text == "-" || s.text == "+") && !s.gap {
			if d := q.at(1); d.kind == tWord && !d.gap && digit(d.text[0]) {
				q.i += 2
			}
		}
	}
	lit := join(q.s[start:q.i])
	if strings.Trim(lit, "0123456789.") != "" || strings.Count(lit, ".") > 1 || strings.HasSuffix(lit, ".") {
		return ex{}
	}
	e := value(sqlparse.Value{Literal: lit})
	e.number = true
	return e
}

// typeName reads a CAST type: names and an optional (n[, m]).
func (q *query) typeName() {
	q.name(false)
	for q.isName() {
		q.i++
	}
	if q.acceptPunct("(") {
		q.signedNumber()
		if q.acceptPunct(",") {
			q.signedNumber()
		}
		q.expectPunct(")")
	}
}

func (q *query) signedNumber() {
	if !q.acceptPunct("-") {
		q.acceptPunct("+")
	}
	if t := q.cur(); t.kind != tWord || !digit(t.text[0]) {
		q.fail()
	}
	q.number()
}

func (q *query) caseExpr() {
	q.expect("CASE")
	if !q.is("WHEN") {
		q.expr()
	}
	if !q.is("WHEN") {
		q.fail()
	}
	for q.accept("WHEN") {
		q.expr()
		q.expect("THEN")
		q.expr()
	}
	if q.accept("ELSE") {
		q.expr()
	}
	q.expect("END")
}

// nameOrCall reads a column reference ([[schema.]table.]column) or a
// function call with its FILTER and OVER clauses.
func (q *query) nameOrCall() ex {
	if q.at(1).kind == tPunct && q.at(1).text == "(" {
		t := q.cur()
		if t.kind == tWord && reserved[t.up] {
			q.fail()
		}
		n, _ := ident(q.s, q.i)
		q.i += 2
		q.callArgs(n)
		return ex{}
	}
	e := ex{kind: exColumn, col: q.name(false)}
	for i := 0; i < 2 && q.isPunct("."); i++ {
		q.i++
		e.qual, e.col = e.col, q.name(false)
	}
	return e
}

// callArgs reads the arguments of a call after '(' and what may follow
// the ')'.
func (q *query) callArgs(name string) {
	var args [][]token
	switch {
	case q.acceptPunct(")"):
	case q.isPunct("*") && q.at(1).text == ")":
		q.i += 2
	default:
		q.accept("DISTINCT")
		for {
			start := q.i
			q.expr()
			args = append(args, q.s[start:q.i])
			if !q.acceptPunct(",") {
				break
			}
		}
		if q.accept("ORDER") {
			q.expect("BY")
			q.orderingTerms()
		}
		q.expectPunct(")")
	}
	q.call(name, args)
	if q.is("FILTER") && q.at(1).text == "(" {
		q.i += 2
		q.expect("WHERE")
		q.expr()
		q.expectPunct(")")
	}
	if q.is("OVER") {
		q.i++
		if q.isPunct("(") {
			q.windowDefn()
		} else {
			q.name(false)
		}
	}
}

func (q *query) call(name string, args [][]token) {
	q.funcs = append(q.funcs, name)
	if why := volatile(name, args); why != "" {
		q.noCache(why + " " + name)
	}
}

// windowDefn reads ([base] [PARTITION BY …] [ORDER BY …] [frame]).
func (q *query) windowDefn() {
	q.expectPunct("(")
	if q.isName() && !q.is("PARTITION") && !q.is("ORDER") && !q.is("ROWS") && !q.is("RANGE") && !q.is("GROUPS") {
		q.i++
	}
	if q.accept("PARTITION") {
		q.expect("BY")
		q.exprs()
	}
	if q.accept("ORDER") {
		q.expect("BY")
		q.orderingTerms()
	}
	if q.accept("ROWS") || q.accept("RANGE") || q.accept("GROUPS") {
		if q.accept("BETWEEN") {
			q.frameBound()
			q.expect("AND")
		}
		q.frameBound()
		if q.accept("EXCLUDE") {
			switch {
			case q.accept("NO"):
				q.expect("OTHERS")
			case q.accept("CURRENT"):
				q.expect("ROW")
			case q.accept("GROUP"), q.accept("TIES"):
			default:
				q.fail()
			}
		}
	}
	q.expectPunct(")")
}

func (q *query) frameBound() {
	switch {
	case q.accept("UNBOUNDED"):
		if !q.accept("PRECEDING") {
			q.expect("FOLLOWING")
		}
	case q.accept("CURRENT"):
		q.expect("ROW")
	default:
		q.binary(precCmp)
		if !q.accept("PRECEDING") {
			q.expect("FOLLOWING")
		}
	}
}
