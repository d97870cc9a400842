package sqlite

import (
	"slices"
	"strings"

	"github.com/yokedcache/yoked/sqlparse"
)

// volatileFuncs are SQLite built-ins whose result is not a function of the
// tables read.
var volatileFuncs = map[string]string{
	"random": "random:", "randomblob": "random:",
	"changes": "depends on the session:", "total_changes": "depends on the session:",
	"last_insert_rowid": "depends on the session:", "load_extension": "has side effects:",
	"sqlite_offset": "depends on the storage layout:",
	// Processes sharing a store may link different SQLite libraries.
	"sqlite_version": "depends on the SQLite library:", "sqlite_source_id": "depends on the SQLite library:",
	"sqlite_compileoption_used": "depends on the SQLite library:",
	"sqlite_compileoption_get":  "depends on the SQLite library:",
	"current_timestamp":         "reads the clock:", "current_date": "reads the clock:", "current_time": "reads the clock:",
}

// clockFuncs are the date and time functions, with the position of their
// time value ('now', or missing, reads the clock). timediff has two.
var clockFuncs = map[string][]int{
	"date": {0}, "time": {0}, "datetime": {0}, "julianday": {0}, "unixepoch": {0},
	"strftime": {1}, "timediff": {0, 1},
}

// volatile says why a call of the built-in name makes a read uncacheable,
// or "". A date function reads the clock when its time value is missing or
// 'now', and may when any argument is a parameter (it may be 'now' or
// 'localtime'), except a time value read as a number ('unixepoch'); the 'localtime' and 'utc' modifiers depend on the time zone
// of the process, which differs between processes sharing a store.
func volatile(name string, args [][]token) string {
	if r := volatileFuncs[name]; r != "" {
		return r
	}
	at, ok := clockFuncs[name]
	if !ok {
		return ""
	}
	for _, i := range at {
		if i >= len(args) {
			return "reads the clock:"
		}
	}
	zone := false
	for i, a := range args {
		for _, t := range a {
			switch t.kind {
			case tParam:
				if slices.Contains(at, i) && numericTime(args, at, i) {
					continue
				}
				return "reads the clock:"
			case tString:
				switch strings.ToLower(strings.TrimSpace(unquote(t.text))) {
				case "now":
					for _, j := range at {
						if i == j {
							return "reads the clock:"
						}
					}
					zone = true // 'now' as a modifier is an error; do not guess
				case "localtime", "utc":
					zone = true
				}
			}
		}
	}
	if zone {
		return "depends on the time zone:"
	}
	return ""
}

// numericTime reports whether the time value args[i] is followed by the
// 'unixepoch' or 'julianday' modifier, which makes SQLite read it as a
// number: 'now' then gives NULL, not the clock ('auto' reads 'now').
func numericTime(args [][]token, at []int, i int) bool {
	if i+1 >= len(args) || slices.Contains(at, i+1) || len(args[i+1]) != 1 || args[i+1][0].kind != tString {
		return false
	}
	switch strings.ToLower(unquote(args[i+1][0].text)) {
	case "unixepoch", "julianday":
		return true
	}
	return false
}

func unquote(s string) string {
	if len(s) >= 2 && s[0] == '\'' {
		return strings.ReplaceAll(s[1:len(s)-1], "''", "'")
	}
	return s
}

// pureTableFuncs are the table-valued functions whose rows are a function
// of their arguments only.
var pureTableFuncs = map[string]bool{
	"json_each": true, "json_tree": true, "jsonb_each": true, "jsonb_tree": true, "generate_series": true,
}

// systemTable says why reading the table name is never cached, or "".
// Every name starting with sqlite_ belongs to SQLite (the schema table
// under its four names, sqlite_sequence, sqlite_stat1 to 4, sqlite_dbpage,
// sqlite_stmt, …): DDL and ANALYZE change them and migration tools ask them
// whether a table exists, so they must answer afresh. dbstat and the pragma_
// functions (also read as tables, PRAGMA arguments given in WHERE) report
// the schema and the file.
func systemTable(name string) string {
	switch {
	case strings.HasPrefix(name, "sqlite_"):
		return "reads the system catalog:"
	case strings.HasPrefix(name, "pragma_"):
		return "reads the schema:"
	case name == "dbstat":
		return "reads the database file:"
	}
	return ""
}

// schemaTable reports a name of the schema table itself: writing it
// (PRAGMA writable_schema) changes the schema of every table.
func schemaTable(name string) bool {
	switch name {
	case "sqlite_master", "sqlite_schema", "sqlite_temp_master", "sqlite_temp_schema":
		return true
	}
	return false
}

// table drops the main schema and reports the temp schema as the
// session's own.
func table(schema, name string) (sqlparse.Table, bool) {
	switch schema {
	case "main":
		schema = ""
	case "temp", "temporary":
		return sqlparse.Table{Schema: "temp", Name: name}, true
	}
	return sqlparse.Table{Schema: schema, Name: name}, false
}
