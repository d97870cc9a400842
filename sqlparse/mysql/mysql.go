package mysql

import (
	"sync"

	"github.com/pingcap/tidb/pkg/parser"
	"github.com/pingcap/tidb/pkg/parser/ast"
	pmysql "github.com/pingcap/tidb/pkg/parser/mysql"
	_ "github.com/pingcap/tidb/pkg/parser/test_driver" // literal values in the tree

	"github.com/yokedcache/yoked/sqlparse"
)

// Options adapt the walk to a dialect that shares MySQL's grammar.
type Options struct {
	// ANSIQuotes makes "…" an identifier rather than a string.
	ANSIQuotes bool
	// NoBackslashEscapes makes a backslash an ordinary character in strings.
	NoBackslashEscapes bool
	// Volatile returns why a call of the built-in name (lower case) makes a
	// read uncacheable, or "". Nil means the MySQL list.
	Volatile func(name string, args []ast.ExprNode) string
	// ImplicitCommits: DDL, LOCK TABLES, SET autocommit and the like commit
	// the current transaction (MySQL and MariaDB; New sets it).
	ImplicitCommits bool
	// Table normalises a table name (schema and name as written, lower case).
	// session reports a table private to the session (a temporary schema):
	// reading or writing it taints the session. Nil keeps the name as it is.
	Table func(schema, name string) (t sqlparse.Table, session bool)
}

// Parser is the TiDB-based Parser. It is safe for concurrent use.
type Parser struct {
	o    Options
	pool sync.Pool
}

var _ sqlparse.Parser = (*Parser)(nil)

// New returns the MySQL/MariaDB Parser.
func New() sqlparse.Parser { return NewWithOptions(Options{ImplicitCommits: true}) }

// NewWithOptions returns a Parser for a dialect of MySQL's grammar.
func NewWithOptions(o Options) *Parser {
	if o.Volatile == nil {
		o.Volatile = volatile
	}
	if o.Table == nil {
		o.Table = func(schema, name string) (sqlparse.Table, bool) {
			return sqlparse.Table{Schema: schema, Name: name}, false
		}
	}
	p := &Parser{o: o}
	p.pool.New = func() any {
		tp := parser.New()
		var mode pmysql.SQLMode
		if o.ANSIQuotes {
			mode |= pmysql.ModeANSIQuotes
		}
		if o.NoBackslashEscapes {
			mode |= pmysql.ModeNoBackslashEscapes
		}
		tp.SetSQLMode(mode)
		return tp
	}
	return p
}

// Parse summarises sql. It never panics: text the grammar rejects, or a
// panic inside the parser or the walk, is answered by sqlparse.Scan.
func (p *Parser) Parse(sql string) (st sqlparse.Statement) {
	defer func() {
		if recover() != nil {
			st = sqlparse.Scan(sql)
		}
	}()
	tp := p.pool.Get().(*parser.Parser)
	stmts, _, err := tp.Parse(sql, "", "")
	if err != nil {
		p.pool.Put(tp)
		return sqlparse.Scan(sql)
	}
	// The AST shares memory the parser reuses on its next Parse: summarise
	// before the parser goes back to the pool. After a panic it is not
	// returned at all: its state is unknown.
	st = Summarize(stmts, p.o)
	p.pool.Put(tp)
	return st
}

// Summarize walks parsed statements into one Statement.
func Summarize(stmts []ast.StmtNode, o Options) sqlparse.Statement {
	w := walker{o: &o}
	for _, s := range stmts {
		w.stmt(s)
	}
	st := w.finish(len(stmts))
	st.Pins = pins(stmts, &o)
	return st
}
