package sqlite

import (
	"slices"
	"strings"

	"github.com/yokedcache/yoked/sqlparse"
)

// Parser is the SQLite Parser. It is safe for concurrent use.
type Parser struct{}

var _ sqlparse.Parser = (*Parser)(nil)

// New returns the SQLite Parser.
func New() sqlparse.Parser { return &Parser{} }

// Parse summarises sql, one ';'-separated statement at a time. It never
// panics; text it cannot read is answered by sqlparse.Scan.
func (p *Parser) Parse(sql string) (st sqlparse.Statement) {
	defer func() {
		if recover() != nil {
			st = sqlparse.Scan(sql)
		}
	}()
	toks, ok := lex(sql)
	if !ok {
		return sqlparse.Scan(sql)
	}
	stmts := split(toks)
	if len(stmts) == 0 {
		return sqlparse.Statement{Kind: sqlparse.KindOther, Parsed: true, Reason: sqlparse.KindOther.Reason()}
	}
	var parts []sqlparse.Statement
	for _, s := range stmts {
		part := stmt(s)
		if !part.Parsed {
			return sqlparse.Scan(sql)
		}
		parts = append(parts, part)
	}
	if len(parts) == 1 {
		return parts[0]
	}
	return merge(parts)
}

// stmt classifies one statement: SQLite's own forms by their leading
// words, the statements on rows by the grammar of query.
func stmt(s []token) sqlparse.Statement {
	w := words(s, 4)
	switch w[0] {
	case "PRAGMA":
		return pragma(s)
	case "ATTACH", "DETACH":
		return kind(sqlparse.KindSession)
	case "VACUUM", "ANALYZE", "REINDEX", "EXPLAIN":
		// EXPLAIN [QUERY PLAN] compiles the statement without running it.
		return kind(sqlparse.KindOther)
	case "BEGIN", "END", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE":
		if w[0] == "BEGIN" && !slices.Contains([]string{"", "DEFERRED", "IMMEDIATE", "EXCLUSIVE", "TRANSACTION"}, w[1]) {
			break
		}
		return kind(sqlparse.KindTx)
	case "CREATE":
		i := 1
		if w[1] == "TEMP" || w[1] == "TEMPORARY" {
			if w[2] != "TRIGGER" {
				return kind(sqlparse.KindSession)
			}
			return tempTrigger()
		}
		if w[1] == "UNIQUE" {
			i = 2
		}
		switch w[i] {
		case "TRIGGER":
			if schema, _, ok := qualified(s, ifNotExists(s, 2)); !ok || schema == "temp" || schema == "temporary" {
				return tempTrigger() // CREATE TRIGGER temp.t … is a temporary trigger
			}
			// A trigger changes what later writes do; nothing certain to name.
			st := kind(sqlparse.KindDDL)
			st.AllTables = true
			return st
		case "TABLE", "VIEW", "VIRTUAL":
			return ddlNamed(s, i+1, "")
		case "INDEX":
			return ddlNamed(s, i+1, "ON")
		}
	case "DROP":
		switch w[1] {
		case "TRIGGER", "INDEX":
			st := kind(sqlparse.KindDDL)
			st.AllTables = true
			return st
		case "TABLE", "VIEW":
			return ddlNamed(s, 2, "")
		}
	case "ALTER":
		if w[1] == "TABLE" {
			return alter(s)
		}
	}
	st, ok := summarise(s)
	if !ok {
		return sqlparse.Statement{} // Parsed=false: the caller scans
	}
	return st
}

// tempTrigger is CREATE TEMP TRIGGER: the trigger fires on this
// connection only, where no catalog read elsewhere sees it, and may write
// any table. It is DDL on every table and a session statement, so that
// everything the connection writes from then on invalidates everything.
func tempTrigger() sqlparse.Statement {
	st := kind(sqlparse.KindDDL)
	st.AllTables, st.Session = true, true
	return st
}

// ifNotExists returns i, or the index after IF NOT EXISTS at s[i].
func ifNotExists(s []token, i int) int {
	if i+2 < len(s) && s[i].up == "IF" && s[i+1].up == "NOT" && s[i+2].up == "EXISTS" {
		return i + 3
	}
	return i
}

// alter is ALTER TABLE t …: DDL on t, and on the new name of RENAME TO.
func alter(s []token) sqlparse.Statement {
	st := ddlNamed(s, 2, "")
	if st.Kind != sqlparse.KindDDL || st.AllTables {
		return st
	}
	for i := 3; i+1 < len(s); i++ {
		if s[i].up == "RENAME" && s[i+1].up == "TO" {
			schema, name, ok := qualified(s, i+2)
			if !ok {
				st.AllTables = true
				return st
			}
			t, _ := table(schema, name)
			st.Writes = sqlparse.SortTables(append(st.Writes, t))
			break
		}
	}
	return st
}

// words returns the first n words of s upper-cased ("" past the end or for
// a token that is not a word).
func words(s []token, n int) []string {
	w := make([]string, n)
	for i := 0; i < n && i < len(s); i++ {
		w[i] = s[i].up
	}
	return w
}

func kind(k sqlparse.Kind) sqlparse.Statement {
	return sqlparse.Statement{Kind: k, Parsed: true, Session: k == sqlparse.KindSession || k == sqlparse.KindTx,
		Reason: k.Reason()}
}

// ddlNamed is DDL on the table named at s[i] (after IF NOT EXISTS), or
// after the word after when it is set (CREATE INDEX name ON table). A name
// it cannot find makes it DDL on every table.
func ddlNamed(s []token, i int, after string) sqlparse.Statement {
	st := kind(sqlparse.KindDDL)
	if after != "" {
		for i < len(s) && s[i].up != after {
			i++
		}
		i++
	} else if j := ifNotExists(s, i); j != i {
		i = j
	} else if i+1 < len(s) && s[i].up == "IF" && s[i+1].up == "EXISTS" {
		i += 2
	}
	if i < len(s) && s[i].up == "TABLE" { // CREATE VIRTUAL TABLE
		i++
		if i+2 < len(s) && s[i].up == "IF" {
			i += 3
		}
	}
	schema, name, ok := qualified(s, i)
	if !ok {
		st.AllTables = true
		return st
	}
	t, session := table(schema, name)
	if session {
		return kind(sqlparse.KindSession)
	}
	st.Writes = []sqlparse.Table{t}
	return st
}

// qualified reads [schema.]name at s[i], lower case and unquoted.
func qualified(s []token, i int) (schema, name string, ok bool) {
	name, ok = ident(s, i)
	if !ok {
		return "", "", false
	}
	if i+2 < len(s) && s[i+1].text == "." {
		schema = name
		if name, ok = ident(s, i+2); !ok {
			return "", "", false
		}
	}
	return schema, name, true
}

func ident(s []token, i int) (string, bool) {
	if i >= len(s) {
		return "", false
	}
	switch t := s[i]; t.kind {
	case tWord:
		return strings.ToLower(t.text), true
	case tIdent, tString:
		q := t.text[len(t.text)-1]
		inner := t.text[1 : len(t.text)-1]
		if q != ']' {
			inner = strings.ReplaceAll(inner, string(q)+string(q), string(q))
		}
		return strings.ToLower(inner), true
	}
	return "", false
}

// merge summarises the statements of a multi-statement text: never
// cacheable.
func merge(parts []sqlparse.Statement) sqlparse.Statement {
	st := sqlparse.Statement{Kind: parts[0].Kind, Parsed: true}
	for _, p := range parts {
		if p.Kind.Stronger(st.Kind) {
			st.Kind = p.Kind
		}
		st.Reads = append(st.Reads, p.Reads...)
		st.Writes = append(st.Writes, p.Writes...)
		st.Functions = append(st.Functions, p.Functions...)
		st.AllTables = st.AllTables || p.AllTables
		st.Session = st.Session || p.Session || p.Kind == sqlparse.KindTx || p.Kind == sqlparse.KindSession
	}
	st.Reads = sqlparse.SortTables(st.Reads)
	st.Writes = sqlparse.SortTables(st.Writes)
	st.Functions = sqlparse.SortNames(st.Functions)
	st.Reason = st.Kind.Reason()
	if st.Kind == sqlparse.KindRead {
		st.Reason = "multiple statements"
	}
	return st
}

// readPragmas only report: without an argument after '=' they change nothing.
var readPragmas = map[string]bool{
	"table_info": true, "table_xinfo": true, "table_list": true, "index_list": true, "index_info": true,
	"index_xinfo": true, "foreign_key_list": true, "foreign_key_check": true, "integrity_check": true,
	"quick_check": true, "pragma_list": true, "function_list": true, "collation_list": true,
	"database_list": true, "compile_options": true, "module_list": true,
}

// pragma is KindSession when it sets something (PRAGMA x = v, or PRAGMA
// x(v) for a pragma that is not a query), with the pragma's name as its
// setting (Statement.Settings), else KindOther.
func pragma(s []token) sqlparse.Statement {
	_, name, ok := qualified(s, 1)
	if !ok {
		return kind(sqlparse.KindSession)
	}
	set := kind(sqlparse.KindSession)
	set.Settings = []string{name}
	for _, t := range s[2:] {
		switch t.text {
		case "=":
			return set
		case "(":
			if !readPragmas[name] {
				return set
			}
		}
	}
	return kind(sqlparse.KindOther)
}
