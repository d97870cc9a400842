// Package orm shows yoked under the ORMs and query builders Go programs use:
// GORM (with its Migrator), sqlx, sqlc-generated code (sqlcshop), ent's SQL
// driver and bun. Each is an Example test run on SQLite, and a test runs the
// same code on PostgreSQL (pgx) and MariaDB, expecting the same output: reads
// that hit the cache, writes that invalidate it, and fresh values after them.
// docs/drivers.md explains the setup each one needs. The package has no
// code of its own: the examples are its content.
package orm
