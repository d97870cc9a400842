// Package changefeed makes the database itself the source of invalidations:
// it reads the replication stream of PostgreSQL (logical replication,
// pgoutput) or MySQL/MariaDB (the row-based binlog) and invalidates, in a
// tag store, the tables every committed transaction changed, whoever wrote
// them. It imports tagstore and never the driver.
//
// The contract, per source:
//
//   - At least once, never skipped. A stream position is acknowledged (to the
//     PostgreSQL slot, or saved in the store for MySQL) only after the store
//     acknowledged the invalidations of every transaction before it, so a
//     crash replays transactions and never loses one.
//   - Position gone, namespace gone. When the saved position no longer
//     exists (slot dropped or invalidated, binlog or an unread GTID purged),
//     or a slot is created, the whole namespace is invalidated before
//     streaming resumes. MySQL and MariaDB positions are GTID sets when the
//     server has GTIDs, binlog file and offset otherwise.
//   - DDL invalidates everything and bumps SchemaTag.
//   - PostgreSQL: a change of a table in an inheritance tree (partitions,
//     inheritance) invalidates every table of the tree; with Config.RowTag
//     and SetTag, a change of another table invalidates the rows it changed,
//     by primary key, where the stream and the schema catalog prove the key
//     (docs/changefeed.md, Row tags), and the table elsewhere.
//   - MySQL/MariaDB: a change to a table also invalidates the tables its
//     foreign keys' actions change (the row binlog leaves those rows out),
//     read from the schema catalog; everything when the catalog cannot be
//     read or the user may not see the table's whole database.
//   - MySQL/MariaDB, with Config.RowTag and SetTag: a changed row
//     invalidates its row tag(s) and its table's set tag, instead of the
//     table's tag, only where the table map names the row's whole primary
//     key (binlog_row_metadata=FULL) and the schema catalog, read before the
//     change was written, confirms it (docs/changefeed.md, Row tags); every
//     other change invalidates its table.
//   - Invalidated once visible. A commit reaches the stream before other
//     sessions see it; a transaction is invalidated (again, for MySQL and
//     MariaDB, which invalidate it at once as well) only once it is
//     visible, and only then is its position acknowledged and a heartbeat
//     written past it. PostgreSQL: a snapshot shows it complete. MySQL and
//     MariaDB (mysql_visible.go): a locking read of a row it changed
//     returns, or the statements running when it was read have ended
//     (information_schema.PROCESSLIST, which needs the PROCESS privilege).
//   - One active watcher per source and namespace: a lease in the store; a
//     standby waits and takes over when the lease expires.
//   - A heartbeat in the store, at least every 100 ms while the watcher is
//     healthy: the wall-clock time T such that every transaction whose commit
//     returned before T has been invalidated. A reader that bypasses the cache
//     whenever the heartbeat is older than maxLag therefore never reads data
//     older than a write that returned more than maxLag ago (see
//     docs/changefeed.md for the exact statement and its assumptions).
package changefeed
