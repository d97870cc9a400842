package catalog

import (
	"context"
	"strings"

	"github.com/yokedcache/yoked/sqlparse"
)

// PostgreSQL catalog queries. They read every schema but the system ones:
// relation names drop schemas, so a relation of any schema may share a name
// with the ones a statement names.
const (
	pgUserNS = `n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\_toast%'`

	// Foreign keys whose actions write the referencing table.
	pgFKQuery = `SELECT p.relname, c.relname FROM pg_constraint k
JOIN pg_class p ON p.oid = k.confrelid JOIN pg_class c ON c.oid = k.conrelid
WHERE k.contype = 'f' AND (k.confdeltype IN ('c', 'n', 'd') OR k.confupdtype IN ('c', 'n', 'd'))`

	// Partitions and inheritance children, with their parents.
	pgInheritQuery = `SELECT p.relname, c.relname FROM pg_inherits i
JOIN pg_class p ON p.oid = i.inhparent JOIN pg_class c ON c.oid = i.inhrelid`

	// Views and the relations and functions their rewrite rules depend on;
	// a dependency on a system relation or a volatile function makes the
	// view uncacheable.
	pgViewQuery = `SELECT DISTINCT v.relname, d.refclassid = 'pg_proc'::regclass,
 COALESCE(t.relname, f.proname, ''), COALESCE(tn.nspname, fn.nspname, ''), COALESCE(f.provolatile::text, '')
FROM pg_rewrite r
JOIN pg_class v ON v.oid = r.ev_class AND v.relkind = 'v'
JOIN pg_namespace n ON n.oid = v.relnamespace
JOIN pg_depend d ON d.classid = 'pg_rewrite'::regclass AND d.objid = r.oid AND d.refobjid <> v.oid
LEFT JOIN pg_class t ON d.refclassid = 'pg_class'::regclass AND t.oid = d.refobjid
LEFT JOIN pg_namespace tn ON tn.oid = t.relnamespace
LEFT JOIN pg_proc f ON d.refclassid = 'pg_proc'::regclass AND f.oid = d.refobjid
LEFT JOIN pg_namespace fn ON fn.oid = f.pronamespace
WHERE ` + pgUserNS + ` AND (t.oid IS NOT NULL OR f.oid IS NOT NULL)`

	pgViewDefQuery = `SELECT c.relname, pg_get_viewdef(c.oid) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind = 'v' AND ` + pgUserNS

	// User triggers with their function's language and source.
	pgTriggerQuery = `SELECT c.relname, l.lanname, p.prosrc FROM pg_trigger g
JOIN pg_class c ON c.oid = g.tgrelid JOIN pg_proc p ON p.oid = g.tgfoid JOIN pg_language l ON l.oid = p.prolang
WHERE NOT g.tgisinternal`

	// Every function: built in (system schemas) or the user's, with volatility.
	pgFuncQuery = `SELECT p.proname, n.nspname IN ('pg_catalog', 'information_schema') AS builtin, p.provolatile::text,
 CASE WHEN n.nspname IN ('pg_catalog', 'information_schema') THEN '' ELSE l.lanname END,
 CASE WHEN n.nspname IN ('pg_catalog', 'information_schema') THEN '' ELSE p.prosrc END
FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace JOIN pg_language l ON l.oid = p.prolang`

	// Tables under row-level security.
	pgRLSQuery = `SELECT c.relname FROM pg_class c WHERE c.relrowsecurity`

	// Primary keys, column by column in key order, with type and collation.
	pgKeyQuery = `SELECT n.nspname, c.relname, a.attname, format_type(a.atttypid, a.atttypmod),
 COALESCE(co.collname, ''), COALESCE(co.collisdeterministic, true)
FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid JOIN pg_namespace n ON n.oid = c.relnamespace
CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum
LEFT JOIN pg_collation co ON co.oid = a.attcollation
WHERE i.indisprimary AND ` + pgUserNS + `
ORDER BY n.nspname, c.relname, k.ord`
)

func postgresFacts(ctx context.Context, r reader, parser sqlparse.Parser) (*facts, error) {
	f := newFacts()
	f.allFuncs = true
	rows, err := r.rows(ctx, "functions", 5, pgFuncQuery)
	if err != nil {
		return nil, err
	}
	for _, r := range rows {
		cl := funcBuiltin
		if !isTrue(r[1]) {
			cl = funcStable
			if r[2] == "v" {
				cl = funcVolatile
			} else {
				// Stable functions read tables (immutable ones should not,
				// but nothing enforces it).
				f.funcBodies[r[0]] = mergeReads(f.funcBodies[r[0]], readFunctionBody(parser, r[3], r[4]))
			}
		}
		// A name shared by several functions takes the most dangerous class.
		f.funcs[r[0]] = max(f.funcs[r[0]], cl)
	}
	if rows, err = r.rows(ctx, "foreign keys", 2, pgFKQuery); err != nil {
		return nil, err
	}
	for _, r := range rows {
		f.edges = append(f.edges, [2]string{r[0], r[1]})
	}
	if rows, err = r.rows(ctx, "inheritance", 2, pgInheritQuery); err != nil {
		return nil, err
	}
	for _, r := range rows {
		f.edges = append(f.edges, [2]string{r[0], r[1]}, [2]string{r[1], r[0]})
	}
	if rows, err = r.rows(ctx, "views", 5, pgViewQuery); err != nil {
		return nil, err
	}
	for _, r := range rows {
		view, isFunc, dep, ns, vol := r[0], isTrue(r[1]), r[2], r[3], r[4]
		switch {
		case isFunc && vol == "v" && (ns == "pg_catalog" || ns == "information_schema"):
			f.opaqueViews[view] = "view " + view + " calls volatile function " + dep
		case isFunc && ns != "pg_catalog" && ns != "information_schema":
			f.viewFuncs = append(f.viewFuncs, viewFunc{view, []string{dep}})
		case isFunc:
		case ns == "pg_catalog" || ns == "information_schema":
			f.opaqueViews[view] = "view " + view + " reads system catalog " + dep
		default:
			f.views[view] = append(f.views[view], dep)
		}
	}
	// The definitions too, for what pg_depend does not record (now(),
	// CURRENT_TIMESTAMP, locking clauses): the parser's verdict applies.
	if rows, err = r.rows(ctx, "view definitions", 2, pgViewDefQuery); err != nil {
		return nil, err
	}
	for _, r := range rows {
		if st := parser.Parse(r[1]); !st.Cacheable {
			f.opaqueViews[r[0]] = "view " + r[0] + ": " + st.Reason
		}
	}
	if rows, err = r.rows(ctx, "triggers", 3, pgTriggerQuery); err != nil {
		return nil, err
	}
	for _, r := range rows {
		table, lang, src := r[0], r[1], r[2]
		var b *body
		if lang == "plpgsql" || lang == "sql" {
			b = readBody(parser, src)
		} else {
			b = &body{opaque: "trigger function in language " + lang}
		}
		f.triggers[table] = mergeBody(f.triggers[table], b)
	}
	if rows, err = r.rows(ctx, "row-level security", 1, pgRLSQuery); err != nil {
		return nil, err
	}
	for _, r := range rows {
		f.rls = append(f.rls, r[0])
	}
	if rows, err = r.rows(ctx, "primary keys", 6, pgKeyQuery); err != nil {
		return nil, err
	}
	seen := map[string]string{}
	for _, r := range rows {
		typ := strings.ToLower(r[3])
		f.addKey(seen, r[0], r[1], Column{Name: r[2], Type: typ, Collation: r[4], Exact: pgExact(typ, isTrue(r[5]))})
	}
	return f, nil
}

// pgExact: equality of the type is byte equality of its text form.
// Integers are; text and varchar are under a deterministic collation
// (which breaks ties bytewise); char(n) is not (trailing blanks), nor are
// numeric (1.0 = 1.00), floats (0 = -0), uuid (case), or time types.
func pgExact(typ string, deterministic bool) bool {
	switch {
	case typ == "smallint" || typ == "integer" || typ == "bigint" || typ == "oid":
		return true
	case typ == "text" || strings.HasPrefix(typ, "character varying"):
		return deterministic
	}
	return false
}
