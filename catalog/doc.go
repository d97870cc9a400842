// Package catalog tells what a database's schema adds to what a statement's
// text says: the tables a read really depends on and the tables a write
// really changes.
//
// A statement names tables; the schema decides the rest:
//
//   - a foreign key with ON DELETE/UPDATE CASCADE, SET NULL or SET DEFAULT
//     makes a write to the parent a write to the child (transitively);
//   - a read of a view reads the view's base tables (nested views included);
//     a write to a view writes them; a materialized view is a table of its
//     own;
//   - a trigger makes a write to its table a write to the tables its body
//     writes, when the body can be read; otherwise such a write may write
//     anything;
//   - partitions and inherited tables and their parents write each other;
//   - a read that calls a volatile user function is a write of anything and
//     is never cached; a read that calls a function that is neither built in
//     nor known is never cached;
//   - a read of a table with row-level security depends on who asks.
//
// The catalog also knows every table's primary key (column names, types,
// collations and whether equality is byte equality), for callers that tag
// finer than tables.
//
// A Catalog is read once through a Querier (a small interface of this
// package: it knows nothing of database/sql/driver) and never changes after
// Load returns; a schema change means loading a new one. Load never panics:
// any answer it does not expect (another column count, a missing catalog
// table, no privileges, a fake server) is an error, and Failed() is the
// catalog to use meanwhile: with it no read that depends on catalog facts is
// cacheable and every write may write anything.
//
// Facts are read per schema and relations are named the way the server
// resolves them, lower case: "schema.table" on PostgreSQL (unqualified
// names through the search_path), "database.table" on MySQL (unqualified
// names in the current database), the bare name for SQLite's main database
// (Resolve; resolve.go). Same-named tables of other schemas share nothing.
package catalog
