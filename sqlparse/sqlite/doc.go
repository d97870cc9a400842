// Package sqlite is the SQLite dialect of sqlparse. It splits a text into
// statements, answers SQLite's own statements (PRAGMA, ATTACH, BEGIN
// IMMEDIATE, CREATE TRIGGER, …) by their leading words, and reads SELECT,
// VALUES, INSERT, REPLACE, UPDATE and DELETE (with WITH, RETURNING, upserts,
// window functions, table-valued functions, …) with a recursive-descent
// reader of SQLite's own grammar that records the tables and functions it
// meets. Text it cannot read to the end goes to sqlparse.Scan, never cached.
//
// Reads of SQLite's own tables (every sqlite_ name: sqlite_master,
// sqlite_schema, sqlite_sequence, sqlite_stat1, …), of dbstat and of the
// pragma_ table-valued functions are never cacheable, and neither are calls
// of random(), changes(), last_insert_rowid(), the date functions with 'now'
// or a parameter, and the 'localtime' and 'utc' modifiers.
package sqlite
