package driver

import (
	"context"
	"database/sql/driver"
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
)

// sqliteDeterministic is SQLITE_DETERMINISTIC in pragma_function_list.flags.
const sqliteDeterministic = 0x800

var (
	slViewAs       = regexp.MustCompile(`(?is)^\s*CREATE\s+(?:TEMP\s+|TEMPORARY\s+)?VIEW\s+.*?\bAS\b\s*(.*)$`)
	slTriggerBegin = regexp.MustCompile(`(?is)\bBEGIN\b(.*)\bEND\s*;?\s*$`)
)

func sqliteFacts(ctx context.Context, bc driver.Conn, parser sqlparse.Parser) (*facts, error) {
	f := newFacts()
	q := func(name, query string) ([][]string, error) { return catalogQuery(ctx, bc, name, query) }
	// pragma_function_list needs SQLite 3.30; without it functions are not
	// judged here (the parser still rejects the non-deterministic built-ins).
	if rows, err := q("functions", slFuncQuery); err == nil {
		f.allFuncs = true
		for _, r := range rows {
			name := strings.ToLower(r[0])
			cl := funcBuiltin
			if r[1] != "1" && r[1] != "true" {
				flags, _ := strconv.ParseInt(r[2], 10, 64)
				cl = funcStable
				if flags&sqliteDeterministic == 0 {
					cl = funcVolatile
				}
			}
			f.funcs[name] = max(f.funcs[name], cl)
		}
	}
	rows, err := q("foreign keys", slFKQuery)
	if err != nil {
		return nil, err
	}
	for _, r := range rows {
		f.edges = append(f.edges, [2]string{r[0], r[1]})
	}
	if rows, err = q("views", slViewQuery); err != nil {
		return nil, err
	}
	for _, r := range rows {
		m := slViewAs.FindStringSubmatch(r[1])
		if m == nil {
			f.opaqueViews[r[0]] = "definition of view " + r[0] + " not understood"
			continue
		}
		viewFromDefinition(f, parser, r[0], m[1])
	}
	if rows, err = q("triggers", slTriggerQuery); err != nil {
		return nil, err
	}
	for _, r := range rows {
		var b *body
		if m := slTriggerBegin.FindStringSubmatch(r[1]); m != nil {
			b = readBody(parser, m[1])
		} else {
			b = &body{opaque: "trigger on " + r[0] + " not understood"}
		}
		f.triggers[r[0]] = mergeBody(f.triggers[r[0]], b)
	}
	return f, nil
}
