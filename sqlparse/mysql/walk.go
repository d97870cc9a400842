package mysql

import (
	"strings"

	"github.com/pingcap/tidb/pkg/parser/ast"

	"github.com/yokedcache/yoked/sqlparse"
)

// role of a table reference the walk met before reaching it.
type role uint8

const (
	roleRead   role = iota
	roleWrite       // the target of a write
	roleIgnore      // not a table (an alias in a DELETE list, a temporary table being created)
)

// walker accumulates what it finds across every statement of a text.
type walker struct {
	o        *Options
	kind     sqlparse.Kind
	seen     bool
	reads    []sqlparse.Table
	writes   []sqlparse.Table
	all      bool
	session  bool
	reason   string
	funcs    []string
	ctes     []string // CTE names in scope
	marks    []int    // len(ctes) when each enclosing statement was entered
	roles    map[*ast.TableName]role
	ddl      bool // table names outside queries are changed by the statement
	selDepth int
	endsTx   bool     // a statement may commit or end the transaction (see sqlparse.Statement.EndsTx)
	settings []string // server settings assigned by SET statements
	notSet   bool     // a statement other than a SET of server settings was seen
}

func (w *walker) raise(k sqlparse.Kind) {
	if k == sqlparse.KindSession || k == sqlparse.KindTx {
		w.session = true
	}
	if !w.seen || k.Stronger(w.kind) {
		w.kind, w.seen = k, true
	}
}

func (w *walker) noCache(reason string) {
	if w.reason == "" {
		w.reason = reason
	}
}

func (w *walker) unknown() {
	w.raise(sqlparse.KindUnknown)
	w.all = true
}

func (w *walker) setRole(n *ast.TableName, r role) {
	if n == nil {
		return
	}
	if w.roles == nil {
		w.roles = map[*ast.TableName]role{}
	}
	w.roles[n] = r
}

// stmt classifies one top-level statement and walks it.
func (w *walker) stmt(s ast.StmtNode) {
	if _, ok := s.(*ast.SetStmt); !ok {
		w.notSet = true
	}
	if endsTx(s, w.o.ImplicitCommits) {
		w.endsTx = true
	}
	switch n := s.(type) {
	case *ast.SelectStmt, *ast.SetOprStmt:
		w.raise(sqlparse.KindRead)
	case *ast.InsertStmt:
		w.raise(sqlparse.KindWrite)
		if n.Table != nil {
			w.targets(n.Table, nil)
		}
	case *ast.UpdateStmt:
		w.raise(sqlparse.KindWrite)
		if n.TableRefs != nil {
			w.targets(n.TableRefs, nil)
		}
	case *ast.DeleteStmt:
		w.raise(sqlparse.KindWrite)
		if n.TableRefs != nil {
			var names []*ast.TableName
			if n.IsMultiTable && n.Tables != nil {
				names = n.Tables.Tables
			}
			w.targets(n.TableRefs, names)
		}
	case *ast.LoadDataStmt:
		w.raise(sqlparse.KindWrite)
		w.setRole(n.Table, roleWrite)
	case *ast.ImportIntoStmt:
		w.raise(sqlparse.KindWrite)
		w.setRole(n.Table, roleWrite)
	case *ast.CreateTableStmt:
		if n.TemporaryKeyword != ast.TemporaryNone {
			// A temporary table shadows a real one of the same name for
			// this session only.
			w.raise(sqlparse.KindSession)
			w.setRole(n.Table, roleIgnore)
			break
		}
		w.raise(sqlparse.KindDDL)
		w.ddl = true
	case *ast.DropTableStmt:
		if n.TemporaryKeyword != ast.TemporaryNone {
			w.raise(sqlparse.KindSession)
		} else {
			w.raise(sqlparse.KindDDL)
		}
		w.ddl = true
	case *ast.TruncateTableStmt, *ast.RenameTableStmt, *ast.AlterTableStmt, *ast.CreateIndexStmt,
		*ast.DropIndexStmt, *ast.CreateViewStmt:
		w.raise(sqlparse.KindDDL)
		w.ddl = true
	case *ast.CreateDatabaseStmt, *ast.AlterDatabaseStmt:
		w.raise(sqlparse.KindDDL)
		return
	case *ast.DropDatabaseStmt:
		w.raise(sqlparse.KindDDL)
		w.all = true
		return
	case *ast.DoStmt:
		// DO runs expressions for their side effects only: a stored
		// function it calls may write any table.
		before := len(w.funcs)
		s.Accept(w)
		for _, f := range w.funcs[before:] {
			if w.o.Volatile(f, nil) == "" {
				w.unknown()
				return
			}
		}
		w.raise(sqlparse.KindOther)
		return
	case *ast.SetStmt:
		w.raise(sqlparse.KindSession)
		w.set(n)
	case *ast.UseStmt, *ast.LockTablesStmt, *ast.UnlockTablesStmt, *ast.PrepareStmt, *ast.DeallocateStmt,
		*ast.SetRoleStmt, *ast.SetDefaultRoleStmt, *ast.SetPwdStmt:
		w.raise(sqlparse.KindSession)
		return
	case *ast.BeginStmt, *ast.CommitStmt, *ast.RollbackStmt, *ast.SavepointStmt, *ast.ReleaseSavepointStmt:
		w.raise(sqlparse.KindTx)
		return
	case *ast.ExplainStmt:
		w.raise(sqlparse.KindOther)
		if n.Analyze && n.Stmt != nil {
			w.stmt(n.Stmt) // EXPLAIN ANALYZE runs the statement
		}
		return
	case *ast.ShowStmt, *ast.AnalyzeTableStmt, *ast.FlushStmt, *ast.KillStmt, *ast.GrantStmt,
		*ast.RevokeStmt, *ast.HelpStmt:
		w.raise(sqlparse.KindOther)
		return
	case ast.DDLNode:
		// Sequences, placement policies, …: what they change is not named.
		w.unknown()
		return
	default:
		// CALL, EXECUTE, and anything else: its writes cannot be named.
		w.unknown()
		return
	}
	s.Accept(w)
	w.ddl = false
}

// endsTx reports a statement that commits (or may commit, or roll back)
// the current transaction, or starts a new one. With implicit (MySQL and
// MariaDB, not SQLite) DDL, LOCK/UNLOCK TABLES, SET autocommit, account
// management, FLUSH and ANALYZE commit implicitly.
func endsTx(s ast.StmtNode, implicit bool) bool {
	switch n := s.(type) {
	case *ast.BeginStmt, *ast.CommitStmt:
		return true
	case *ast.RollbackStmt:
		return n.SavepointName == ""
	case *ast.SelectStmt, *ast.SetOprStmt, *ast.InsertStmt, *ast.UpdateStmt, *ast.DeleteStmt, *ast.DoStmt,
		*ast.SavepointStmt, *ast.ReleaseSavepointStmt, *ast.ShowStmt, *ast.ExplainStmt, *ast.UseStmt,
		*ast.PrepareStmt, *ast.DeallocateStmt, *ast.SetRoleStmt, *ast.KillStmt, *ast.HelpStmt:
		return false
	case *ast.CreateTableStmt:
		return implicit && n.TemporaryKeyword == ast.TemporaryNone
	case *ast.DropTableStmt:
		return implicit && n.TemporaryKeyword == ast.TemporaryNone
	case *ast.SetStmt:
		for _, v := range n.Variables {
			if strings.EqualFold(v.Name, "autocommit") {
				return implicit // SET autocommit = 1 commits
			}
		}
		return false
	case ast.DDLNode, *ast.LockTablesStmt, *ast.UnlockTablesStmt, *ast.AnalyzeTableStmt, *ast.FlushStmt,
		*ast.GrantStmt, *ast.RevokeStmt, *ast.SetPwdStmt, *ast.SetDefaultRoleStmt, *ast.LoadDataStmt:
		return implicit
	}
	// CALL, EXECUTE and everything else: a procedure may commit.
	return true
}

// set records the server settings a SET assigns; a user variable or a
// form that is not a plain assignment makes the text not a settings list.
func (w *walker) set(n *ast.SetStmt) {
	for _, v := range n.Variables {
		switch {
		case v.Name == ast.SetNames:
			w.settings = append(w.settings, "names")
		case v.Name == ast.SetCharset:
			w.settings = append(w.settings, "charset")
		case v.IsSystem && v.Name != "":
			w.settings = append(w.settings, strings.ToLower(v.Name))
		default:
			w.notSet = true
		}
	}
}

// targets marks the tables a write changes among those of refs. When names
// is set (the table list of a multi-table DELETE) only the tables they name
// or alias are targets and the list entries themselves are not tables;
// a name that resolves to nothing makes every table of refs a target.
func (w *walker) targets(refs *ast.TableRefsClause, names []*ast.TableName) {
	var top []*ast.TableName
	alias := map[string]*ast.TableName{}
	var collect func(n ast.ResultSetNode)
	collect = func(n ast.ResultSetNode) {
		switch n := n.(type) {
		case *ast.Join:
			if n.Left != nil {
				collect(n.Left)
			}
			if n.Right != nil {
				collect(n.Right)
			}
		case *ast.TableSource:
			if tn, ok := n.Source.(*ast.TableName); ok {
				top = append(top, tn)
				key := tn.Name.L
				if n.AsName.L != "" {
					key = n.AsName.L
				}
				alias[key] = tn
			} else {
				collect(n.Source)
			}
		case *ast.TableName:
			top = append(top, n)
			alias[n.Name.L] = n
		}
	}
	if refs.TableRefs != nil {
		collect(refs.TableRefs)
	}
	if names == nil {
		for _, tn := range top {
			w.setRole(tn, roleWrite)
		}
		return
	}
	for _, nm := range names {
		w.setRole(nm, roleIgnore)
		tn, ok := alias[nm.Name.L]
		if !ok || nm.Schema.L != "" && tn.Schema.L != nm.Schema.L {
			for _, tn := range top {
				w.setRole(tn, roleWrite)
			}
			return
		}
		w.setRole(tn, roleWrite)
	}
}

// Enter implements ast.Visitor.
func (w *walker) Enter(in ast.Node) (ast.Node, bool) {
	switch n := in.(type) {
	case *ast.WithClause:
		w.with(n)
		return in, true
	case *ast.SelectStmt:
		w.marks = append(w.marks, len(w.ctes))
		w.selDepth++
		if n.LockInfo != nil && n.LockInfo.LockType != ast.SelectLockNone {
			w.noCache("locking read")
		}
		if n.SelectStmtOpts != nil && n.SelectStmtOpts.CalcFoundRows {
			// The server counts the rows for a later FOUND_ROWS(); a cached
			// answer would leave the count of an earlier statement.
			w.noCache("SQL_CALC_FOUND_ROWS sets FOUND_ROWS() for the session")
		}
		if n.SelectIntoOpt != nil {
			if n.SelectIntoOpt.Tp == ast.SelectIntoVars {
				w.raise(sqlparse.KindSession)
			} else {
				w.raise(sqlparse.KindOther)
			}
			w.noCache("SELECT … INTO")
		}
	case *ast.SetOprStmt:
		w.marks = append(w.marks, len(w.ctes))
		w.selDepth++
	case *ast.UpdateStmt, *ast.DeleteStmt:
		w.marks = append(w.marks, len(w.ctes))
	case *ast.TableName:
		w.table(n)
	case *ast.FuncCallExpr:
		w.call(n.FnName.L, n.Args)
	case *ast.AggregateFuncExpr:
		w.funcs = append(w.funcs, strings.ToLower(n.F))
	case *ast.WindowFuncExpr:
		w.call(strings.ToLower(n.Name), n.Args)
	case *ast.VariableExpr:
		if n.Value != nil {
			w.raise(sqlparse.KindSession) // @x := …
		}
		at := "@"
		if n.IsSystem {
			at = "@@"
		}
		w.noCache("uses a variable: " + at + strings.ToLower(n.Name))
	}
	return in, false
}

// Leave implements ast.Visitor.
func (w *walker) Leave(in ast.Node) (ast.Node, bool) {
	switch in.(type) {
	case *ast.SelectStmt, *ast.SetOprStmt:
		w.selDepth--
		w.popScope()
	case *ast.UpdateStmt, *ast.DeleteStmt:
		w.popScope()
	}
	return in, true
}

func (w *walker) popScope() {
	if len(w.marks) > 0 {
		w.ctes = w.ctes[:w.marks[len(w.marks)-1]]
		w.marks = w.marks[:len(w.marks)-1]
	}
}

// with walks each CTE body with the names defined before it in scope (its
// own too when recursive), then leaves every name in scope for the rest of
// the enclosing statement.
func (w *walker) with(n *ast.WithClause) {
	for _, cte := range n.CTEs {
		if n.IsRecursive {
			w.ctes = append(w.ctes, cte.Name.L)
		}
		if cte.Query != nil {
			cte.Query.Accept(w)
		}
		if !n.IsRecursive {
			w.ctes = append(w.ctes, cte.Name.L)
		}
	}
}

func (w *walker) inCTE(name string) bool {
	for _, c := range w.ctes {
		if c == name {
			return true
		}
	}
	return false
}

func (w *walker) table(n *ast.TableName) {
	r := w.roles[n]
	if r == roleIgnore || n.Name.L == "" {
		return
	}
	if sqlparse.SystemSchema(sqlparse.DialectMySQL, n.Schema.L) {
		// The server's own catalog changes with DDL yoked does not tag
		// (information_schema.tables after CREATE TABLE) and with state.
		w.noCache("reads a system catalog: " + n.Schema.L)
	}
	t, session := w.o.Table(n.Schema.L, n.Name.L)
	if session {
		w.raise(sqlparse.KindSession)
		w.noCache("uses a temporary table")
	}
	switch {
	case r == roleWrite || w.ddl && w.selDepth == 0:
		w.writes = append(w.writes, t)
	case n.Schema.L == "" && w.inCTE(n.Name.L):
	default:
		w.reads = append(w.reads, t)
	}
}

func (w *walker) call(name string, args []ast.ExprNode) {
	w.funcs = append(w.funcs, name)
	if r := w.o.Volatile(name, args); r != "" {
		w.noCache(r + " " + name)
	}
}

func (w *walker) finish(n int) sqlparse.Statement {
	if !w.seen {
		w.raise(sqlparse.KindOther)
		w.noCache("empty statement")
	}
	st := sqlparse.Statement{
		Kind:      w.kind,
		Parsed:    true,
		Reads:     sqlparse.SortTables(w.reads),
		Writes:    sqlparse.SortTables(w.writes),
		AllTables: w.all,
		Session:   w.session,
		Functions: sqlparse.SortNames(w.funcs),
		EndsTx:    w.endsTx,
	}
	if !w.notSet {
		st.Settings = sqlparse.SortNames(w.settings)
	}
	switch {
	case w.kind != sqlparse.KindRead:
		st.Reason = w.kind.Reason()
	case w.all || len(st.Writes) > 0:
		st.Reason = sqlparse.KindWrite.Reason()
	case n > 1:
		st.Reason = "multiple statements"
	default:
		st.Reason = w.reason
	}
	st.Cacheable = st.Reason == ""
	return st
}
