// Package sqlite is the SQLite dialect of sqlparse. It splits a text into
// statements, answers SQLite's own statements (PRAGMA, ATTACH, BEGIN
// IMMEDIATE, CREATE TRIGGER, …) itself, rewrites SQLite forms the TiDB grammar
// does not speak (INSERT OR REPLACE, ON CONFLICT, RETURNING, ?NNN/:name
// parameters) and hands the rest to the walk of sqlparse/mysql in ANSI_QUOTES
// mode. Text neither understands goes to sqlparse.Scan.
package sqlite
