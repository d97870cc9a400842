package catalog

import (
	"context"
	"fmt"
	"regexp"
	"strings"

	"github.com/yokedcache/yoked/sqlparse"
)

// MySQL/MariaDB catalog queries, over every database but the system ones
// (a statement may name a table of any database), each relation named
// database.name.
const (
	myUserDB = `NOT IN ('mysql', 'information_schema', 'performance_schema', 'sys')`

	myCurrentQuery = `SELECT COALESCE(DATABASE(), '')`

	// UNIQUE_CONSTRAINT_SCHEMA is the referenced table's database.
	myFKQuery = `SELECT UNIQUE_CONSTRAINT_SCHEMA, REFERENCED_TABLE_NAME, CONSTRAINT_SCHEMA, TABLE_NAME FROM information_schema.REFERENTIAL_CONSTRAINTS
WHERE CONSTRAINT_SCHEMA ` + myUserDB + ` AND (DELETE_RULE IN ('CASCADE', 'SET NULL', 'SET DEFAULT') OR UPDATE_RULE IN ('CASCADE', 'SET NULL', 'SET DEFAULT'))`

	// VIEW_TABLE_USAGE exists in MySQL 8.0.13+, not in MariaDB.
	myViewUsageQuery = `SELECT VIEW_SCHEMA, VIEW_NAME, TABLE_SCHEMA, TABLE_NAME FROM information_schema.VIEW_TABLE_USAGE WHERE VIEW_SCHEMA ` + myUserDB
	myViewDefQuery   = `SELECT TABLE_SCHEMA, TABLE_NAME, VIEW_DEFINITION FROM information_schema.VIEWS WHERE TABLE_SCHEMA ` + myUserDB

	myTriggerQuery = `SELECT EVENT_OBJECT_SCHEMA, EVENT_OBJECT_TABLE, ACTION_STATEMENT FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA ` + myUserDB

	// Stored functions: any of them may write (MySQL does not forbid it).
	myFuncQuery = `SELECT DISTINCT ROUTINE_NAME FROM information_schema.ROUTINES WHERE ROUTINE_TYPE = 'FUNCTION' AND ROUTINE_SCHEMA ` + myUserDB

	// MariaDB sequences, and columns whose default takes a sequence value.
	mySequenceQuery = `SELECT TABLE_SCHEMA, TABLE_NAME FROM information_schema.TABLES WHERE TABLE_TYPE = 'SEQUENCE' AND TABLE_SCHEMA ` + myUserDB
	// (defaults of the current database only: COLUMNS over every database
	// is heavy on a shared server).
	myDefaultQuery = `SELECT TABLE_SCHEMA, TABLE_NAME, COLUMN_DEFAULT FROM information_schema.COLUMNS
WHERE TABLE_SCHEMA = DATABASE() AND LOWER(COLUMN_DEFAULT) LIKE '%nextval(%'`

	// Primary keys of the current database, column by column in key
	// order, and the types and collations of their columns: two plain
	// queries (a join of two information_schema tables over every
	// database crashed MariaDB 10.11 building its temporary tables).
	myKeyQuery = `SELECT TABLE_SCHEMA, TABLE_NAME, COLUMN_NAME FROM information_schema.STATISTICS
WHERE TABLE_SCHEMA = DATABASE() AND INDEX_NAME = 'PRIMARY' ORDER BY TABLE_NAME, SEQ_IN_INDEX`
	myKeyColumnQuery = `SELECT TABLE_NAME, COLUMN_NAME, COLUMN_TYPE, COALESCE(COLLATION_NAME, '') FROM information_schema.COLUMNS
WHERE TABLE_SCHEMA = DATABASE() AND COLUMN_KEY = 'PRI'`
)

func mysqlFacts(ctx context.Context, r reader, parser sqlparse.Parser) (*facts, error) {
	// allFuncs stays false: built-in functions are not listed anywhere, and
	// calling a function that does not exist is an error in MySQL.
	f := newFacts()
	rows, err := r.rows(ctx, "current database", 1, myCurrentQuery)
	if err != nil {
		return nil, err
	}
	if len(rows) != 1 {
		return nil, fmt.Errorf("%w: reading the current database: %d rows", ErrUnexpected, len(rows))
	}
	f.res = &resolver{dialect: sqlparse.DialectMySQL, current: strings.ToLower(rows[0][0])}
	// Views, triggers and routines resolve names in their own database.
	in := func(db string) *resolver {
		return &resolver{dialect: sqlparse.DialectMySQL, current: strings.ToLower(db)}
	}
	if rows, err = r.rows(ctx, "functions", 1, myFuncQuery); err != nil {
		return nil, err
	}
	for _, r := range rows {
		f.funcs[strings.ToLower(r[0])] = funcVolatile
	}
	if rows, err = r.rows(ctx, "foreign keys", 4, myFKQuery); err != nil {
		return nil, err
	}
	for _, r := range rows {
		f.edges = append(f.edges, [2]string{r[0] + "." + r[1], r[2] + "." + r[3]})
	}
	// Definitions are parsed everywhere (functions, non-deterministic
	// calls); VIEW_TABLE_USAGE, where it exists, adds the tables the server
	// itself resolved.
	if rows, err = r.rows(ctx, "view definitions", 3, myViewDefQuery); err != nil {
		return nil, err
	}
	for _, r := range rows {
		viewFromDefinition(f, parser, in(r[0]), r[0]+"."+r[1], r[2])
	}
	if rows, err = r.rows(ctx, "views", 4, myViewUsageQuery); err == nil {
		for _, r := range rows {
			v := relName(r[0] + "." + r[1])
			f.views[v] = append(f.views[v], r[2]+"."+r[3])
		}
	}
	if rows, err = r.rows(ctx, "triggers", 3, myTriggerQuery); err != nil {
		return nil, err
	}
	for _, r := range rows {
		t := relName(r[0] + "." + r[1])
		f.triggers[t] = mergeBody(f.triggers[t], readBody(parser, r[2]).resolve(in(r[0]), nil))
		f.keyTriggers[t] = true // timing not read: it may be BEFORE
	}
	// NEXTVAL, SETVAL and NEXT VALUE FOR name the sequence in an argument.
	f.seqWriters = map[string]bool{"nextval": true, "setval": true}
	if rows, err = r.rows(ctx, "sequences", 2, mySequenceQuery); err != nil {
		return nil, err
	}
	for _, r := range rows {
		f.sequences = append(f.sequences, r[0]+"."+r[1])
	}
	if rows, err = r.rows(ctx, "column defaults", 3, myDefaultQuery); err != nil {
		return nil, err
	}
	for _, r := range rows {
		for _, m := range myNextval.FindAllStringSubmatch(r[2], -1) {
			seq := sqlparse.Table{Schema: m[1], Name: m[2]}
			f.edges = append(f.edges, [2]string{r[0] + "." + r[1], in(r[0]).resolve(seq)})
		}
	}
	if rows, err = r.rows(ctx, "primary keys", 3, myKeyQuery); err != nil {
		return nil, err
	}
	cols, err := r.rows(ctx, "primary key columns", 4, myKeyColumnQuery)
	if err != nil {
		return nil, err
	}
	typ := map[[2]string][2]string{}
	for _, c := range cols {
		typ[[2]string{c[0], c[1]}] = [2]string{strings.ToLower(c[2]), c[3]}
	}
	for _, r := range rows {
		tc := typ[[2]string{r[1], r[2]}]
		f.addKey(r[0]+"."+r[1], Column{Name: r[2], Type: tc[0], Collation: tc[1], Exact: myExact(tc[0])})
	}
	return f, nil
}

// myNextval finds the sequence in a default such as nextval(`db`.`seq`).
var myNextval = regexp.MustCompile("(?i)nextval\\(\\s*(?:`?([^`.()]+)`?\\.)?`?([^`.()\\s]+)`?\\s*\\)")

// myExact: equality of the type is byte equality of its text form. Only
// integers: character types compare under PAD SPACE or case-insensitive
// collations, binary(n) pads with zero bytes, decimals and floats have
// several spellings of one value.
func myExact(typ string) bool {
	base, _, _ := strings.Cut(typ, "(")
	switch strings.TrimSpace(base) {
	case "tinyint", "smallint", "mediumint", "int", "integer", "bigint":
		return true
	}
	return false
}

// viewFromDefinition records the relations a view's SELECT reads (names
// resolved by res, in the view's own database), or marks the view opaque
// when the dialect parser does not understand it.
func viewFromDefinition(f *facts, parser sqlparse.Parser, res *resolver, view, def string) {
	view = relName(view)
	st := parser.Parse(def)
	if !st.Parsed || st.Kind != sqlparse.KindRead {
		f.opaqueViews[view] = "definition of view " + view + " not understood"
		return
	}
	if !st.Cacheable {
		f.opaqueViews[view] = "view " + view + ": " + st.Reason
	}
	for _, t := range st.Reads {
		f.views[view] = append(f.views[view], res.resolve(t))
	}
	f.viewFuncs = append(f.viewFuncs, viewFunc{view, st.Functions})
}
