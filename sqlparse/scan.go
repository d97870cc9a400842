package sqlparse

import (
	"slices"
	"strings"
)

// Scan is the conservative lexical fallback for text a dialect's parser
// rejected. It never panics and always returns Parsed=false, Cacheable=false.
//
// It does not know the dialect, so it tokenises the text under each lexical
// convention yoked meets (MySQL's backslash escapes, '#' and executable
// comments; PostgreSQL's dollar quotes and nested comments; SQLite's bracket
// identifiers) and keeps a conclusion only when every convention agrees:
//
//   - a text that looks like a plain SELECT, WITH, VALUES or TABLE statement
//     is still KindUnknown with AllTables: the parser did not understand it,
//     so it may call a function that writes, or hide a write in syntax the
//     scan does not know; it is never cached and invalidates everything;
//   - otherwise it names the tables written after INSERT INTO, UPDATE,
//     DELETE FROM, REPLACE INTO, TRUNCATE, ALTER TABLE, DROP TABLE and the
//     like when their form leaves no doubt, and sets AllTables (and
//     KindUnknown) whenever it cannot be sure it found every table written.
//
// Names are reported as written: unquoted ones in lower case, quoted ones
// verbatim, a qualifier in Schema.
func Scan(sql string) Statement {
	var out Statement
	for i, m := range lexModes {
		st := scanMode(sql, m)
		if i == 0 {
			out = st
			continue
		}
		out = agree(out, st)
	}
	out.Parsed, out.Cacheable = false, false
	if out.AllTables && out.Kind != KindDDL && out.Kind != KindSession {
		out.Kind = KindUnknown
	}
	out.Reason = "unparsed"
	return out
}

// agree merges the conclusions of two lexical conventions conservatively.
func agree(a, b Statement) Statement {
	if a.Kind != b.Kind || !slices.Equal(a.Writes, b.Writes) {
		a.AllTables = true
		a.Kind = KindUnknown
	}
	a.Writes = SortTables(append(a.Writes, b.Writes...))
	a.AllTables = a.AllTables || b.AllTables
	a.Session = a.Session || b.Session
	a.EndsTx = a.EndsTx || b.EndsTx
	a.Functions = SortNames(append(a.Functions, b.Functions...))
	return a
}

// lexMode is one lexical convention.
type lexMode struct {
	backslash    bool // backslash escapes inside '…' and "…"
	hashComment  bool // '#' starts a comment
	dashSpace    bool // "--" starts a comment only when followed by a space or control character
	dollar       bool // $tag$…$tag$ strings
	nested       bool // /* */ comments nest
	execComment  bool // /*! … */ is code, not a comment
	doubleString bool // "…" is a string, not an identifier
	brackets     bool // […] is an identifier
}

var lexModes = []lexMode{
	{backslash: true, hashComment: true, dashSpace: true, execComment: true, doubleString: true}, // MySQL
	{backslash: true, hashComment: true, dashSpace: true, execComment: true},                     // MySQL, ANSI_QUOTES
	{dollar: true, nested: true},    // PostgreSQL
	{brackets: true},                // SQLite
	{backslash: true, dollar: true}, // PostgreSQL E'…' strings, read as if every string were one
}

type tokKind uint8

const (
	tWord   tokKind = iota // unquoted identifier or keyword, upper-cased in up
	tIdent                 // quoted identifier, verbatim in text
	tString                // string literal (content dropped)
	tPunct                 // one punctuation character or operator run
	tSemi                  // ';'
	tParam                 // ?, $1, :name, @name
)

type token struct {
	kind tokKind
	text string // identifier as written (tWord: original case; tIdent: unquoted content)
	up   string // tWord: upper case
}

// lex splits sql into tokens; ok is false when a string, quoted identifier
// or comment is not terminated.
func lex(sql string, m lexMode) (toks []token, ok bool) {
	i, n := 0, len(sql)
	for i < n {
		c := sql[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v':
			i++
		case c == '-' && i+1 < n && sql[i+1] == '-' &&
			(!m.dashSpace || i+2 >= n || sql[i+2] <= ' '):
			j := strings.IndexByte(sql[i:], '\n')
			if j < 0 {
				return toks, true
			}
			i += j + 1
		case c == '#' && m.hashComment:
			j := strings.IndexByte(sql[i:], '\n')
			if j < 0 {
				return toks, true
			}
			i += j + 1
		case c == '/' && i+1 < n && sql[i+1] == '*':
			if m.execComment && i+2 < n && sql[i+2] == '!' {
				// Executable comment: its body is code. Skip the opener and
				// its version number; the closing */ lexes as punctuation.
				i += 3
				for i < n && sql[i] >= '0' && sql[i] <= '9' {
					i++
				}
				continue
			}
			end, closed := skipComment(sql, i, m.nested)
			if !closed {
				return toks, false
			}
			i = end
		case c == '\'':
			end, closed := skipQuoted(sql, i, '\'', m.backslash)
			if !closed {
				return toks, false
			}
			toks = append(toks, token{kind: tString})
			i = end
		case c == '"':
			end, closed := skipQuoted(sql, i, '"', m.backslash && m.doubleString)
			if !closed {
				return toks, false
			}
			if m.doubleString {
				toks = append(toks, token{kind: tString})
			} else {
				toks = append(toks, token{kind: tIdent, text: unquote(sql[i+1:end-1], '"')})
			}
			i = end
		case c == '`':
			end, closed := skipQuoted(sql, i, '`', false)
			if !closed {
				return toks, false
			}
			toks = append(toks, token{kind: tIdent, text: unquote(sql[i+1:end-1], '`')})
			i = end
		case c == '[' && m.brackets:
			j := strings.IndexByte(sql[i+1:], ']')
			if j < 0 {
				return toks, false
			}
			toks = append(toks, token{kind: tIdent, text: sql[i+1 : i+1+j]})
			i += j + 2
		case c == '$' && m.dollar && dollarTag(sql[i:]) != "":
			tag := dollarTag(sql[i:])
			j := strings.Index(sql[i+len(tag):], tag)
			if j < 0 {
				return toks, false
			}
			toks = append(toks, token{kind: tString})
			i += len(tag) + j + len(tag)
		case c == ';':
			toks = append(toks, token{kind: tSemi, text: ";"})
			i++
		case isWordStart(c):
			j := i + 1
			for j < n && isWordByte(sql[j]) {
				j++
			}
			w := sql[i:j]
			toks = append(toks, token{kind: tWord, text: w, up: strings.ToUpper(w)})
			i = j
		case c >= '0' && c <= '9':
			j := i + 1
			for j < n && (isWordByte(sql[j]) || sql[j] == '.') {
				j++
			}
			toks = append(toks, token{kind: tString})
			i = j
		case c == '?' || c == '$' || c == ':' || c == '@':
			j := i + 1
			for j < n && (isWordByte(sql[j]) || sql[j] == '@') {
				j++
			}
			if j == i+1 {
				toks = append(toks, token{kind: tPunct, text: sql[i:j]})
			} else {
				toks = append(toks, token{kind: tParam, text: sql[i:j]})
			}
			i = j
		default:
			toks = append(toks, token{kind: tPunct, text: sql[i : i+1]})
			i++
		}
	}
	return toks, true
}

func isWordStart(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= 0x80
}

func isWordByte(c byte) bool { return isWordStart(c) || c >= '0' && c <= '9' || c == '$' }

// skipComment returns the index after the block comment starting at i.
func skipComment(sql string, i int, nested bool) (int, bool) {
	depth := 0
	for i < len(sql)-1 {
		switch {
		case sql[i] == '/' && sql[i+1] == '*':
			if depth == 0 || nested {
				depth++
			}
			i += 2
		case sql[i] == '*' && sql[i+1] == '/':
			depth--
			i += 2
			if depth == 0 {
				return i, true
			}
		default:
			i++
		}
	}
	return len(sql), false
}

// skipQuoted returns the index after the quoted token starting at i; a
// doubled quote is an escaped quote, and so is a backslash when backslash is set.
func skipQuoted(sql string, i int, q byte, backslash bool) (int, bool) {
	for j := i + 1; j < len(sql); j++ {
		switch sql[j] {
		case '\\':
			if backslash {
				j++
			}
		case q:
			if j+1 < len(sql) && sql[j+1] == q {
				j++
				continue
			}
			return j + 1, true
		}
	}
	return len(sql), false
}

func unquote(s string, q byte) string {
	d := string([]byte{q, q})
	return strings.ReplaceAll(s, d, d[:1])
}

// dollarTag returns "$tag$" when s starts a dollar-quoted string.
func dollarTag(s string) string {
	for j := 1; j < len(s); j++ {
		c := s[j]
		if c == '$' {
			return s[:j+1]
		}
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= 0x80 || j > 1 && c >= '0' && c <= '9') {
			return ""
		}
	}
	return ""
}

// callWords are write keywords that are also ordinary functions when a
// parenthesis follows them.
var callWords = map[string]bool{"REPLACE": true, "INSERT": true, "LEFT": true, "RIGHT": true}

// notCalls are keywords a parenthesis may follow without a function call.
var notCalls = map[string]bool{
	"IN": true, "FROM": true, "AS": true, "EXISTS": true, "VALUES": true, "JOIN": true, "ON": true,
	"USING": true, "SELECT": true, "WHERE": true, "AND": true, "OR": true, "NOT": true, "ANY": true,
	"ALL": true, "SOME": true, "UNION": true, "INTERSECT": true, "EXCEPT": true, "OVER": true,
	"LATERAL": true, "WITH": true, "RECURSIVE": true, "BY": true, "HAVING": true, "WHEN": true,
	"THEN": true, "ELSE": true, "CASE": true, "IS": true, "LIKE": true, "BETWEEN": true, "TABLE": true,
	"INTO": true, "SET": true, "RETURNING": true, "MATERIALIZED": true, "DISTINCT": true, "ROW": true,
	"ARRAY": true, "FILTER": true, "WITHIN": true, "LIMIT": true, "OFFSET": true,
}

// scanMode answers for one lexical convention.
func scanMode(sql string, m lexMode) Statement {
	toks, ok := lex(sql, m)
	if !ok {
		return Statement{Kind: KindUnknown, AllTables: true}
	}
	var out Statement
	seen := false
	start := 0
	for i := 0; i <= len(toks); i++ {
		if i < len(toks) && toks[i].kind != tSemi {
			continue
		}
		part := toks[start:i]
		start = i + 1
		if len(part) == 0 {
			continue
		}
		st := scanOne(part)
		if seen {
			if st.Kind.Stronger(out.Kind) {
				out.Kind = st.Kind
			}
		} else {
			out.Kind, seen = st.Kind, true
		}
		out.Writes = append(out.Writes, st.Writes...)
		out.AllTables = out.AllTables || st.AllTables
		out.Session = out.Session || st.Session || st.Kind == KindSession || st.Kind == KindTx
		out.EndsTx = out.EndsTx || st.EndsTx
		out.Functions = append(out.Functions, st.Functions...)
	}
	if !seen {
		out.Kind = KindOther
	}
	out.Writes = SortTables(out.Writes)
	out.Functions = SortNames(out.Functions)
	return out
}

// scanOne classifies one ';'-free run of tokens. A MySQL user variable
// assigned anywhere (@x := …) changes the session.
func scanOne(toks []token) Statement {
	st := scanKind(toks)
	for i := 0; i+2 < len(toks); i++ {
		if toks[i].kind == tParam && strings.HasPrefix(toks[i].text, "@") && toks[i+1].text == ":" && toks[i+2].text == "=" {
			st.Session = true
		}
	}
	return st
}

// scanKind classifies one ';'-free run of tokens by its form.
func scanKind(toks []token) Statement {
	p := 0
	for p < len(toks) && toks[p].kind == tPunct && toks[p].text == "(" {
		p++
	}
	if p >= len(toks) || toks[p].kind != tWord {
		return unknown()
	}
	s := &scanner{toks: toks, p: p + 1}
	switch toks[p].up {
	case "SELECT", "WITH", "VALUES", "TABLE":
		// Read-looking but not understood: it may be a write.
		st := unknown()
		st.Functions = calls(toks)
		return st
	case "INSERT", "REPLACE":
		return s.insert()
	case "UPDATE":
		return s.update()
	case "DELETE":
		return s.delete()
	case "TRUNCATE":
		s.accept("TABLE")
		return s.tableList(KindDDL, "ONLY")
	case "DROP":
		if s.accept("TABLE") {
			return s.tableList(KindDDL, "IF", "EXISTS")
		}
		if s.accept("VIEW") {
			st := s.tableList(KindDDL, "IF", "EXISTS")
			st.AllTables = true // views that depend on it go too
			return st
		}
		return otherDDL(toks)
	case "ALTER":
		if s.accept("TABLE") {
			return s.alter()
		}
		return otherDDL(toks)
	case "CREATE":
		return s.create()
	case "BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE", "START", "END", "ABORT":
		if hasWordExcept(toks[p+1:], "WORK", "TRANSACTION", "TRAN", "TO", "SAVEPOINT", "DEFERRED",
			"IMMEDIATE", "EXCLUSIVE", "AND", "NO", "CHAIN", "RELEASE", "READ", "WRITE", "ONLY",
			"ISOLATION", "LEVEL", "SERIALIZABLE", "REPEATABLE", "COMMITTED", "UNCOMMITTED",
			"WITH", "CONSISTENT", "SNAPSHOT", "NOT", "DEFERRABLE") {
			// A savepoint name, or BEGIN of a compound block: only the
			// former is harmless, and a name is a single word.
			if !savepointName(toks[p:]) {
				return unknown()
			}
		}
		return Statement{Kind: KindTx, EndsTx: !savepointName(toks[p:])}
	case "SET", "USE", "RESET", "DISCARD", "PRAGMA", "ATTACH", "DETACH":
		if hasDataWrite(toks[p+1:]) {
			return unknown()
		}
		return Statement{Kind: KindSession, Session: true}
	case "SHOW", "EXPLAIN", "DESCRIBE", "DESC", "VACUUM", "ANALYZE", "REINDEX", "CHECKPOINT":
		if hasDataWrite(toks[p+1:]) {
			return unknown()
		}
		return Statement{Kind: KindOther}
	}
	return unknown()
}

func unknown() Statement { return Statement{Kind: KindUnknown, AllTables: true} }

// otherDDL is CREATE, ALTER or DROP of something other than a table or view
// (trigger, function, procedure, event, sequence, schema, …): it may change
// what any table's reads or writes do, so it invalidates everything; it
// runs nothing, so unless it names a temporary object it leaves the session
// and the transaction alone (MySQL's implicit commit of DDL is the
// caller's business, as for any DDL).
func otherDDL(toks []token) Statement {
	for _, t := range toks {
		if t.kind == tWord && (t.up == "TEMP" || t.up == "TEMPORARY") {
			return unknown()
		}
	}
	return Statement{Kind: KindDDL, AllTables: true}
}

// hasDataWrite reports a keyword that changes rows or schema.
func hasDataWrite(toks []token) bool {
	for _, t := range toks {
		if t.kind != tWord {
			continue
		}
		switch t.up {
		case "INSERT", "UPDATE", "DELETE", "REPLACE", "MERGE", "UPSERT", "CREATE", "DROP", "ALTER",
			"TRUNCATE", "RENAME", "CALL", "DO", "EXEC", "EXECUTE", "COPY", "LOAD", "IMPORT", "REFRESH",
			"NEXTVAL", "SETVAL", "GRANT", "REVOKE", "LOCK":
			return true
		}
	}
	return false
}

func hasWordExcept(toks []token, allowed ...string) bool {
	for _, t := range toks {
		if t.kind == tWord && !slices.Contains(allowed, t.up) || t.kind == tString || t.kind == tPunct {
			return true
		}
	}
	return false
}

// savepointName accepts SAVEPOINT x, RELEASE [SAVEPOINT] x and
// ROLLBACK [WORK|TRANSACTION] TO [SAVEPOINT] x.
func savepointName(toks []token) bool {
	i := 0
	switch toks[0].up {
	case "SAVEPOINT":
		i = 1
	case "RELEASE":
		i = 1
		if i < len(toks) && toks[i].up == "SAVEPOINT" {
			i++
		}
	case "ROLLBACK":
		i = 1
		if i < len(toks) && (toks[i].up == "WORK" || toks[i].up == "TRANSACTION" || toks[i].up == "TRAN") {
			i++
		}
		if i >= len(toks) || toks[i].up != "TO" {
			return false
		}
		i++
		if i < len(toks) && toks[i].up == "SAVEPOINT" {
			i++
		}
	default:
		return false
	}
	return i == len(toks)-1 && (toks[i].kind == tWord || toks[i].kind == tIdent)
}

// calls lists words followed by a parenthesis that are not keywords.
func calls(toks []token) []string {
	var fs []string
	for i := 0; i+1 < len(toks); i++ {
		if toks[i].kind == tWord && toks[i+1].text == "(" && !notCalls[toks[i].up] {
			fs = append(fs, strings.ToLower(toks[i].text))
		}
	}
	return fs
}

// scanner walks the tokens of one statement after its first keyword.
type scanner struct {
	toks []token
	p    int
}

func (s *scanner) peek() token {
	if s.p < len(s.toks) {
		return s.toks[s.p]
	}
	return token{kind: tSemi}
}

// accept consumes the next token when it is the keyword w.
func (s *scanner) accept(w string) bool {
	if t := s.peek(); t.kind == tWord && t.up == w {
		s.p++
		return true
	}
	return false
}

// acceptAny consumes any run of the given keywords.
func (s *scanner) acceptAny(ws ...string) {
	for s.p < len(s.toks) && s.toks[s.p].kind == tWord && slices.Contains(ws, s.toks[s.p].up) {
		s.p++
	}
}

// name consumes a possibly qualified table name.
func (s *scanner) name() (Table, bool) {
	var parts []string
	for {
		t := s.peek()
		switch t.kind {
		case tWord:
			if reserved[t.up] {
				return Table{}, false
			}
			parts = append(parts, strings.ToLower(t.text))
		case tIdent:
			parts = append(parts, t.text)
		default:
			return Table{}, false
		}
		s.p++
		if p := s.peek(); p.kind != tPunct || p.text != "." {
			break
		}
		s.p++
	}
	switch len(parts) {
	case 1:
		return Table{Name: parts[0]}, parts[0] != ""
	case 2, 3:
		n := len(parts)
		return Table{Schema: parts[n-2], Name: parts[n-1]}, parts[n-1] != ""
	}
	return Table{}, false
}

// reserved words can never be a bare table name.
var reserved = map[string]bool{
	"SELECT": true, "FROM": true, "WHERE": true, "SET": true, "VALUES": true, "JOIN": true,
	"ON": true, "USING": true, "AS": true, "WITH": true, "TABLE": true, "INTO": true, "ONLY": true,
	"IF": true, "LOW_PRIORITY": true, "IGNORE": true, "QUICK": true, "DELAYED": true, "HIGH_PRIORITY": true,
	"OR": true, "LEFT": true, "INNER": true, "CROSS": true, "NATURAL": true, "DEFAULT": true,
}

// rest reports whether any other statement hides in the remaining tokens:
// a write keyword other than the ones allowed.
func (s *scanner) rest(allowed ...string) bool {
	for i := s.p; i < len(s.toks); i++ {
		t := s.toks[i]
		if t.kind != tWord || slices.Contains(allowed, t.up) {
			continue
		}
		if i > 0 && s.toks[i-1].text == "." {
			continue
		}
		switch t.up {
		case "INSERT", "UPDATE", "DELETE", "REPLACE", "MERGE", "UPSERT", "CREATE", "DROP", "ALTER",
			"TRUNCATE", "RENAME", "CALL", "DO", "EXEC", "EXECUTE", "COPY", "LOAD", "LOCK", "INTO",
			"OUTFILE", "DUMPFILE", "GRANT", "REVOKE", "CASCADE", "WITH":
			if callWords[t.up] && i+1 < len(s.toks) && s.toks[i+1].text == "(" {
				continue
			}
			return true
		}
	}
	return false
}

// insert handles INSERT [modifiers] [INTO] t … and REPLACE [INTO] t ….
func (s *scanner) insert() Statement {
	s.acceptAny("LOW_PRIORITY", "DELAYED", "HIGH_PRIORITY", "IGNORE")
	if s.accept("OR") {
		if !s.accept("REPLACE") && !s.accept("IGNORE") && !s.accept("ABORT") && !s.accept("FAIL") && !s.accept("ROLLBACK") {
			return unknown()
		}
	}
	s.accept("INTO")
	t, ok := s.name()
	if !ok {
		return unknown()
	}
	// An upsert's UPDATE and a REPLACE write the same table.
	if s.rest("UPDATE", "DO") {
		return unknown()
	}
	return Statement{Kind: KindWrite, Writes: []Table{t}}
}

// update handles single-table UPDATE t [[AS] alias] SET ….
func (s *scanner) update() Statement {
	s.acceptAny("LOW_PRIORITY", "IGNORE", "ONLY")
	if s.accept("OR") {
		s.p++ // SQLite conflict clause
	}
	t, ok := s.name()
	if !ok {
		return unknown()
	}
	s.accept("AS")
	if p := s.peek(); p.kind == tWord && p.up != "SET" || p.kind == tIdent {
		s.p++
	}
	if !s.accept("SET") || s.rest() {
		return unknown()
	}
	return Statement{Kind: KindWrite, Writes: []Table{t}}
}

// delete handles single-table DELETE FROM t ….
func (s *scanner) delete() Statement {
	s.acceptAny("LOW_PRIORITY", "QUICK", "IGNORE")
	if !s.accept("FROM") {
		return unknown() // DELETE t1 FROM t1 JOIN t2: multi-table
	}
	s.accept("ONLY")
	t, ok := s.name()
	if !ok {
		return unknown()
	}
	if p := s.peek(); p.kind == tPunct && p.text == "," || p.kind == tWord && p.up == "USING" {
		return unknown()
	}
	if s.rest() {
		return unknown()
	}
	return Statement{Kind: KindWrite, Writes: []Table{t}}
}

// tableList handles a comma-separated list of table names, as in TRUNCATE
// and DROP TABLE.
func (s *scanner) tableList(k Kind, skip ...string) Statement {
	s.acceptAny(skip...)
	st := Statement{Kind: k}
	for {
		s.accept("ONLY")
		t, ok := s.name()
		if !ok {
			return unknown()
		}
		st.Writes = append(st.Writes, t)
		if p := s.peek(); p.kind == tPunct && p.text == "*" {
			s.p++ // TRUNCATE t * includes descendants: still named
			st.AllTables = true
		}
		if p := s.peek(); p.kind != tPunct || p.text != "," {
			break
		}
		s.p++
	}
	if s.rest() || hasWordExcept(s.toks[s.p:], "RESTRICT", "CONTINUE", "RESTART", "IDENTITY") {
		st.AllTables = true
	}
	return st
}

// alter handles ALTER TABLE t …; a rename writes a second name, so it is
// reported as unknown.
func (s *scanner) alter() Statement {
	s.acceptAny("IF", "EXISTS", "ONLY")
	t, ok := s.name()
	if !ok {
		return unknown()
	}
	st := Statement{Kind: KindDDL, Writes: []Table{t}}
	for _, tk := range s.toks[s.p:] {
		if tk.kind == tWord && (tk.up == "RENAME" || tk.up == "SELECT" || tk.up == "CASCADE") {
			st.AllTables = true
		}
	}
	return st
}

// create handles CREATE [TEMP] TABLE t, CREATE VIEW v and CREATE INDEX … ON t.
func (s *scanner) create() Statement {
	s.acceptAny("OR", "REPLACE", "UNIQUE", "GLOBAL", "LOCAL", "UNLOGGED")
	temp := false
	if s.accept("TEMP") || s.accept("TEMPORARY") {
		temp = true
	}
	var st Statement
	switch {
	case s.accept("TABLE"):
		s.acceptAny("IF", "NOT", "EXISTS")
		t, ok := s.name()
		if !ok {
			return unknown()
		}
		st = Statement{Kind: KindDDL, Writes: []Table{t}}
	case s.accept("VIEW"):
		s.acceptAny("IF", "NOT", "EXISTS")
		t, ok := s.name()
		if !ok {
			return unknown()
		}
		st = Statement{Kind: KindDDL, Writes: []Table{t}}
	case s.accept("INDEX"):
		for s.p < len(s.toks) && !(s.toks[s.p].kind == tWord && s.toks[s.p].up == "ON") {
			s.p++
		}
		if !s.accept("ON") {
			return unknown()
		}
		s.accept("ONLY")
		t, ok := s.name()
		if !ok {
			return unknown()
		}
		st = Statement{Kind: KindDDL, Writes: []Table{t}}
	default:
		return otherDDL(s.toks)
	}
	// CREATE TABLE … AS SELECT reads only; anything else is a doubt.
	if s.rest() {
		st.AllTables = true
	}
	if temp {
		st.Session = true
	}
	return st
}
