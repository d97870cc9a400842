package sqlite

import (
	"strings"

	"github.com/pingcap/tidb/pkg/parser/ast"
	"github.com/pingcap/tidb/pkg/parser/test_driver"

	"github.com/yokedcache/yoked/sqlparse"
)

// volatileFuncs are SQLite built-ins whose result is not a function of the
// tables read.
var volatileFuncs = map[string]string{
	"random": "random:", "randomblob": "random:",
	"changes": "depends on the session:", "total_changes": "depends on the session:",
	"last_insert_rowid": "depends on the session:", "load_extension": "has side effects:",
	"current_timestamp": "reads the clock:", "current_date": "reads the clock:", "current_time": "reads the clock:",
}

// clockFuncs read the clock when called without arguments or with 'now'.
var clockFuncs = map[string]bool{
	"date": true, "time": true, "datetime": true, "julianday": true, "unixepoch": true,
	"strftime": true, "timediff": true,
}

func volatile(name string, args []ast.ExprNode) string {
	if r := volatileFuncs[name]; r != "" {
		return r
	}
	if !clockFuncs[name] {
		return ""
	}
	if len(args) == 0 || name == "strftime" && len(args) == 1 {
		return "reads the clock:"
	}
	for _, a := range args {
		switch a := a.(type) {
		case *test_driver.ParamMarkerExpr:
			return "reads the clock:" // the argument may be 'now'
		case *test_driver.ValueExpr:
			if s, ok := a.GetValue().(string); ok && strings.EqualFold(strings.TrimSpace(s), "now") {
				return "reads the clock:"
			}
		}
	}
	return ""
}

// table drops the main schema and reports the temp schema as the
// session's own.
func table(schema, name string) (sqlparse.Table, bool) {
	switch schema {
	case "main":
		schema = ""
	case "temp", "temporary":
		return sqlparse.Table{Schema: "temp", Name: name}, true
	}
	return sqlparse.Table{Schema: schema, Name: name}, false
}
