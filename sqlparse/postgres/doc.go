// Package postgres is the PostgreSQL dialect of sqlparse: it parses SQL with
// PostgreSQL's own grammar (through pg_query) and walks the raw parse tree to
// say what a statement reads, writes and whether its result may be cached.
//
// It knows nothing of caching or database/sql; it only produces
// sqlparse.Statement. Text the grammar rejects is handed to sqlparse.Scan.
//
// What it decides, briefly:
//   - Any INSERT, UPDATE, DELETE or MERGE anywhere in the tree (writable CTEs,
//     COPY (… RETURNING) TO, EXPLAIN ANALYZE) makes the statement a write.
//   - CTE names are excluded from Reads with PostgreSQL's scoping: a
//     non-recursive CTE is visible to later siblings and the body, a
//     recursive WITH makes all its names visible everywhere in it; a
//     schema-qualified name is never a CTE.
//   - Table names keep PostgreSQL's normalisation: unquoted identifiers are
//     already folded to lower case by the grammar, quoted ones keep their case.
//   - A read is not cacheable when it calls a volatile or session-dependent
//     built-in, uses a special date literal ('now', 'today', …), locks rows,
//     samples, reads system catalogs or session-private schemas, or holds
//     several statements. Every called function is listed in Functions so
//     that callers can check user functions against the catalog.
//   - DDL whose effect cannot be pinned to named tables (CASCADE, DROP SCHEMA,
//     functions, rules, triggers, grants, …) sets AllTables.
package postgres
