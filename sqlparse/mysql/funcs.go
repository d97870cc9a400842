package mysql

import (
	"strings"

	"github.com/pingcap/tidb/pkg/parser/ast"
)

// volatileFuncs are MySQL built-ins whose result is not a function of the
// tables read: the clock, randomness, the session, locks, sequences, files.
var volatileFuncs = map[string]string{
	"now": "reads the clock:", "current_timestamp": "reads the clock:", "localtime": "reads the clock:",
	"localtimestamp": "reads the clock:", "sysdate": "reads the clock:", "curdate": "reads the clock:",
	"current_date": "reads the clock:", "curtime": "reads the clock:", "current_time": "reads the clock:",
	"utc_date": "reads the clock:", "utc_time": "reads the clock:", "utc_timestamp": "reads the clock:",
	"unix_timestamp": "reads the clock:",
	"rand":           "random:", "random_bytes": "random:", "uuid": "random:", "uuid_short": "random:",
	"sys_guid": "random:", "uuid_v4": "random:", "uuid_v7": "random:", "rownum": "depends on evaluation order:",
	"encrypt": "random salt:", "des_encrypt": "reads a key file:", "des_decrypt": "reads a key file:",
	"version": "depends on the server:", "icu_version": "depends on the server:",
	"binlog_gtid_pos": "depends on the server:", "master_gtid_wait": "has side effects:",
	"wsrep_last_seen_gtid": "depends on the server:", "wsrep_last_written_gtid": "depends on the server:",
	"wsrep_sync_wait_upto_gtid": "has side effects:", "lastval": "uses a sequence:",
	"last_insert_id": "depends on the session:", "row_count": "depends on the session:",
	"found_rows": "depends on the session:", "connection_id": "depends on the session:",
	"database": "depends on the session:", "schema": "depends on the session:", "user": "depends on the session:",
	"current_user": "depends on the session:", "session_user": "depends on the session:",
	"system_user": "depends on the session:", "current_role": "depends on the session:",
	"roles_graphml": "depends on the session:", "ps_current_thread_id": "depends on the session:",
	"ps_thread_id": "depends on the session:",
	"sleep":        "has side effects:", "get_lock": "has side effects:", "release_lock": "has side effects:",
	"release_all_locks": "has side effects:", "is_free_lock": "has side effects:",
	"is_used_lock": "has side effects:", "benchmark": "has side effects:", "load_file": "reads a file:",
	"master_pos_wait": "has side effects:", "source_pos_wait": "has side effects:",
	"nextval": "uses a sequence:", "setval": "uses a sequence:",
	"next_value": "uses a sequence:", "gtid_subset": "depends on the server:",
	"wait_for_executed_gtid_set": "has side effects:",
}

// volatilePrefixes cover families: Spider's remote calls, Galera state.
var volatilePrefixes = []string{"spider_", "wsrep_"}

func volatile(name string, _ []ast.ExprNode) string {
	if why, ok := volatileFuncs[name]; ok {
		return why
	}
	for _, p := range volatilePrefixes {
		if strings.HasPrefix(name, p) {
			return "depends on the server:"
		}
	}
	return ""
}
