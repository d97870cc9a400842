package catalog

import (
	"regexp"
	"slices"
	"strings"

	"github.com/yokedcache/yoked/sqlparse"
)

// Reading routine and trigger bodies, shared by every dialect.

var (
	bodyLiteral  = regexp.MustCompile(`'(?:[^']|'')*'`)
	bodyComment  = regexp.MustCompile(`(?s)--[^\n]*|/\*.*?\*/`)
	bodyOpaque   = regexp.MustCompile(`(?i)\b(execute|perform|call|copy|do|prepare)\b`)
	bodyWriteKey = regexp.MustCompile(`(?i)\b(insert|update|delete|merge|replace|truncate|with)\b`)
	bodyReadKey  = regexp.MustCompile(`(?i)\b(select|with|values|table)\b`)
	bodyDynamic  = regexp.MustCompile(`(?i)\bexecute\b`)
	// bodySession: what makes a function's result change within a
	// statement's life or across sessions: the clock, settings, the user.
	bodySession = regexp.MustCompile(`(?i)\b(now|clock_timestamp|statement_timestamp|transaction_timestamp|timeofday|current_timestamp|current_date|current_time|localtime|localtimestamp|current_setting|set_config|current_user|session_user|current_role|current_schema|current_schemas|current_database|pg_backend_pid|inet_client_addr|inet_client_port|random|txid_current|pg_current_xact_id|current_query|user)\b`)
)

// clean drops comments and the contents of string literals.
func clean(text string) string {
	return bodyLiteral.ReplaceAllString(bodyComment.ReplaceAllString(text, " "), "''")
}

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

// readFunctionBody finds what the body of a stable function (language sql
// or plpgsql) reads; any other language, or a statement the parser does not
// understand, makes it opaque.
func readFunctionBody(parser sqlparse.Parser, lang, src string) *body {
	b := &body{text: clean(src)}
	b.dynamic = bodyDynamic.MatchString(b.text)
	if m := bodySession.FindString(b.text); m != "" && (lang == "sql" || lang == "plpgsql") {
		// Cached, its result would outlive the clock or the setting.
		b.opaque = "function body reads the clock or session state (" + strings.ToLower(m) + ")"
		return b
	}
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
	defer b.resolve(nil, nil)
	for _, c := range chunks {
		st := parser.Parse(c)
		if !st.Parsed || st.AllTables || st.Kind == sqlparse.KindUnknown {
			b.opaque = "function statement not understood: " + strings.TrimSpace(c)
			return b
		}
		b.readTables = append(b.readTables, st.Reads...)
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
	b := &body{text: clean(text)}
	b.dynamic = bodyDynamic.MatchString(b.text)
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
		b.writeTables = append(b.writeTables, st.Writes...)
		b.funcs = append(b.funcs, st.Functions...)
	}
	return b.resolve(nil, nil)
}

// resolve names what the body reads and writes as the catalog does, with
// path in place of the session's search_path when not nil (PostgreSQL
// functions declared with SET search_path). It returns b.
func (b *body) resolve(res *resolver, path []string) *body {
	if path == nil && res != nil {
		path = res.path
	}
	b.writes, b.reads = nil, nil
	for _, t := range b.writeTables {
		b.writes = append(b.writes, res.resolveIn(t, path))
	}
	for _, t := range b.readTables {
		b.reads = append(b.reads, res.resolveIn(t, path))
	}
	slices.Sort(b.writes)
	b.writes = slices.Compact(b.writes)
	return b
}

// unqualified reports whether the body names a table without a schema.
func (b *body) unqualified() bool {
	for _, ts := range [][]sqlparse.Table{b.writeTables, b.readTables} {
		for _, t := range ts {
			if t.Schema == "" {
				return true
			}
		}
	}
	return false
}

// mergeReads combines what overloads of one function name read.
func mergeReads(a, b *body) *body {
	if a == nil {
		return b
	}
	m := mergeBody(a, b)
	m.reads = append(append([]string(nil), a.reads...), b.reads...)
	m.readTables = append(append([]sqlparse.Table(nil), a.readTables...), b.readTables...)
	return m
}

// mergeBody combines what several triggers of one table write.
func mergeBody(a, b *body) *body {
	if a == nil {
		return b
	}
	m := &body{writes: append(append([]string(nil), a.writes...), b.writes...),
		writeTables: append(append([]sqlparse.Table(nil), a.writeTables...), b.writeTables...), funcs: append(append([]string(nil), a.funcs...), b.funcs...), opaque: a.opaque,
		text: a.text + ";" + b.text, dynamic: a.dynamic || b.dynamic}
	if m.opaque == "" {
		m.opaque = b.opaque
	}
	return m
}

// addKey records one primary-key column of a relation (named as the
// catalog names it), read in key order.
func (f *facts) addKey(rel string, col Column) {
	rel = relName(rel)
	f.keys[rel] = append(f.keys[rel], col)
}
