package main

import (
	"bufio"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/yokedcache/yoked/catalog"
	yoked "github.com/yokedcache/yoked/driver"
	"github.com/yokedcache/yoked/sqlparse"
	"github.com/yokedcache/yoked/sqlparse/dialect"
	"github.com/yokedcache/yoked/tagstore"
)

// explanation is explain's output for one statement. Its JSON form is a
// stable interface documented in docs/cli.md: add fields, never rename or
// remove them.
type explanation struct {
	SQL     string `json:"sql"`
	Dialect string `json:"dialect"`
	// Kind is unknown, read, write, ddl, tx, session or other.
	Kind string `json:"kind"`
	// Parsed is false when the dialect's parser rejected the text; the
	// rest then comes from a conservative scan.
	Parsed bool     `json:"parsed"`
	Reads  []string `json:"reads"`
	Writes []string `json:"writes"`
	// Cacheable says whether yoked may serve this statement from the cache
	// (outside transactions, on an untainted connection); Reason says why not.
	Cacheable bool   `json:"cacheable"`
	Reason    string `json:"reason,omitempty"`
	// ReadTags are the tags a cached result of this statement carries.
	ReadTags []string `json:"read_tags"`
	// Invalidates are the tags a successful execution invalidates ("*": the
	// whole namespace); empty for statements that write nothing.
	Invalidates []string `json:"invalidates"`
	// TaintsSession is true for statements after which yoked stops caching
	// reads of the connection that ran them (SET of a setting that changes
	// results, USE, PRAGMA, a hand-typed BEGIN, XA, CALL, ...).
	TaintsSession bool `json:"taints_session"`
	// TaintsIfChanged is true for SET of settings the connection's identity
	// is built from (SET NAMES, search_path, sql_mode, ...): they taint only
	// when they change the identity.
	TaintsIfChanged bool     `json:"taints_if_changed,omitempty"`
	Functions       []string `json:"functions"`
	// RowTags are the row tags the statement carries (a read) or
	// invalidates with the set tag of its table (a write) instead of the
	// table tag, when the pinned columns are the table's whole primary key
	// and the schema allows row tags (see docs/invalidation.md); $n stands
	// for the n-th argument. Empty when the statement is not pinned.
	RowTags []string `json:"row_tags"`
}

// explain turns a parsed statement into what the driver will do with it.
// It follows the driver's planning rules: tags are driver.TableTag of each
// table, named as the catalog resolves it with unqualified names in schema
// (catalog.ResolveIn); unknown statements and writes the parser cannot place
// invalidate everything.
func explain(sql, dialectName, schema string, st sqlparse.Statement) explanation {
	resolve := func(t sqlparse.Table) string { return catalog.ResolveIn(dialectName, schema, t) }
	x := explanation{
		SQL: sql, Dialect: dialectName, Kind: st.Kind.String(), Parsed: st.Parsed,
		Reads: tableNames(st.Reads), Writes: tableNames(st.Writes),
		Cacheable: st.Cacheable, Reason: st.Reason,
		ReadTags: []string{}, Invalidates: []string{},
		Functions: append([]string{}, st.Functions...),
	}
	x.TaintsSession, x.TaintsIfChanged = yoked.TaintsSession(dialectName, st)
	if st.Kind == sqlparse.KindRead {
		x.ReadTags = tags(st.Reads, resolve)
		for _, t := range st.Reads {
			x.ReadTags = append(x.ReadTags, yoked.SetTag(resolve(t)))
		}
	}
	x.RowTags = []string{}
	for _, p := range st.Pins {
		if p.Op == sqlparse.PinUpdate && assignsPinned(p) {
			continue
		}
		p.Table = sqlparse.Table{Name: resolve(p.Table)}
		x.RowTags = append(x.RowTags, yoked.RowTagTemplates(p)...)
	}
	writeAll := st.AllTables || st.Kind == sqlparse.KindUnknown
	switch {
	case writeAll:
		x.Invalidates = []string{tagstore.AllTag}
	case len(st.Writes) > 0:
		x.Invalidates = tags(st.Writes, resolve)
	}
	if !x.Cacheable && x.Reason == "" {
		x.Reason = "not a cacheable read (" + x.Kind + ")"
	}
	return x
}

// defaultSchema is where explain puts unqualified names without --schema.
func defaultSchema(dialect string) string {
	return map[string]string{sqlparse.DialectPostgres: "public", sqlparse.DialectMySQL: "<database>"}[dialect]
}

func tableNames(ts []sqlparse.Table) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = t.String()
	}
	return out
}

func tags(ts []sqlparse.Table, resolve func(sqlparse.Table) string) []string {
	out := []string{}
	seen := map[string]bool{}
	for _, t := range ts {
		if tag := yoked.TableTag(resolve(t)); !seen[tag] {
			seen[tag] = true
			out = append(out, tag)
		}
	}
	return out
}

func newExplainCmd(e *env) *cobra.Command {
	var dialectName, schema string
	var lines bool
	cmd := &cobra.Command{
		Use:   `explain [--dialect sqlite|postgres|mysql] ["SQL" | < file]`,
		Short: "Show how yoked sees a SQL statement: kind, tables, tags, cacheable",
		Long: `explain parses SQL with the dialect's parser, as the driver does, and shows
the statement kind, the tables it reads and writes, the tags a cached result
gets, the tags a successful execution invalidates, and whether it may be
cached (and why not).

Tags name tables as the driver's schema catalog does: schema.table on
PostgreSQL, database.table on MySQL/MariaDB, the bare name on SQLite. A
connection resolves unqualified names through its search_path or current
database; explain, which reaches no database, puts them in --schema
(default: public on PostgreSQL; on MySQL the name <database> stands for
the connection's database).

The SQL comes from the arguments (joined by spaces) or, without arguments,
from stdin. With --lines each non-empty line is a separate statement.
Exit status 1 when a statement does not parse (the output still says what
yoked would do with it: invalidate more, never less).`,
		Example: `  yokedcache explain "SELECT * FROM users u JOIN orders o ON o.user_id = u.id"
  yokedcache explain --dialect mysql --format json "UPDATE users SET n = 1"
  yokedcache explain --lines < queries.sql`,
	}
	format := addFormat(cmd)
	cmd.Flags().StringVar(&dialectName, "dialect", "postgres", "SQL dialect: sqlite, postgres or mysql")
	cmd.Flags().BoolVar(&lines, "lines", false, "one statement per line")
	cmd.Flags().StringVar(&schema, "schema", "", "schema (PostgreSQL) or database (MySQL) of unqualified table names (default public; <database> on MySQL)")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if err := checkFormat(*format); err != nil {
			return err
		}
		d := sqlparse.NormalizeDialect(dialectName)
		if d == "" {
			return usagef("--dialect must be sqlite, postgres or mysql, not %q", dialectName)
		}
		parser, err := dialect.For(d)
		if err != nil {
			return err
		}
		if schema == "" {
			schema = defaultSchema(d)
		}
		var input string
		if len(args) > 0 {
			input = strings.Join(args, " ")
		} else {
			b, err := io.ReadAll(io.LimitReader(e.stdin, 16<<20))
			if err != nil {
				return fmt.Errorf("reading SQL from stdin: %w", err)
			}
			input = string(b)
		}
		var sqls []string
		if lines {
			sc := bufio.NewScanner(strings.NewReader(input))
			sc.Buffer(nil, 16<<20)
			for sc.Scan() {
				if l := strings.TrimSpace(sc.Text()); l != "" {
					sqls = append(sqls, l)
				}
			}
		} else if s := strings.TrimSpace(input); s != "" {
			sqls = []string{s}
		}
		if len(sqls) == 0 {
			return usagef("no SQL given: pass it as an argument or on stdin")
		}
		out := make([]explanation, len(sqls))
		bad := 0
		for i, s := range sqls {
			out[i] = explain(s, d, schema, parser.Parse(s))
			if !out[i].Parsed {
				bad++
			}
		}
		if *format == formatJSON {
			var v any = out
			if !lines {
				v = out[0]
			}
			if err := writeJSON(e.stdout, v); err != nil {
				return err
			}
		} else {
			for i := range out {
				if i > 0 {
					fmt.Fprintln(e.stdout)
				}
				out[i].print(e.stdout)
			}
		}
		if bad > 0 {
			return fmt.Errorf("%d of %d statement(s) did not parse as %s; yoked treats them conservatively (shown above)", bad, len(sqls), d)
		}
		return nil
	}
	return cmd
}

func (x *explanation) print(w io.Writer) {
	list := func(s []string) string {
		if len(s) == 0 {
			return "-"
		}
		return strings.Join(s, ", ")
	}
	fmt.Fprintf(w, "sql          %s\n", x.SQL)
	parsed := "yes"
	if !x.Parsed {
		parsed = "NO: the " + x.Dialect + " parser rejected it; the rest is a conservative guess"
	}
	fmt.Fprintf(w, "parsed       %s\n", parsed)
	fmt.Fprintf(w, "kind         %s\n", x.Kind)
	fmt.Fprintf(w, "reads        %s\n", list(x.Reads))
	fmt.Fprintf(w, "writes       %s\n", list(x.Writes))
	c := "yes"
	if !x.Cacheable {
		c = "no: " + x.Reason
	}
	fmt.Fprintf(w, "cacheable    %s\n", c)
	fmt.Fprintf(w, "read tags    %s\n", list(x.ReadTags))
	inv := list(x.Invalidates)
	if len(x.Invalidates) == 1 && x.Invalidates[0] == tagstore.AllTag {
		inv = "* (every entry of the namespace)"
	}
	fmt.Fprintf(w, "invalidates  %s\n", inv)
	if len(x.RowTags) > 0 {
		fmt.Fprintf(w, "row tags     %s (if these columns are the primary key)\n", list(x.RowTags))
	}
	switch {
	case x.TaintsSession:
		fmt.Fprintf(w, "session      later reads of this connection are never cached\n")
	case x.TaintsIfChanged:
		fmt.Fprintf(w, "session      later reads of this connection are never cached if it changed the setting\n")
	}
}

// assignsPinned reports whether an UPDATE sets one of its pinned columns
// (a key-changing update invalidates its whole table).
func assignsPinned(p sqlparse.Pin) bool {
	for _, a := range p.Assigns {
		for _, c := range p.Columns {
			if strings.EqualFold(a, c) {
				return true
			}
		}
	}
	return false
}
