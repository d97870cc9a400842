package postgres

import (
	"strings"

	pg "github.com/pganalyze/pg_query_go/v6"

	"github.com/yokedcache/yoked/sqlparse"
)

// stmt classifies one top-level statement (or the statement inside EXPLAIN,
// COPY (…) or CREATE TABLE AS).
func (a *acc) stmt(n *pg.Node) {
	if _, ok := n.GetNode().(*pg.Node_VariableSetStmt); !ok && n.GetNode() != nil {
		a.notSet = true
	}
	switch s := n.GetNode().(type) {
	case nil:
		// An empty statement between semicolons.
	case *pg.Node_SelectStmt:
		a.raise(sqlparse.KindRead)
		a.selectStmt(s.SelectStmt)
	case *pg.Node_InsertStmt, *pg.Node_UpdateStmt, *pg.Node_DeleteStmt, *pg.Node_MergeStmt:
		a.walkNode(n)

	case *pg.Node_CopyStmt:
		a.copyStmt(s.CopyStmt)
	case *pg.Node_ExplainStmt:
		a.explain(s.ExplainStmt)

	case *pg.Node_TransactionStmt:
		switch s.TransactionStmt.GetKind() {
		case pg.TransactionStmtKind_TRANS_STMT_COMMIT_PREPARED:
			// Commits writes made by some earlier session: not known here.
			a.unknown(sqlparse.KindUnknown)
			a.endsTx = true
		case pg.TransactionStmtKind_TRANS_STMT_COMMIT, pg.TransactionStmtKind_TRANS_STMT_ROLLBACK,
			pg.TransactionStmtKind_TRANS_STMT_PREPARE, pg.TransactionStmtKind_TRANS_STMT_ROLLBACK_PREPARED:
			// COMMIT, END, ROLLBACK, ABORT, PREPARE TRANSACTION: the
			// statements after it run in a transaction of their own.
			a.raise(sqlparse.KindTx)
			a.endsTx = true
		default:
			// BEGIN/START inside a transaction only warn; SAVEPOINT,
			// RELEASE and ROLLBACK TO keep the transaction.
			a.raise(sqlparse.KindTx)
		}

	case *pg.Node_VariableSetStmt:
		a.raise(sqlparse.KindSession)
		a.set(s.VariableSetStmt)
	case *pg.Node_DiscardStmt:
		a.raise(sqlparse.KindSession)
		if s.DiscardStmt.GetTarget() == pg.DiscardMode_DISCARD_ALL {
			a.resets = true
		}

	case *pg.Node_ListenStmt, *pg.Node_UnlistenStmt,
		*pg.Node_PrepareStmt, *pg.Node_DeallocateStmt, *pg.Node_ConstraintsSetStmt, *pg.Node_LoadStmt,
		*pg.Node_DeclareCursorStmt, *pg.Node_ClosePortalStmt, *pg.Node_FetchStmt:
		a.raise(sqlparse.KindSession)
		if d, ok := s.(*pg.Node_DeclareCursorStmt); ok {
			// The cursor's query runs as FETCH goes: its writes count now.
			a.walkNode(d.DeclareCursorStmt.GetQuery())
		}
	case *pg.Node_LockStmt:
		a.raise(sqlparse.KindSession)
		a.walkList(s.LockStmt.GetRelations())
	case *pg.Node_VariableShowStmt, *pg.Node_VacuumStmt, *pg.Node_ClusterStmt, *pg.Node_ReindexStmt,
		*pg.Node_CheckPointStmt, *pg.Node_NotifyStmt, *pg.Node_AlterSystemStmt:
		a.raise(sqlparse.KindOther)

	case *pg.Node_CallStmt, *pg.Node_DoStmt, *pg.Node_ExecuteStmt:
		// Procedures and DO blocks may COMMIT and ROLLBACK.
		a.unknown(sqlparse.KindUnknown)
		a.endsTx = true
		a.walkNode(n)

	case *pg.Node_CreateStmt:
		a.createTable(s.CreateStmt)
	case *pg.Node_CreateTableAsStmt:
		c := s.CreateTableAsStmt
		a.into(c.GetInto())
		if c.GetObjtype() == pg.ObjectType_OBJECT_MATVIEW {
			a.raise(sqlparse.KindDDL)
		}
		a.stmt(c.GetQuery())
	case *pg.Node_ViewStmt:
		v := s.ViewStmt
		a.target(v.GetView())
		a.walkNode(v.GetQuery())
	case *pg.Node_RefreshMatViewStmt:
		a.raise(sqlparse.KindDDL)
		a.write(rel(s.RefreshMatViewStmt.GetRelation()))
	case *pg.Node_IndexStmt:
		a.raise(sqlparse.KindDDL)
		a.write(rel(s.IndexStmt.GetRelation()))
		a.walkNode(s.IndexStmt.GetWhereClause())
	case *pg.Node_CreateSeqStmt:
		a.target(s.CreateSeqStmt.GetSequence())
	case *pg.Node_AlterSeqStmt:
		a.raise(sqlparse.KindDDL)
		a.write(rel(s.AlterSeqStmt.GetSequence()))
	case *pg.Node_TruncateStmt:
		t := s.TruncateStmt
		a.raise(sqlparse.KindDDL)
		a.targets(t.GetRelations())
		if t.GetBehavior() == pg.DropBehavior_DROP_CASCADE {
			// Referencing tables are truncated too and are not named.
			a.all = true
		}
	case *pg.Node_AlterTableStmt:
		a.alterTable(s.AlterTableStmt)
	case *pg.Node_DropStmt:
		a.drop(s.DropStmt)
	case *pg.Node_RenameStmt:
		a.rename(s.RenameStmt)

	default:
		// Any other utility statement (functions, types, rules, triggers,
		// policies, grants, schemas, roles, extensions, ...) may change what
		// reads of unnamed tables return.
		// The relations they name are counted as written.
		a.unknown(sqlparse.KindDDL)
		prev := a.asWrite
		a.asWrite = true
		a.walkNode(n)
		a.asWrite = prev
	}
}

// set records the setting a SET, SET … TO DEFAULT, SET … FROM CURRENT or
// RESET assigns; SET TRANSACTION, SET SESSION CHARACTERISTICS and RESET ALL
// are not one named setting.
func (a *acc) set(v *pg.VariableSetStmt) {
	switch v.GetKind() {
	case pg.VariableSetKind_VAR_SET_VALUE, pg.VariableSetKind_VAR_SET_DEFAULT,
		pg.VariableSetKind_VAR_SET_CURRENT, pg.VariableSetKind_VAR_RESET:
		if v.GetName() != "" {
			a.sets = append(a.sets, strings.ToLower(v.GetName()))
			return
		}
	}
	a.notSet = true
}

func rel(rv *pg.RangeVar) sqlparse.Table {
	if rv == nil {
		return sqlparse.Table{}
	}
	return table(rv.GetSchemaname(), rv.GetRelname())
}

// target records a relation a statement creates: a temporary one changes
// only this session, any other one is DDL.
func (a *acc) target(rv *pg.RangeVar) {
	if rv == nil {
		a.unknown(sqlparse.KindDDL)
		return
	}
	if rv.GetRelpersistence() == "t" || rv.GetSchemaname() == "pg_temp" {
		a.raise(sqlparse.KindSession)
	} else {
		a.raise(sqlparse.KindDDL)
	}
	a.write(rel(rv))
}

// targets records every RangeVar of a list as written.
func (a *acc) targets(list []*pg.Node) {
	for _, n := range list {
		if rv, ok := n.GetNode().(*pg.Node_RangeVar); ok {
			a.write(rel(rv.RangeVar))
		} else {
			a.all = true
		}
	}
}

func (a *acc) into(ic *pg.IntoClause) {
	if ic == nil {
		a.unknown(sqlparse.KindDDL)
		return
	}
	a.target(ic.GetRel())
}

func (a *acc) createTable(c *pg.CreateStmt) {
	a.target(c.GetRelation())
	// A new child of an inherited or partitioned table shows in its parent.
	a.targets(c.GetInhRelations())
	prev := a.asWrite
	a.asWrite = false
	a.walkList(c.GetTableElts()) // LIKE sources and REFERENCES targets are read
	a.walkList(c.GetConstraints())
	a.asWrite = prev
}

func (a *acc) alterTable(s *pg.AlterTableStmt) {
	a.raise(sqlparse.KindDDL)
	a.write(rel(s.GetRelation()))
	if s.GetRelation() == nil {
		a.all = true
	}
	for _, c := range s.GetCmds() {
		if cmd := c.GetAlterTableCmd(); cmd != nil && cmd.GetBehavior() == pg.DropBehavior_DROP_CASCADE {
			a.all = true // dependent views and constraints go too
		}
	}
	// Partitions attached or detached, parents inherited: their rows move.
	prev := a.asWrite
	a.asWrite = true
	a.walkList(s.GetCmds())
	a.asWrite = prev
}

// relationTypes are the object types whose names are relations.
func relationType(t pg.ObjectType) bool {
	switch t {
	case pg.ObjectType_OBJECT_TABLE, pg.ObjectType_OBJECT_VIEW, pg.ObjectType_OBJECT_MATVIEW,
		pg.ObjectType_OBJECT_FOREIGN_TABLE, pg.ObjectType_OBJECT_SEQUENCE, pg.ObjectType_OBJECT_INDEX:
		return true
	}
	return false
}

func (a *acc) drop(s *pg.DropStmt) {
	a.raise(sqlparse.KindDDL)
	if !relationType(s.GetRemoveType()) || s.GetBehavior() == pg.DropBehavior_DROP_CASCADE {
		a.all = true
	}
	if !relationType(s.GetRemoveType()) {
		return
	}
	for _, o := range s.GetObjects() {
		l := o.GetList()
		if l == nil {
			a.all = true
			continue
		}
		t, ok := qualified(l.GetItems())
		if !ok {
			a.all = true
			continue
		}
		a.write(t)
	}
}

func (a *acc) rename(s *pg.RenameStmt) {
	a.raise(sqlparse.KindDDL)
	r := s.GetRelation()
	switch {
	case r == nil:
		// Schemas, functions, types, ...: what depends on them is unknown.
		a.all = true
	case relationType(s.GetRenameType()):
		a.write(rel(r))
		a.write(table(r.GetSchemaname(), s.GetNewname()))
	default:
		// Columns, constraints, triggers, rules, policies of one relation.
		a.write(rel(r))
	}
}

func (a *acc) copyStmt(c *pg.CopyStmt) {
	if c.GetIsFrom() {
		a.raise(sqlparse.KindWrite)
		a.write(rel(c.GetRelation()))
		a.walkNode(c.GetWhereClause())
		return
	}
	a.raise(sqlparse.KindRead)
	a.noCache("COPY TO is not a query result")
	if r := c.GetRelation(); r != nil {
		a.rangeVar(r)
	}
	if q := c.GetQuery(); q != nil {
		a.stmt(q)
	}
}

func (a *acc) explain(e *pg.ExplainStmt) {
	if !explainAnalyze(e.GetOptions()) {
		// The plan depends on statistics; nothing runs, but keep what it names.
		var sub acc
		sub.stmt(e.GetQuery())
		a.raise(sqlparse.KindOther)
		a.reads = append(a.reads, sub.reads...)
		a.funcs = append(a.funcs, sub.funcs...)
		return
	}
	// EXPLAIN ANALYZE runs the statement: it is that statement.
	a.raise(sqlparse.KindOther)
	a.stmt(e.GetQuery())
}

func explainAnalyze(opts []*pg.Node) bool {
	for _, o := range opts {
		d := o.GetDefElem()
		if d == nil || !strings.EqualFold(d.GetDefname(), "analyze") {
			continue
		}
		switch v := d.GetArg().GetNode().(type) {
		case nil:
			return true
		case *pg.Node_Boolean:
			return v.Boolean.GetBoolval()
		case *pg.Node_String_:
			switch strings.ToLower(v.String_.GetSval()) {
			case "false", "off", "no", "0":
				return false
			}
			return true
		case *pg.Node_Integer:
			return v.Integer.GetIval() != 0
		default:
			return true
		}
	}
	return false
}
