package postgres

import "strings"

// volatileFuncs are built-ins whose result is not a function of the tables a
// statement reads: the clock, randomness, sequences, the session, locks,
// other databases. The value is the reason given.
var volatileFuncs = map[string]string{
	"now":                   "reads the clock:",
	"clock_timestamp":       "reads the clock:",
	"statement_timestamp":   "reads the clock:",
	"transaction_timestamp": "reads the clock:",
	"timeofday":             "reads the clock:",
	"age":                   "may read the clock:",
	"random":                "random:",
	"random_normal":         "random:",
	"setseed":               "random:",
	"normal_rand":           "random:",
	"gen_random_uuid":       "random:",
	"gen_random_bytes":      "random:",
	"gen_salt":              "random:",
	"uuidv4":                "random:",
	"uuidv7":                "random:",
	"nextval":               "uses a sequence:",
	"currval":               "uses a sequence:",
	"lastval":               "uses a sequence:",
	"setval":                "uses a sequence:",
	"set_config":            "changes the session:",
	"current_setting":       "depends on the session:",
	"current_database":      "depends on the session:",
	"current_schema":        "depends on the session:",
	"current_schemas":       "depends on the session:",
	"current_user":          "depends on the session:",
	"current_role":          "depends on the session:",
	"session_user":          "depends on the session:",
	"current_query":         "depends on the session:",
	"getpgusername":         "depends on the session:",
	"inet_client_addr":      "depends on the session:",
	"inet_client_port":      "depends on the session:",
	"inet_server_addr":      "depends on the session:",
	"inet_server_port":      "depends on the session:",
	"row_security_active":   "depends on the session:",
	"to_regclass":           "reads the catalog:",
	"to_regtype":            "reads the catalog:",
	"to_regproc":            "reads the catalog:",
	"to_regprocedure":       "reads the catalog:",
	"to_regnamespace":       "reads the catalog:",
	"to_regrole":            "reads the catalog:",
	"obj_description":       "reads the catalog:",
	"col_description":       "reads the catalog:",
	"format_type":           "reads the catalog:",
	"query_to_xml":          "runs SQL text:",
	"query_to_xmlschema":    "runs SQL text:",
	"cursor_to_xml":         "runs SQL text:",
	"version":               "depends on the server:",
}

// volatilePrefixes cover families of built-ins: every pg_* function (locks,
// backends, sleeps, statistics, sizes, WAL, notify, catalog lookups),
// transaction ids, large objects, dblink, uuid-ossp generators, privilege
// checks and the *_to_xml family.
var volatilePrefixes = []struct{ prefix, why string }{
	{"pg_", "server or session state:"},
	{"txid_", "transaction state:"},
	{"xid", "transaction state:"},
	{"lo_", "large objects:"},
	{"dblink", "another database:"},
	{"uuid_generate_", "random:"},
	{"pgp_", "random:"},
	{"has_", "depends on the session's privileges:"},
	{"table_to_xml", "runs SQL text:"},
	{"schema_to_xml", "runs SQL text:"},
	{"database_to_xml", "runs SQL text:"},
	{"query_to_xml", "runs SQL text:"},
}

// volatile returns why a built-in named base cannot be cached, or "". User
// functions are not judged here: callers check them against the catalog.
func volatile(base string) string {
	if why, ok := volatileFuncs[base]; ok {
		return why
	}
	for _, p := range volatilePrefixes {
		if strings.HasPrefix(base, p.prefix) {
			return p.why
		}
	}
	return ""
}
