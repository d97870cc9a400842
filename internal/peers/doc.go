// Command peers runs the base drivers' own package tests twice, once as
// released and once with their sql.Open names pointed at yoked, and reports
// the tests that pass raw but fail through yoked (make peers).
//
// For each suite it copies the base driver's module from the module cache
// into a work directory (nothing of theirs is committed here), and in the
// yoked copy renames the base's own sql.Register call and registers, from an
// added test file, yoked.Wrap(base) under the original name. Tests that open
// a connector directly (sql.OpenDB) stay raw. Tests that reach the base
// connection through sql.Conn.Raw and assert its concrete type are given
// driver.Unwrap(conn); the report says how many. Tests that would dial
// addresses outside the loopback range are skipped (suite.skip).
//
// It needs the servers of make test (PostgreSQL, MariaDB) and creates, then
// drops, a database of its own on each.
package main
