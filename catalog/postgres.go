package catalog

import (
	"context"
	"regexp"
	"strings"

	"github.com/yokedcache/yoked/sqlparse"
)

// PostgreSQL catalog queries. They read every schema but the system ones,
// each relation named schema.name (qualified names reach any schema).
const (
	// The effective search_path of this session (pg_catalog included),
	// and every relation a name may resolve to.
	pgPathQuery = `SELECT s, current_user FROM unnest(current_schemas(true)) WITH ORDINALITY AS p(s, i) ORDER BY i`
	pgRelQuery  = `SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'v', 'm', 'S', 'f', 'p') AND n.nspname NOT LIKE 'pg\_toast%' AND n.nspname NOT LIKE 'pg\_temp%'`

	pgUserNS = `n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\_toast%'`

	// Foreign keys whose actions write the referencing table.
	pgFKQuery = `SELECT pn.nspname || '.' || p.relname, cn.nspname || '.' || c.relname FROM pg_constraint k
JOIN pg_class p ON p.oid = k.confrelid JOIN pg_class c ON c.oid = k.conrelid
JOIN pg_namespace pn ON pn.oid = p.relnamespace JOIN pg_namespace cn ON cn.oid = c.relnamespace
WHERE k.contype = 'f' AND (k.confdeltype IN ('c', 'n', 'd') OR k.confupdtype IN ('c', 'n', 'd'))`

	// Partitions and inheritance children, with their parents.
	pgInheritQuery = `SELECT pn.nspname || '.' || p.relname, cn.nspname || '.' || c.relname FROM pg_inherits i
JOIN pg_class p ON p.oid = i.inhparent JOIN pg_class c ON c.oid = i.inhrelid
JOIN pg_namespace pn ON pn.oid = p.relnamespace JOIN pg_namespace cn ON cn.oid = c.relnamespace`

	// Views and the relations and functions their rewrite rules depend on;
	// a dependency on a system relation or a volatile function makes the
	// view uncacheable.
	pgViewQuery = `SELECT DISTINCT n.nspname || '.' || v.relname, d.refclassid = 'pg_proc'::regclass,
 COALESCE(tn.nspname || '.' || t.relname, f.proname, ''), COALESCE(tn.nspname, fn.nspname, ''), COALESCE(f.provolatile::text, '')
FROM pg_rewrite r
JOIN pg_class v ON v.oid = r.ev_class AND v.relkind = 'v'
JOIN pg_namespace n ON n.oid = v.relnamespace
JOIN pg_depend d ON d.classid = 'pg_rewrite'::regclass AND d.objid = r.oid AND d.refobjid <> v.oid
LEFT JOIN pg_class t ON d.refclassid = 'pg_class'::regclass AND t.oid = d.refobjid
LEFT JOIN pg_namespace tn ON tn.oid = t.relnamespace
LEFT JOIN pg_proc f ON d.refclassid = 'pg_proc'::regclass AND f.oid = d.refobjid
LEFT JOIN pg_namespace fn ON fn.oid = f.pronamespace
WHERE ` + pgUserNS + ` AND (t.oid IS NOT NULL OR f.oid IS NOT NULL)`

	pgViewDefQuery = `SELECT n.nspname || '.' || c.relname, pg_get_viewdef(c.oid) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind = 'v' AND ` + pgUserNS

	// User triggers with their function's language, source and settings.
	// before: the trigger runs BEFORE or INSTEAD OF the write (tgtype bits
	// 1 and 6), so it may change the row written, its key included.
	pgTriggerQuery = `SELECT n.nspname || '.' || c.relname, l.lanname, p.prosrc, (g.tgtype & 66) <> 0 AS before,
 COALESCE(array_to_string(p.proconfig, E'\n'), '') FROM pg_trigger g
JOIN pg_class c ON c.oid = g.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_proc p ON p.oid = g.tgfoid JOIN pg_language l ON l.oid = p.prolang
WHERE NOT g.tgisinternal`

	// Every function: built in (system schemas) or the user's, with volatility.
	pgFuncQuery = `SELECT p.proname, n.nspname IN ('pg_catalog', 'information_schema') AS builtin, p.provolatile::text,
 CASE WHEN n.nspname IN ('pg_catalog', 'information_schema') THEN '' ELSE l.lanname END,
 CASE WHEN n.nspname IN ('pg_catalog', 'information_schema') THEN '' ELSE p.prosrc END,
 COALESCE(array_to_string(p.proconfig, E'\n'), '')
FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace JOIN pg_language l ON l.oid = p.prolang`

	// Rules other than a view's own, with their definition.
	pgRuleQuery = `SELECT n.nspname || '.' || c.relname, pg_get_ruledef(r.oid) FROM pg_rewrite r JOIN pg_class c ON c.oid = r.ev_class
JOIN pg_namespace n ON n.oid = c.relnamespace WHERE r.rulename <> '_RETURN'`

	// Column defaults and identity columns: the sequences ('S') and
	// functions ('f') they depend on.
	pgDefaultQuery = `SELECT cn.nspname || '.' || c.relname, 'S', sn.nspname || '.' || s.relname FROM pg_depend d
JOIN pg_class s ON s.oid = d.objid AND s.relkind = 'S' JOIN pg_class c ON c.oid = d.refobjid
JOIN pg_namespace sn ON sn.oid = s.relnamespace JOIN pg_namespace cn ON cn.oid = c.relnamespace
WHERE d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')
UNION
SELECT cn.nspname || '.' || c.relname, CASE WHEN d.refclassid = 'pg_proc'::regclass THEN 'f' ELSE 'S' END,
 COALESCE(p.proname, sn.nspname || '.' || s.relname)
FROM pg_attrdef ad JOIN pg_class c ON c.oid = ad.adrelid JOIN pg_namespace cn ON cn.oid = c.relnamespace
JOIN pg_depend d ON d.classid = 'pg_attrdef'::regclass AND d.objid = ad.oid
LEFT JOIN pg_proc p ON d.refclassid = 'pg_proc'::regclass AND p.oid = d.refobjid
LEFT JOIN pg_class s ON d.refclassid = 'pg_class'::regclass AND s.oid = d.refobjid AND s.relkind = 'S'
LEFT JOIN pg_namespace sn ON sn.oid = s.relnamespace
WHERE p.oid IS NOT NULL OR s.oid IS NOT NULL`

	pgSequenceQuery = `SELECT n.nspname || '.' || c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind = 'S'`

	// Operators outside the system schemas and the functions behind them.
	pgOperatorQuery = `SELECT o.oprname, p.proname FROM pg_operator o JOIN pg_proc p ON p.oid = o.oprcode
JOIN pg_namespace n ON n.oid = o.oprnamespace WHERE ` + pgUserNS

	// Tables under row-level security.
	pgRLSQuery = `SELECT n.nspname || '.' || c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relrowsecurity`

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
	rows, err := r.rows(ctx, "search_path", 2, pgPathQuery)
	if err != nil {
		return nil, err
	}
	res := &resolver{dialect: sqlparse.DialectPostgres, rels: map[string]bool{}}
	user := ""
	for _, r := range rows {
		res.path = append(res.path, r[0])
		user = r[1]
	}
	f.res = res
	if rows, err = r.rows(ctx, "relations", 2, pgRelQuery); err != nil {
		return nil, err
	}
	for _, r := range rows {
		res.rels[r[0]+"."+r[1]] = true
	}
	// funcPath: the search_path a function declared with SET search_path
	// runs with; nil (the session's) otherwise.
	funcPath := func(config string) []string {
		for _, line := range strings.Split(config, "\n") {
			if v, ok := strings.CutPrefix(line, "search_path="); ok {
				return pgPath(v, user)
			}
		}
		return nil
	}
	if rows, err = r.rows(ctx, "functions", 6, pgFuncQuery); err != nil {
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
				name := strings.ToLower(r[0])
				b := readFunctionBody(parser, r[3], r[4]).resolve(res, funcPath(r[5]))
				f.funcBodies[name] = mergeReads(f.funcBodies[name], b)
			}
		}
		// A name shared by several functions takes the most dangerous class;
		// names are compared case-insensitively ("Bump" and bump are one).
		name := strings.ToLower(r[0])
		f.funcs[name] = max(f.funcs[name], cl)
	}
	// Functions that run SQL text they are given read what it names.
	for _, fn := range pgSQLTextFuncs {
		f.sqlText[fn] = true
	}
	f.seqWriters = map[string]bool{"nextval": true, "setval": true}
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
	if rows, err = r.rows(ctx, "triggers", 5, pgTriggerQuery); err != nil {
		return nil, err
	}
	for _, r := range rows {
		table, lang, src := r[0], r[1], r[2]
		if isTrue(r[3]) {
			f.keyTriggers[table] = true
		}
		var b *body
		if lang == "plpgsql" || lang == "sql" {
			path := funcPath(r[4])
			b = readBody(parser, src).resolve(res, path)
			if path == nil && b.unqualified() {
				// Resolved at run time through the writing session's path.
				f.pathTriggers[table] = true
			}
		} else {
			b = &body{opaque: "trigger function in language " + lang}
		}
		f.triggers[table] = mergeBody(f.triggers[table], b)
	}
	// Rules on tables (DO ALSO/INSTEAD): their actions write.
	if rows, err = r.rows(ctx, "rules", 2, pgRuleQuery); err != nil {
		return nil, err
	}
	for _, r := range rows {
		var b *body
		if m := pgRuleAction.FindStringSubmatch(r[1]); m != nil {
			action := strings.TrimSuffix(strings.TrimSpace(m[1]), ";")
			if strings.HasPrefix(action, "(") && strings.HasSuffix(action, ")") {
				action = action[1 : len(action)-1] // several actions
			}
			// pg_get_ruledef qualifies what this session's path would not
			// find; the rule itself is bound to relations, not names.
			b = readBody(parser, action).resolve(res, nil)
		} else {
			b = &body{opaque: "rule on " + r[0] + " not understood"}
		}
		f.triggers[r[0]] = mergeBody(f.triggers[r[0]], b)
	}
	// What column defaults and identity columns use: sequences they
	// advance, functions they call (a writing one makes every write to
	// the table a write of anything).
	if rows, err = r.rows(ctx, "column defaults", 3, pgDefaultQuery); err != nil {
		return nil, err
	}
	for _, r := range rows {
		switch r[1] {
		case "S":
			f.edges = append(f.edges, [2]string{r[0], r[2]})
		case "f":
			f.triggers[r[0]] = mergeBody(f.triggers[r[0]], &body{funcs: []string{strings.ToLower(r[2])}})
		}
	}
	if rows, err = r.rows(ctx, "sequences", 1, pgSequenceQuery); err != nil {
		return nil, err
	}
	for _, r := range rows {
		f.sequences = append(f.sequences, r[0])
	}
	// User operators run their function: a volatile one may write.
	if rows, err = r.rows(ctx, "operators", 2, pgOperatorQuery); err != nil {
		return nil, err
	}
	for _, r := range rows {
		f.operators[r[0]] = append(f.operators[r[0]], strings.ToLower(r[1]))
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
	for _, r := range rows {
		typ := strings.ToLower(r[3])
		f.addKey(r[0]+"."+r[1], Column{Name: r[2], Type: typ, Collation: r[4], Exact: pgExact(typ, isTrue(r[5]))})
	}
	return f, nil
}

// pgRuleAction is the action part of pg_get_ruledef's text.
var pgRuleAction = regexp.MustCompile(`(?is)\bDO\s+(?:ALSO\s+|INSTEAD\s+)?(.*)$`)

// pgSQLTextFuncs run SQL text given as an argument.
var pgSQLTextFuncs = []string{"ts_stat", "query_to_xml", "query_to_xmlschema", "query_to_xml_and_xmlschema",
	"cursor_to_xml", "cursor_to_xmlschema", "table_to_xml", "table_to_xmlschema", "table_to_xml_and_xmlschema",
	"schema_to_xml", "schema_to_xmlschema", "schema_to_xml_and_xmlschema", "database_to_xml",
	"database_to_xmlschema", "database_to_xml_and_xmlschema", "dblink", "dblink_exec", "dblink_open", "dblink_fetch"}

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
