// Package mysql is the MySQL and MariaDB dialect of sqlparse, built on the
// TiDB parser. It walks the syntax tree to name the tables a text reads and
// writes and to find what makes a read uncacheable; text the grammar rejects
// is handed to sqlparse.Scan.
//
// The walk is shared with sqlparse/sqlite, whose statements the same grammar
// reads once SQLite's own forms are rewritten: Options adapts it.
package mysql
