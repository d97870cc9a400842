// Package sqlparse tells what a SQL statement touches: its kind, the tables it
// reads and writes, and whether its result may be cached.
//
// It knows nothing of caching or of database/sql. Each SQL dialect lives in a
// subpackage (sqlparse/sqlite, sqlparse/mysql, sqlparse/postgres) that wraps
// the parser that really speaks that dialect and returns a Statement. The rest
// of yoked only ever sees Statement.
//
// Contract every dialect honours: a statement that contains any write is never
// reported as a cacheable read, and a statement the parser cannot understand
// is reported with Parsed=false and the conservative reading of Scan
// (KindUnknown with AllTables even when it looks like a read: it may hide a
// write), so that callers can invalidate more rather than less.
package sqlparse

import "strings"

// Kind is what a statement does, as far as a cache is concerned.
type Kind uint8

const (
	// KindUnknown is a statement whose effect is not known: callers must treat
	// it as a write to every table.
	KindUnknown Kind = iota
	// KindRead only reads (SELECT, read-only CTE, VALUES, SHOW, EXPLAIN without ANALYZE, ...).
	KindRead
	// KindWrite changes rows (INSERT, UPDATE, DELETE, REPLACE, MERGE, COPY FROM, ...).
	KindWrite
	// KindDDL changes schema (CREATE, ALTER, DROP, RENAME, TRUNCATE, REFRESH MATERIALIZED VIEW, ...).
	KindDDL
	// KindTx is transaction control (BEGIN, COMMIT, ROLLBACK, SAVEPOINT, ...).
	KindTx
	// KindSession changes the state of the session (SET, USE, PRAGMA that changes
	// behaviour, CREATE TEMPORARY TABLE, ATTACH, SET ROLE, ...): a connection that
	// ran one can no longer share cached results.
	KindSession
	// KindOther has no effect on data visible to others (EXPLAIN, ANALYZE, VACUUM, harmless PRAGMA, ...).
	KindOther
)

var kindNames = [...]string{"unknown", "read", "write", "ddl", "tx", "session", "other"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "invalid"
}

// MarshalText lets Kind appear by name in JSON and golden files.
func (k Kind) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// UnmarshalText is the inverse of MarshalText.
func (k *Kind) UnmarshalText(b []byte) error {
	for i, n := range kindNames {
		if n == string(b) {
			*k = Kind(i)
			return nil
		}
	}
	*k = KindUnknown
	return nil
}

// Table names a table as written in a statement, normalised by the dialect's
// case rules (unquoted identifiers folded the way the database folds them).
// Schema is empty when the statement did not qualify the name.
type Table struct {
	Schema string `json:"schema,omitempty"`
	Name   string `json:"name"`
}

// String returns "schema.name" or "name".
func (t Table) String() string {
	if t.Schema == "" {
		return t.Name
	}
	return t.Schema + "." + t.Name
}

// Statement is what a dialect found in one SQL string (which may hold several
// statements separated by ';': the summary then covers all of them).
type Statement struct {
	// Kind is the strongest kind in the string, in the order
	// Unknown > DDL > Write > Session > Tx > Other > Read.
	Kind Kind `json:"kind"`
	// Parsed is false when the parser rejected the text; the other fields then
	// come from a lexical scan and are conservative.
	Parsed bool `json:"parsed"`
	// Reads are the tables read (joins, subqueries, UNION, EXISTS included; CTE
	// names and aliases excluded), sorted, without duplicates.
	Reads []Table `json:"reads,omitempty"`
	// Writes are the tables written or whose schema changes, sorted, without duplicates.
	Writes []Table `json:"writes,omitempty"`
	// AllTables is true when the statement may write tables that cannot be
	// named (unknown writes, DROP SCHEMA/DATABASE, a write the scan could not
	// place): callers invalidate everything.
	AllTables bool `json:"all_tables,omitempty"`
	// Session is true when the text changes session or transaction state
	// somewhere (SET, USE, temporary table, BEGIN, COMMIT, …), even when Kind
	// is stronger: a multi-statement `SET …; INSERT …` or `BEGIN; UPDATE …`
	// is Kind=Write, Session=true, and a caller must not assume the write
	// committed when the text returned.
	Session bool `json:"session,omitempty"`
	// Cacheable is true only for a read whose result depends on nothing but
	// the tables in Reads.
	Cacheable bool `json:"cacheable"`
	// Reason says why a statement is not cacheable ("" when it is).
	Reason string `json:"reason,omitempty"`
	// Functions are the function names called (lower case), for callers that
	// classify user functions against a catalog.
	Functions []string `json:"functions,omitempty"`
	// Pins are the rows the statement is confined to, per table (see Pin);
	// none when the dialect cannot tell.
	Pins []Pin `json:"pins,omitempty"`
	// EndsTx is true when the text may commit, roll back or end the current
	// transaction, or start a new one, so that the writes that follow may
	// commit as they return: COMMIT, END, ROLLBACK (not ROLLBACK TO), ABORT,
	// PREPARE TRANSACTION, COMMIT/ROLLBACK PREPARED, and in MySQL BEGIN,
	// START TRANSACTION and every statement that commits implicitly (DDL,
	// LOCK/UNLOCK TABLES, SET autocommit, account management, FLUSH,
	// ANALYZE/OPTIMIZE/REPAIR/CHECK TABLE, …). Text that did not parse, and
	// KindUnknown statements (CALL, DO, XA …), may do so too: callers must
	// treat them alike. A dialect that cannot tell SAVEPOINT from the rest
	// reports every transaction-control statement.
	EndsTx bool `json:"ends_tx,omitempty"`
	// Settings are the names (lower case) of the server settings the text
	// assigns when it consists only of SET statements of server settings
	// (PostgreSQL SET/RESET name, MySQL SET [SESSION|GLOBAL] name; "names"
	// and "charset" for SET NAMES and SET CHARACTER SET; SQLite
	// PRAGMA [schema.]name = value or name(value)), so that callers can
	// tell settings that cannot change what a read returns from the others.
	// Nil for any other text (user variables, SET ROLE …: not a list).
	Settings []string `json:"settings,omitempty"`
	// ResetsSession is true when the text is one statement that returns the
	// session to its state at connection: settings, role, temporary tables,
	// prepared statements (PostgreSQL DISCARD ALL).
	ResetsSession bool `json:"resets_session,omitempty"`
}

// Parser turns SQL text into a Statement. Implementations are safe for
// concurrent use, never panic, and return a Statement for every input: an
// unparsable text is a conservative Statement with Parsed=false, not an error.
type Parser interface {
	Parse(sql string) Statement
}

// Dialect names, as accepted by Lookup and shown by `yokedcache explain`.
const (
	DialectSQLite   = "sqlite"
	DialectMySQL    = "mysql"
	DialectPostgres = "postgres"
)

// NormalizeDialect maps common aliases (sqlite3, postgresql, pgx, mariadb, ...)
// to a dialect name, or returns "" when it knows none.
func NormalizeDialect(name string) string {
	switch strings.ToLower(name) {
	case "sqlite", "sqlite3":
		return DialectSQLite
	case "mysql", "mariadb", "tidb":
		return DialectMySQL
	case "postgres", "postgresql", "pgx", "pq", "pgx/v5", "cockroach", "cockroachdb":
		return DialectPostgres
	}
	return ""
}

// SystemSchema reports whether schema (lower case) holds the database's own
// catalog in dialect rather than application data: MySQL's and MariaDB's
// information_schema, performance_schema, mysql and sys; PostgreSQL's
// pg_catalog, information_schema and pg_toast. Their contents change with
// DDL and server state that no table write names, so reads of them are
// never cacheable.
func SystemSchema(dialect, schema string) bool {
	switch dialect {
	case DialectMySQL:
		switch schema {
		case "information_schema", "performance_schema", "mysql", "sys":
			return true
		}
	case DialectPostgres:
		switch schema {
		case "pg_catalog", "information_schema", "pg_toast":
			return true
		}
	}
	return false
}
