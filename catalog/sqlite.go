package catalog

import (
	"context"
	"regexp"
	"strconv"
	"strings"

	"github.com/yokedcache/yoked/sqlparse"
)

// SQLite catalog queries, over the main database.
const (
	slFKQuery = `SELECT f."table", m.name FROM sqlite_master m JOIN pragma_foreign_key_list(m.name) f
WHERE m.type = 'table' AND (upper(f.on_delete) IN ('CASCADE', 'SET NULL', 'SET DEFAULT') OR upper(f.on_update) IN ('CASCADE', 'SET NULL', 'SET DEFAULT'))`
	slViewQuery    = `SELECT name, sql FROM sqlite_master WHERE type = 'view'`
	slTriggerQuery = `SELECT tbl_name, sql FROM sqlite_master WHERE type = 'trigger'`
	// Functions registered by the application appear with builtin = 0.
	slFuncQuery = `SELECT name, builtin, flags FROM pragma_function_list`
	// AUTOINCREMENT tables keep their counter in sqlite_sequence.
	slAutoincrementQuery = `SELECT name FROM sqlite_master WHERE type = 'table' AND upper(sql) LIKE '%AUTOINCREMENT%'`
	// Primary keys, column by column in key order (pk is the position).
	slKeyQuery = `SELECT m.name, p.name, lower(p.type), p.pk FROM sqlite_master m JOIN pragma_table_info(m.name) p
WHERE m.type = 'table' AND p.pk > 0 ORDER BY m.name, p.pk`
)

// sqliteDeterministic is SQLITE_DETERMINISTIC in pragma_function_list.flags.
const sqliteDeterministic = 0x800

var (
	slViewAs       = regexp.MustCompile(`(?is)^\s*CREATE\s+(?:TEMP\s+|TEMPORARY\s+)?VIEW\s+.*?\bAS\b\s*(.*)$`)
	slTriggerBegin = regexp.MustCompile(`(?is)\bBEGIN\b(.*)\bEND\s*;?\s*$`)
)

func sqliteFacts(ctx context.Context, r reader, parser sqlparse.Parser) (*facts, error) {
	f := newFacts()
	// Names in the main database are bare (see resolve.go); triggers and
	// views of main name tables of main.
	res := &resolver{dialect: sqlparse.DialectSQLite}
	f.res = res
	// pragma_function_list needs SQLite 3.30; without it functions are not
	// judged here (the parser still rejects the non-deterministic built-ins).
	if rows, err := r.rows(ctx, "functions", 3, slFuncQuery); err == nil {
		f.allFuncs = true
		for _, r := range rows {
			name := strings.ToLower(r[0])
			cl := funcBuiltin
			if !isTrue(r[1]) {
				flags, _ := strconv.ParseInt(r[2], 10, 64)
				cl = funcStable
				if flags&sqliteDeterministic == 0 {
					cl = funcVolatile
				}
			}
			f.funcs[name] = max(f.funcs[name], cl)
		}
	}
	rows, err := r.rows(ctx, "foreign keys", 2, slFKQuery)
	if err != nil {
		return nil, err
	}
	for _, r := range rows {
		f.edges = append(f.edges, [2]string{r[0], r[1]})
	}
	if rows, err = r.rows(ctx, "views", 2, slViewQuery); err != nil {
		return nil, err
	}
	for _, r := range rows {
		m := slViewAs.FindStringSubmatch(r[1])
		if m == nil {
			f.opaqueViews[r[0]] = "definition of view " + r[0] + " not understood"
			continue
		}
		viewFromDefinition(f, parser, res, r[0], m[1])
	}
	if rows, err = r.rows(ctx, "triggers", 2, slTriggerQuery); err != nil {
		return nil, err
	}
	for _, r := range rows {
		var b *body
		if m := slTriggerBegin.FindStringSubmatch(r[1]); m != nil {
			b = readBody(parser, m[1]).resolve(res, nil)
		} else {
			b = &body{opaque: "trigger on " + r[0] + " not understood"}
		}
		f.triggers[r[0]] = mergeBody(f.triggers[r[0]], b)
		f.keyTriggers[r[0]] = true // timing not read: it may be BEFORE
	}
	if rows, err = r.rows(ctx, "autoincrement tables", 1, slAutoincrementQuery); err != nil {
		return nil, err
	}
	for _, r := range rows {
		f.edges = append(f.edges, [2]string{r[0], "sqlite_sequence"})
	}
	if rows, err = r.rows(ctx, "primary keys", 4, slKeyQuery); err != nil {
		return nil, err
	}
	single := map[string]int{}
	for _, r := range rows {
		single[strings.ToLower(r[0])]++
	}
	for _, r := range rows {
		// Only an INTEGER PRIMARY KEY alone is the rowid, compared as an
		// integer; any other column compares by affinity and collation.
		exact := r[2] == "integer" && single[strings.ToLower(r[0])] == 1
		f.addKey(r[0], Column{Name: r[1], Type: r[2], Exact: exact})
	}
	return f, nil
}
