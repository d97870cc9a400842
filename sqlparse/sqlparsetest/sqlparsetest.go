// Package sqlparsetest runs the golden files of a sqlparse dialect. It is
// imported only by tests.
//
// A golden file (testdata/sqlparse/<dialect>/*.txt) holds many cases, each
//
//	-- name: what the case shows
//	SELECT … (one or more lines)
//	-- want:
//	{"kind":"read","parsed":true,…}
//
// followed by a blank line. The want line is the JSON of the expected
// sqlparse.Statement. Running the tests with -update rewrites every want line
// from what the parser returns now: review that diff by hand, it is the test.
// Statement.Pins are compared only in pins.txt and in cases whose want
// states them.
package sqlparsetest

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/yokedcache/yoked/sqlparse"
)

var update = flag.Bool("update", false, "rewrite the want lines of the golden files from the parser's output (review the diff by hand)")

// Case is one golden case.
type Case struct {
	Name string
	SQL  string
	Want string // JSON of the expected Statement
	File string
	Line int // line of "-- name:"
}

// Pos is "file:line" of the case.
func (c Case) Pos() string { return fmt.Sprintf("%s:%d", c.File, c.Line) }

// Files returns the golden files of dir, failing tb when there are none.
func Files(tb testing.TB, dir string) []string {
	tb.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.txt"))
	if err != nil || len(files) == 0 {
		tb.Fatalf("no golden files in %s (%v)", dir, err)
	}
	return files
}

// Read parses one golden file.
func Read(tb testing.TB, path string) []Case {
	tb.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	cases, err := parse(path, string(b))
	if err != nil {
		tb.Fatal(err)
	}
	return cases
}

func parse(path, text string) ([]Case, error) {
	const nameMark, wantMark = "-- name:", "-- want:"
	var (
		cases []Case
		cur   *Case
		sql   []string
		state int // 0 between cases, 1 in SQL, 2 expecting the want line
	)
	for i, line := range strings.Split(text, "\n") {
		ln := i + 1
		switch {
		case strings.HasPrefix(line, nameMark):
			if state != 0 {
				return nil, fmt.Errorf("%s:%d: new case before the previous one has a want line", path, ln)
			}
			cases = append(cases, Case{Name: strings.TrimSpace(line[len(nameMark):]), File: path, Line: ln})
			cur, sql, state = &cases[len(cases)-1], nil, 1
		case state == 1 && strings.TrimSpace(line) == wantMark:
			cur.SQL = strings.Join(sql, "\n")
			state = 2
		case state == 1:
			sql = append(sql, line)
		case state == 2:
			cur.Want = strings.TrimSpace(line)
			if cur.Want == "" {
				return nil, fmt.Errorf("%s:%d: case %q has an empty want line", path, ln, cur.Name)
			}
			state = 0
		case strings.TrimSpace(line) != "":
			return nil, fmt.Errorf("%s:%d: text outside a case: %q", path, ln, line)
		}
	}
	if state != 0 {
		return nil, fmt.Errorf("%s: case %q at line %d is not finished (missing -- want: or its line)", path, cur.Name, cur.Line)
	}
	return cases, nil
}

// All returns every case of every golden file in dir.
func All(tb testing.TB, dir string) []Case {
	tb.Helper()
	var all []Case
	for _, f := range Files(tb, dir) {
		all = append(all, Read(tb, f)...)
	}
	return all
}

// Run parses every case of the golden files in dir with p, one subtest per
// case named after its file and name, and compares the result with the want
// line field by field. With -update it rewrites the want lines instead.
func Run(t *testing.T, p sqlparse.Parser, dir string) {
	t.Helper()
	for _, file := range Files(t, dir) {
		cases := Read(t, file)
		if *update {
			rewrite(t, p, file, cases)
			continue
		}
		names := map[string]int{}
		for _, c := range cases {
			if prev, dup := names[c.Name]; dup {
				t.Errorf("%s: case name %q already used at line %d", c.Pos(), c.Name, prev)
			}
			names[c.Name] = c.Line
			t.Run(filepath.Base(file)+"/"+c.Name, func(t *testing.T) {
				var want sqlparse.Statement
				dec := json.NewDecoder(strings.NewReader(c.Want))
				dec.DisallowUnknownFields()
				if err := dec.Decode(&want); err != nil {
					t.Fatalf("%s: bad want JSON %q: %v", c.Pos(), c.Want, err)
				}
				got := p.Parse(c.SQL)
				if !pinCase(file, c.Want) {
					got.Pins = nil
				}
				if d := Diff(got, want); d != "" {
					t.Errorf("%s: %s\n%s\n%s", c.Pos(), c.Name, c.SQL, d)
				}
			})
		}
	}
}

// pinCase reports whether a case checks Statement.Pins: every case of a
// pins.txt file, and cases elsewhere whose want states pins. The other
// cases are about tables and kinds, and leave pins out.
func pinCase(file, want string) bool {
	return filepath.Base(file) == "pins.txt" || strings.Contains(want, `"pins"`)
}

func rewrite(t *testing.T, p sqlparse.Parser, file string, cases []Case) {
	var out bytes.Buffer
	for _, c := range cases {
		st := p.Parse(c.SQL)
		if !pinCase(file, c.Want) {
			st.Pins = nil
		}
		got, err := json.Marshal(st)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&out, "-- name: %s\n%s\n-- want:\n%s\n\n", c.Name, c.SQL, got)
	}
	if err := os.WriteFile(file, out.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// Diff lists the fields in which got differs from want, one per line, or
// returns "" when they are equal.
func Diff(got, want sqlparse.Statement) string {
	var b strings.Builder
	gv, wv := reflect.ValueOf(got), reflect.ValueOf(want)
	for i := range gv.NumField() {
		gf, wf := gv.Field(i), wv.Field(i)
		if gf.Kind() == reflect.Slice && gf.Len() == 0 && wf.Len() == 0 {
			continue // nil and empty both mean "none"
		}
		g, w := gf.Interface(), wf.Interface()
		if reflect.DeepEqual(g, w) {
			continue
		}
		name := gv.Type().Field(i).Tag.Get("json")
		name, _, _ = strings.Cut(name, ",")
		gj, _ := json.Marshal(g)
		wj, _ := json.Marshal(w)
		fmt.Fprintf(&b, "  %s: got %s, want %s\n", name, gj, wj)
	}
	return b.String()
}

// FuzzSeeds adds the SQL of every golden case in dir to f's corpus.
func FuzzSeeds(f *testing.F, dir string) {
	f.Helper()
	for _, c := range All(f, dir) {
		f.Add(c.SQL)
	}
}

// Check asserts what every dialect guarantees for any input sql: a cacheable
// statement is a parsed read that writes nothing, changes no session state
// and has no found write word (the write keywords a dialect-aware lexer,
// independent of the parser under test, saw outside strings and comments);
// a statement that is not cacheable says why; a write names its tables or
// sets AllTables.
func Check(tb testing.TB, sql string, st sqlparse.Statement, found []string) {
	tb.Helper()
	if st.Cacheable {
		if st.Kind != sqlparse.KindRead || st.AllTables || len(st.Writes) > 0 || st.Reason != "" || !st.Parsed || st.Session {
			tb.Fatalf("%q: cacheable but %+v", sql, st)
		}
		if len(found) > 0 {
			tb.Fatalf("%q: cacheable but contains %v", sql, found)
		}
	} else if st.Reason == "" {
		tb.Fatalf("%q: not cacheable without a reason", sql)
	}
	if st.Kind == sqlparse.KindWrite && len(st.Writes) == 0 && !st.AllTables {
		tb.Fatalf("%q: a write that names no table: %+v", sql, st)
	}
}
