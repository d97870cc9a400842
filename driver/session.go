package driver

import (
	"context"
	"strings"

	"github.com/yokedcache/yoked/sqlparse"
)

// Session taint: a statement that changes the session (SET, USE, a
// temporary table, a transaction begun by hand, …) may change what later
// reads on the same connection return, so such a connection neither reads
// nor fills the cache. Settings that cannot change what a read returns do
// not taint (harmlessSetting); settings that are part of the connection's
// identity (identity.go) taint only when, after the statement, the
// connection's identity is no longer the one it had.

// harmlessSettings are, per dialect, the settings (lower case) whose value
// cannot change the rows, values or column metadata a read returns. Each is
// listed with the reason.
var harmlessSettings = map[string]map[string]string{
	sqlparse.DialectPostgres: {
		"application_name":                    "a label in pg_stat_activity (never cached: a system view)",
		"statement_timeout":                   "can only make a statement fail; errors are never cached",
		"lock_timeout":                        "can only make a statement fail",
		"idle_in_transaction_session_timeout": "can only end the session",
		"idle_session_timeout":                "can only end the session",
		"transaction_timeout":                 "can only make a transaction fail",
		"client_min_messages":                 "which notices the client receives",
		"lc_messages":                         "the language of messages; errors are never cached",
		"log_statement":                       "server logging only",
		"log_min_duration_statement":          "server logging only",
		"log_min_messages":                    "server logging only",
		"synchronous_commit":                  "durability of commits, not their visibility to reads on this server",
		"default_transaction_read_only":       "can only make writes fail",
		"check_function_bodies":               "checks done by CREATE FUNCTION only",
		"work_mem":                            "memory for sorts and hashes: plan choice only",
		"maintenance_work_mem":                "memory for maintenance commands only",
		"jit":                                 "plan execution only",
		"random_page_cost":                    "plan choice only",
		"seq_page_cost":                       "plan choice only",
		"effective_cache_size":                "plan choice only",
		"max_parallel_workers_per_gather":     "plan choice only",
		"tcp_keepalives_idle":                 "network only",
		"tcp_keepalives_interval":             "network only",
		"tcp_keepalives_count":                "network only",
	},
	sqlparse.DialectMySQL: {
		"foreign_key_checks":       "decides whether writes are checked (and, off, skips cascades: yoked still invalidates them); reads are unchanged",
		"unique_checks":            "decides whether writes are checked",
		"sql_notes":                "which notes become warnings",
		"sql_warnings":             "which warnings are reported",
		"wait_timeout":             "can only end the session",
		"interactive_timeout":      "can only end the session",
		"net_read_timeout":         "network only",
		"net_write_timeout":        "network only",
		"lock_wait_timeout":        "can only make a statement fail; errors are never cached",
		"innodb_lock_wait_timeout": "can only make a statement fail",
		"max_statement_time":       "MariaDB: can only make a statement fail",
		"max_execution_time":       "MySQL: can only make a statement fail",
		"sql_log_bin":              "whether writes are replicated, not what reads here return",
		"sql_safe_updates":         "can only make writes fail",
		"profiling":                "statistics only",
		"optimizer_switch":         "plan choice only",
		"optimizer_search_depth":   "plan choice only",
		"join_buffer_size":         "memory only",
		"sort_buffer_size":         "memory only",
		"read_buffer_size":         "memory only",
		"tmp_table_size":           "memory only (a full table is an error)",
		"max_heap_table_size":      "memory only (a full table is an error)",
		"big_tables":               "memory only",
		"sql_big_selects":          "can only make a read fail",
		"max_join_size":            "can only make a read fail",
	},
	// PRAGMAs every SQLite application sends on each connection.
	sqlparse.DialectSQLite: {
		// Reads return the same rows with it on or off. Writes do not: ON
		// DELETE/UPDATE actions run only while it is on. The catalog reads
		// every foreign key's actions from the schema (pragma_foreign_key_list,
		// which does not depend on the setting) and applies them to every
		// write whatever the connection's setting, so a connection with
		// foreign keys on invalidates the tables its cascades write, and one
		// with them off invalidates them too (more, never less).
		"foreign_keys":       "reads are unchanged; the catalog applies FK actions to every write, on or off",
		"defer_foreign_keys": "when FK violations are reported; writes invalidate the same tables",
		"busy_timeout":       "how long a statement waits for a lock: it can only make a statement fail; errors are never cached",
		"journal_mode":       "how commits reach the file (rollback journal or WAL): committed data reads the same",
		"synchronous":        "durability of commits against power loss, not what reads return",
		"cache_size":         "memory for the page cache only",
		"mmap_size":          "how the file is read, not what",
		"temp_store":         "where temporary tables and indices live (memory or file), not their contents",
		"wal_autocheckpoint": "when the WAL is copied into the file; reads see the same data",
		"query_only":         "can only make writes fail",
	},
}

// harmlessSetting reports whether setting name cannot change what a read
// returns in dialect.
func harmlessSetting(dialect, name string) bool {
	_, ok := harmlessSettings[dialect][name]
	return ok
}

// identitySettings are, per dialect, the settings whose value is part of the
// connection's identity (identity.go): assigning one taints the connection
// only when the identity is then no longer the one it had. In PostgreSQL
// every server setting is (custom "x.y" placeholders are not); in MySQL the
// session variables the identity query reads.
var identitySettings = map[string]map[string]bool{
	sqlparse.DialectMySQL: {
		"names": true, "charset": true, "sql_mode": true, "time_zone": true, "character_set_client": true,
		"character_set_connection": true, "character_set_results": true, "collation_connection": true,
		"div_precision_increment": true, "group_concat_max_len": true, "lc_time_names": true,
		"default_week_format": true, "sql_select_limit": true, "sql_auto_is_null": true, "max_sort_length": true,
	},
}

func identitySetting(dialect, name string) bool {
	if dialect == sqlparse.DialectPostgres {
		return name != "" && !strings.Contains(name, ".")
	}
	return identitySettings[dialect][name]
}

// Name resolution. Write tags name tables as the catalog resolved them
// with the connection's search_path (PostgreSQL) or current database
// (MySQL), or main (SQLite). A statement that may change where names
// resolve (SET search_path, SET ROLE with "$user" in the path, set_config,
// a temporary table that hides a table, USE, ATTACH, anything not
// understood: every taint, any assignment of search_path, and a volatile
// user function or opaque trigger, which may run set_config) makes the
// connection path-unsure: from then on its writes of tables named without a
// schema (catalog.Access.PathDependent) invalidate everything, since the
// table they really write may be another schema's. An identity check that
// finds the connection as it opened clears it (search_path is part of the
// PostgreSQL identity, the current database of the MySQL one).

// pathSetting reports whether assigning setting may change where names
// resolve.
func pathSetting(name string) bool { return name == "search_path" }

// resolved returns p, or a copy of it that writes everything when p's writes
// were resolved through a search_path or current database this connection
// may have left.
func (cn *conn) resolved(p *plan) *plan {
	if !cn.pathUnsure || !p.pathDependent || p.writeAll || !p.isWrite() {
		return p
	}
	q := *p
	q.writeAll = true
	return &q
}

// sessionEffect is what a statement does to the session, for the taint.
type sessionEffect uint8

const (
	effectNone     sessionEffect = iota // no session change
	effectTaint                         // taints the connection (and makes it sticky)
	effectHarmless                      // assigns only settings that cannot change a read
	effectIdentity                      // assigns settings of the identity: compare it later
)

// sessionEffect classifies p for this connection.
func (cn *conn) sessionEffect(p *plan) sessionEffect {
	e := sessionEffectOf(cn.c.dialect, &p.stmt, cn.tx != nil)
	if e == effectIdentity && (cn.c.cfg.Identity != "" || cn.identity == "") {
		// No identity to compare with: assume the worst.
		return effectTaint
	}
	return e
}

// sessionEffectOf is what st does to the session of a connection of
// dialect, inside a database/sql transaction or not.
func sessionEffectOf(dialect string, st *sqlparse.Statement, inTx bool) sessionEffect {
	switch {
	case st.Kind == sqlparse.KindUnknown:
		// Not understood (XA START, CALL, text the parser rejected that
		// the scan could not place): it may start a transaction or change
		// the session in any way. (Text the parser rejected but the scan
		// placed as a write of named tables, such as MariaDB's INSERT …
		// RETURNING, is one INSERT, UPDATE, DELETE or DDL statement.)
		return effectTaint
	case st.Kind == sqlparse.KindSession && len(st.Settings) > 0:
		harmless, covered := true, true
		for _, s := range st.Settings {
			harmless = harmless && harmlessSetting(dialect, s)
			covered = covered && identitySetting(dialect, s)
		}
		switch {
		case harmless:
			return effectHarmless
		case covered:
			return effectIdentity
		}
		return effectTaint
	case st.Kind == sqlparse.KindSession || st.Session && st.Kind != sqlparse.KindTx:
		// Session also covers BEGIN/COMMIT hidden in a multi-statement text.
		return effectTaint
	case st.Kind == sqlparse.KindTx && !inTx:
		// BEGIN/COMMIT typed by hand: yoked cannot follow the transaction.
		return effectTaint
	}
	return effectNone
}

// TaintsSession says what running st outside a transaction does to the
// connection of dialect that runs it: after it, reads of that connection
// are never cached (taints), or are not only if the statement changed a
// setting the connection's identity is built from (ifChanged: SET NAMES,
// search_path, sql_mode, …; yoked asks the server again before the next
// cacheable read). For `yokedcache explain`.
func TaintsSession(dialect string, st sqlparse.Statement) (taints, ifChanged bool) {
	switch sessionEffectOf(sqlparse.NormalizeDialect(dialect), &st, false) {
	case effectTaint:
		return true, false
	case effectIdentity:
		return false, true
	}
	return false, false
}

// endsTx reports whether p may end the transaction it runs in (or start
// one): sqlparse.Statement.EndsTx, anything not understood (KindUnknown;
// the scan of text the parser rejected reports BEGIN, COMMIT and the like
// with EndsTx), and in SQLite
// every transaction-control statement (its parser does not report EndsTx;
// SAVEPOINT outside BEGIN starts a transaction and RELEASE of the
// outermost one commits it).
func (cn *conn) endsTx(p *plan) bool {
	st := &p.stmt
	if st.EndsTx || st.Kind == sqlparse.KindUnknown {
		return true
	}
	return cn.c.dialect == sqlparse.DialectSQLite && (st.Kind == sqlparse.KindTx || st.Session)
}

// before records what a statement does to the session before it runs: a
// statement that fails half-way may still have changed it.
func (cn *conn) before(p *plan) {
	if cn.tx != nil && cn.endsTx(p) {
		// From here on the database/sql transaction may no longer be one:
		// every write is invalidated as it returns, and again at the end.
		cn.implicitCommit = true
	}
	switch cn.sessionEffect(p) {
	case effectTaint:
		cn.tainted = true
		// SET autocommit=0, XA START and the like: writes may no longer
		// commit on return.
		cn.sticky = true
		cn.pathUnsure = true
	case effectIdentity:
		cn.recheck = true
	}
	for _, s := range p.stmt.Settings {
		cn.pathUnsure = cn.pathUnsure || pathSetting(s)
	}
	if p.userCode {
		// A volatile function or an opaque trigger may have run set_config
		// or SET: names may no longer resolve as the catalog's, and the
		// settings may no longer be the identity's. Ask the server before
		// the next cached read (which clears this when nothing changed).
		cn.pathUnsure = true
		if cn.c.cfg.Identity == "" && cn.identity != "" {
			cn.recheck = true
		}
	}
}

// sessionAfter notes a session reset that succeeded.
func (cn *conn) sessionAfter(p *plan, err error) {
	if err == nil && p.stmt.ResetsSession && cn.tx == nil && !cn.unwrapped && cn.c.cfg.Identity == "" && cn.identity != "" {
		cn.resetCheck = true
	}
}

// checkSession runs before a cached read on a connection whose settings
// changed: it asks the server for the identity again. A connection whose
// identity changed is tainted; one that a reset brought back to the
// identity it opened with is clean again. It runs only before a read, so
// the identity query never stands between a statement and what the
// application asks about it next (warnings, ROW_COUNT()).
func (cn *conn) checkSession(ctx context.Context) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), identityTimeout)
	defer cancel()
	id, _, err := cn.c.identityOf(ctx, cn.base)
	same := err == nil && id == cn.identity
	switch {
	case cn.resetCheck && same:
		// DISCARD ALL outside a transaction block: settings, role,
		// temporary tables, prepared statements, locks and cursors are
		// gone, and no transaction is open. What was written while the
		// connection was sticky was invalidated after every statement.
		cn.flushDirty(ctx)
		cn.tainted, cn.sticky, cn.dirty, cn.dirtyAll = false, false, nil, false
	case cn.recheck && !same:
		cn.tainted, cn.sticky = true, true
	}
	if same && !cn.tainted {
		cn.pathUnsure = false // names resolve as the catalog's (search_path is in the identity)
	}
	cn.recheck, cn.resetCheck = false, false
}
