package main

import (
	"bufio"
	"bytes"
	"database/sql"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	_ "github.com/go-sql-driver/mysql"
	_ "github.com/lib/pq"
)

// suite is one base driver's package tests.
type suite struct {
	name   string
	module string // module path, as in yoked's go.mod
	pkg    string // package directory inside the module
	// file and calls are the base's own registrations to rename: the file
	// (in pkg) and the exact text of each call's start.
	file  string
	calls []string
	// inject is the package clause and registration of the added test file;
	// %s is replaced by nothing, the file imports yoked as "yoked".
	inject string
	// unwrapped counts the Raw callbacks given driver.Unwrap.
	unwrapped int
	// skip is go test -skip: tests that would dial addresses outside the
	// loopback range (this machine may reach no other), read before
	// adding a suite or moving to a new version.
	skip string
	env  func(pg, my string) []string
}

var suites = []suite{
	{
		name: "lib/pq", module: "github.com/lib/pq", pkg: ".",
		file: "conn.go", calls: []string{`sql.Register("postgres",`},
		// TestOpen and TestConnectMulti dial 255.255.255.255 and resolve
		// made-up host names.
		skip: `^(TestOpen|TestConnectMulti)$`,
		inject: `package pq

func init() {
	sql.Register("postgres", yoked.Wrap(&Driver{}, yoked.WithDialect("postgres")))
}
`,
		env: func(pg, _ string) []string {
			return []string{"PGHOST=127.0.0.1", "PGPORT=5432", "PGUSER=postgres", "PGDATABASE=" + pg, "PGSSLMODE=disable"}
		},
	},
	{
		name: "pgx stdlib", module: "github.com/jackc/pgx/v5", pkg: "stdlib",
		file: "sql.go", calls: []string{`sql.Register("pgx",`, `sql.Register("pgx/v5",`},
		inject: `package stdlib

func init() {
	sql.Register("pgx", yoked.Wrap(pgxDriver, yoked.WithDialect("postgres")))
	sql.Register("pgx/v5", yoked.Wrap(pgxDriver, yoked.WithDialect("postgres")))
}
`,
		env: func(pg, _ string) []string {
			return []string{"PGX_TEST_DATABASE=postgres://postgres@127.0.0.1:5432/" + pg + "?sslmode=disable"}
		},
	},
	{
		name: "go-sql-driver/mysql", module: "github.com/go-sql-driver/mysql", pkg: ".",
		file: "driver.go", calls: []string{`sql.Register(driverName,`},
		skip: `^TestConnectorReturnsTimeout$`, // dials 1.1.1.1
		inject: `package mysql

func init() {
	sql.Register("mysql", yoked.Wrap(&MySQLDriver{}, yoked.WithDialect("mysql")))
}
`,
		env: func(_, my string) []string {
			return []string{"MYSQL_TEST_USER=root", "MYSQL_TEST_ADDR=127.0.0.1:3306", "MYSQL_TEST_DBNAME=" + my}
		},
	},
	{
		name: "go-sqlite3", module: "github.com/mattn/go-sqlite3", pkg: ".",
		file: "sqlite3.go", calls: []string{`sql.Register(driverName,`},
		inject: `package sqlite3

func init() {
	sql.Register("sqlite3", yoked.Wrap(&SQLiteDriver{}, yoked.WithDialect("sqlite")))
}
`,
		env: func(_, _ string) []string { return nil },
	},
}

func main() {
	work := flag.String("work", filepath.Join(os.TempDir(), "yoked-peers"), "work directory (kept between runs, so builds are cached)")
	only := flag.String("run", "", "only the suites whose name contains this")
	timeout := flag.Duration("timeout", 10*time.Minute, "go test -timeout of each run")
	flag.Parse()
	if err := run(*work, *only, *timeout); err != nil {
		fmt.Fprintln(os.Stderr, "peers:", err)
		os.Exit(1)
	}
}

func run(work, only string, timeout time.Duration) error {
	root, err := goOut("", "list", "-m", "-f", "{{.Dir}}")
	if err != nil {
		return err
	}
	db := fmt.Sprintf("yoked_peers_%d", os.Getpid())
	dropPG, err := createDB("postgres", "postgres://postgres@127.0.0.1:5432/test?sslmode=disable", db, `CREATE DATABASE `+db, `DROP DATABASE IF EXISTS `+db+` WITH (FORCE)`)
	if err != nil {
		return fmt.Errorf("PostgreSQL on 127.0.0.1:5432 (as make test needs it): %w", err)
	}
	defer dropPG()
	dropMy, err := createDB("mysql", "root@tcp(127.0.0.1:3306)/test", db, `CREATE DATABASE `+db, `DROP DATABASE IF EXISTS `+db)
	if err != nil {
		return fmt.Errorf("MariaDB on 127.0.0.1:3306 (as make test needs it): %w", err)
	}
	defer dropMy()

	var failed []string
	fmt.Printf("%-22s %-24s %-24s %s\n", "suite", "raw pass/fail/skip", "yoked pass/fail/skip", "yoked-only failures")
	for i := range suites {
		s := &suites[i]
		if only != "" && !strings.Contains(s.name, only) {
			continue
		}
		rep, err := s.compare(work, root, s.env(db, db), timeout)
		if err != nil {
			fmt.Printf("%-22s error: %v\n", s.name, err)
			failed = append(failed, s.name)
			continue
		}
		fmt.Printf("%-22s %-24s %-24s %d\n", s.name, rep.raw.counts(), rep.yoked.counts(), len(rep.yokedOnly))
		for _, t := range rep.yokedOnly {
			fmt.Printf("    %s\n%s", t, indent(rep.yoked.output[t]))
		}
		if raw := rep.raw.failedTop(); len(raw) > 0 {
			fmt.Printf("    failing raw too (top-level): %s\n", strings.Join(raw, " "))
		}
		if s.unwrapped > 0 {
			fmt.Printf("    (%d sql.Conn.Raw callbacks that assert the base connection's concrete type were given driver.Unwrap(conn))\n", s.unwrapped)
		}
		if len(rep.yokedOnly) > 0 {
			failed = append(failed, s.name)
		}
	}
	if len(failed) > 0 {
		return fmt.Errorf("yoked-only failures or errors in: %s (docs/drivers.md explains the known ones)", strings.Join(failed, ", "))
	}
	return nil
}

// createDB creates a database of its own on a server, and returns its drop.
func createDB(driverName, dsn, name, create, drop string) (func(), error) {
	db, err := sql.Open(driverName, dsn)
	if err != nil {
		return nil, err
	}
	if _, err := db.Exec(create); err != nil {
		db.Close()
		return nil, err
	}
	return func() {
		if _, err := db.Exec(drop); err != nil {
			fmt.Fprintf(os.Stderr, "peers: dropping database %s: %v\n", name, err)
		}
		db.Close()
	}, nil
}

type comparison struct {
	raw, yoked *results
	yokedOnly  []string
}

func (s *suite) compare(work, root string, env []string, timeout time.Duration) (*comparison, error) {
	src, err := goOut(root, "list", "-m", "-f", "{{.Dir}}", s.module)
	if err != nil {
		return nil, err
	}
	base := filepath.Join(work, strings.NewReplacer("/", "_", " ", "_").Replace(s.name))
	rawDir, yokedDir := filepath.Join(base, "raw"), filepath.Join(base, "yoked")
	for _, d := range []string{rawDir, yokedDir} {
		if err := os.RemoveAll(d); err != nil {
			return nil, err
		}
		if err := copyTree(src, d); err != nil {
			return nil, err
		}
	}
	if err := s.pointAtYoked(filepath.Join(yokedDir, s.pkg), yokedDir, root); err != nil {
		return nil, err
	}
	c := &comparison{}
	if c.raw, err = goTest(filepath.Join(rawDir, s.pkg), s.skip, env, timeout); err != nil {
		return nil, fmt.Errorf("raw: %w", err)
	}
	if c.yoked, err = goTest(filepath.Join(yokedDir, s.pkg), s.skip, env, timeout); err != nil {
		return nil, fmt.Errorf("through yoked: %w", err)
	}
	for t, a := range c.yoked.action {
		if a == "fail" && c.raw.action[t] == "pass" {
			c.yokedOnly = append(c.yokedOnly, t)
		}
	}
	sort.Strings(c.yokedOnly)
	return c, nil
}

// pointAtYoked edits the yoked copy: the base registers under another name,
// an added test file registers yoked under the original one, and go.mod
// requires this checkout of yoked.
func (s *suite) pointAtYoked(pkgDir, modDir, root string) error {
	reg := filepath.Join(pkgDir, s.file)
	b, err := os.ReadFile(reg)
	if err != nil {
		return err
	}
	for _, call := range s.calls {
		if !bytes.Contains(b, []byte(call)) {
			return fmt.Errorf("%s no longer contains %q: update internal/peers", reg, call)
		}
		renamed := strings.Replace(call, "sql.Register(", `sql.Register("yoked-peers-base-"+`, 1)
		b = bytes.Replace(b, []byte(call), []byte(renamed), 1)
	}
	if err := os.WriteFile(reg, b, 0o644); err != nil {
		return err
	}
	pkgClause, rest, _ := strings.Cut(s.inject, "\n")
	inject := pkgClause + "\n\nimport (\n\t\"database/sql\"\n\n\tyoked \"github.com/yokedcache/yoked/driver\"\n)\n" + rest
	if err := os.WriteFile(filepath.Join(pkgDir, "zz_yoked_peers_test.go"), []byte(inject), 0o644); err != nil {
		return err
	}
	if s.unwrapped, err = unwrapRawCallbacks(pkgDir); err != nil {
		return err
	}
	for _, args := range [][]string{
		{"mod", "edit", "-require=github.com/yokedcache/yoked@v0.0.0", "-replace=github.com/yokedcache/yoked=" + root},
		{"mod", "tidy"},
	} {
		if _, err := goOut(modDir, args...); err != nil {
			return err
		}
	}
	return nil
}

var rawCallback = regexp.MustCompile(`\.Raw\(func\((\w+) (any|interface\{\})\) error \{`)

// unwrapRawCallbacks makes the package's Raw callbacks that assert a
// concrete type (".(*") within their first ten lines start with driver.Unwrap of
// their argument; callbacks asserting interfaces get yoked's connection. It
// returns how many were changed.
func unwrapRawCallbacks(pkgDir string) (int, error) {
	files, err := filepath.Glob(filepath.Join(pkgDir, "*_test.go"))
	if err != nil {
		return 0, err
	}
	n := 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return 0, err
		}
		var out bytes.Buffer
		last := 0
		for _, m := range rawCallback.FindAllSubmatchIndex(b, -1) {
			body := b[m[1]:min(len(b), m[1]+800)]
			if lines := bytes.SplitN(body, []byte("\n"), 11); !bytes.Contains(bytes.Join(lines[:min(len(lines), 10)], nil), []byte(".(*")) {
				continue
			}
			arg := b[m[2]:m[3]]
			out.Write(b[last:m[1]])
			fmt.Fprintf(&out, "\n%s = yokedpeers.Unwrap(%s)", arg, arg)
			last = m[1]
			n++
		}
		if last == 0 {
			continue
		}
		out.Write(b[last:])
		b = bytes.Replace(out.Bytes(), []byte("\nimport (\n"), []byte("\nimport (\n\tyokedpeers \"github.com/yokedcache/yoked/driver\"\n"), 1)
		if err := os.WriteFile(f, b, 0o644); err != nil {
			return 0, err
		}
	}
	return n, nil
}

// results are one go test run's outcome per test.
type results struct {
	action map[string]string // test -> pass, fail, skip
	output map[string]string
}

// failedTop returns the failed top-level tests.
func (r *results) failedTop() []string {
	var out []string
	for t, a := range r.action {
		if a == "fail" && !strings.Contains(t, "/") {
			out = append(out, t)
		}
	}
	sort.Strings(out)
	return out
}

func (r *results) counts() string {
	var p, f, s int
	for _, a := range r.action {
		switch a {
		case "pass":
			p++
		case "fail":
			f++
		case "skip":
			s++
		}
	}
	return fmt.Sprintf("%d/%d/%d", p, f, s)
}

// goTest runs the package's tests, one at a time, and collects each test's
// result (subtests included). A build failure is an error. go vet is off:
// the suites are theirs, and newer vet checks flag some of their files.
func goTest(dir, skip string, env []string, timeout time.Duration) (*results, error) {
	args := []string{"test", "-json", "-count=1", "-p=1", "-vet=off", "-timeout=" + timeout.String()}
	if skip != "" {
		args = append(args, "-skip", skip)
	}
	cmd := exec.Command("go", append(args, ".")...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	r := &results{action: map[string]string{}, output: map[string]string{}}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<26)
	for sc.Scan() {
		var ev struct{ Action, Test, Output string }
		if json.Unmarshal(sc.Bytes(), &ev) != nil || ev.Test == "" {
			continue
		}
		switch ev.Action {
		case "pass", "fail", "skip":
			r.action[ev.Test] = ev.Action
		case "output":
			if len(r.output[ev.Test]) < 4000 {
				r.output[ev.Test] += ev.Output
			}
		}
	}
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		return nil, err
	}
	if len(r.action) == 0 {
		return nil, fmt.Errorf("no test ran in %s: %s%s", dir, stderr.String(), lastLines(out, 20))
	}
	return r, nil
}

func lastLines(b []byte, n int) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func indent(s string) string {
	var b strings.Builder
	for _, l := range strings.Split(strings.TrimRight(s, "\n"), "\n") {
		if strings.TrimSpace(l) == "" || strings.HasPrefix(strings.TrimSpace(l), "=== ") {
			continue
		}
		b.WriteString("        " + strings.TrimSpace(l) + "\n")
	}
	return b.String()
}

func goOut(dir string, args ...string) (string, error) {
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("go %s: %v: %s", strings.Join(args, " "), err, stderr.String())
	}
	return strings.TrimSpace(string(out)), nil
}

// copyTree copies a module directory (read-only in the module cache) into
// dst, writable.
func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, b, 0o644)
	})
}
