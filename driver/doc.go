// Package driver is yoked's database/sql driver: it wraps a real driver,
// serves repeated SELECTs from a tagged cache, and invalidates the tables a
// write touches when that write commits. It is the only package of yoked that
// speaks database/sql/driver.
//
// Importing it registers "yoked+sqlite3", "yoked+postgres", "yoked+pgx",
// "yoked+pgx/v5" and "yoked+mysql"; the base driver is looked up by name when
// a DB is opened, so import order does not matter (the base driver must still
// be imported somewhere). Register adds other base names; Open, OpenDB and
// Wrap configure the cache in code.
//
// Which reads are served from the cache: a statement the dialect's parser
// classifies as a deterministic read (sqlparse.Statement.Cacheable), run
// outside a transaction, on a connection whose session state was never
// changed, with arguments of the standard driver.Value types, and not opted
// out through the context. Everything else goes to the database: reads inside
// a transaction (they must see the transaction's own writes), reads that call
// non-deterministic functions, locking reads, reads of a connection that ran
// SET/USE/PRAGMA/BEGIN by hand.
//
// When a write becomes visible: an autocommit write's tables are invalidated
// after the base driver returns and before yoked returns; a transaction's
// tables are invalidated after the base Commit returns and before yoked's
// Commit returns; a rolled-back transaction invalidates nothing. A write yoked
// cannot place invalidates every table of the namespace. Writes that foreign
// keys, views and triggers add are read from the schema catalog (a trigger
// body yoked cannot pin down makes writes to its table invalidate the whole
// namespace; WithDependencies declares such writes instead), see
// docs/drivers.md. Writes that do not go through yoked (another program, a
// schema change another program made since the catalog was read) are bounded
// only by the TTL; a connection obtained with Unwrap invalidates the whole
// namespace when it is closed.
package driver
