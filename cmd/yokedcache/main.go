// Command yokedcache is the operator's handle on a yoked cache: it flushes,
// lists, reads and deletes entries of a shared (Redis) store, shows its
// counters, explains how yoked sees a SQL statement, runs the demo and
// compares a database with and without the cache.
//
// It is thin: every verb parses its flags and hands the work to yoked's
// packages (driver, sqlparse, tagstore). Exit status: 0 when the operation
// succeeded, 1 when it failed, 2 when the command line was wrong or the
// operation cannot be done from a separate process.
package main

import "os"

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
