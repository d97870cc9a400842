package driver

import "github.com/yokedcache/yoked/sqlparse"

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
}

// harmlessSetting reports whether setting name cannot change what a read
// returns in dialect.
func harmlessSetting(dialect, name string) bool {
	_, ok := harmlessSettings[dialect][name]
	return ok
}
