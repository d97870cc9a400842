package sqlite

import "github.com/yokedcache/yoked/sqlparse"

// pinsFaithful reports whether the pins the MySQL grammar finds in the
// rewritten text hold for the SQLite statement s: not when rewrite dropped
// a meaning (an ON CONFLICT upsert cut, INSERT/UPDATE OR REPLACE that
// deletes conflicting rows) or numbered parameters (?NNN, :name), whose
// ordinals the plain ? of the rewrite loses.
func pinsFaithful(s []token) bool {
	if len(s) > 1 && (s[0].up == "INSERT" || s[0].up == "UPDATE") && s[1].up == "OR" {
		return false
	}
	for i, t := range s {
		if t.kind == tParam && t.text != "?" {
			return false
		}
		if t.up == "CONFLICT" && i > 0 && s[i-1].up == "ON" {
			return false
		}
	}
	return true
}

// dropUnfaithfulPins clears st.Pins unless pinsFaithful(s).
func dropUnfaithfulPins(st sqlparse.Statement, s []token) sqlparse.Statement {
	if !pinsFaithful(s) {
		st.Pins = nil
	}
	return st
}
