package doccheck

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"go/ast"
	"go/importer"
	"go/parser"
	"go/token"
	"go/types"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// block is one fenced code block of a Markdown file.
type block struct {
	file string
	line int // of the first line of code
	lang string
	code string
}

// languages are the info strings a block may have (ini, yaml and toml:
// server and tool configuration, shown as is).
var languages = map[string]bool{"go": true, "sh": true, "text": true, "json": true, "sql": true, "ini": true, "yaml": true, "toml": true}

// knownPackages are the package names Go fragments use without importing
// them, and their import paths.
var knownPackages = map[string]string{
	"sql":        "database/sql",
	"context":    "context",
	"fmt":        "fmt",
	"time":       "time",
	"log":        "log",
	"errors":     "errors",
	"yoked":      "github.com/yokedcache/yoked/driver",
	"driver":     "github.com/yokedcache/yoked/driver",
	"memory":     "github.com/yokedcache/yoked/tagstore/memory",
	"redisstore": "github.com/yokedcache/yoked/tagstore/redisstore",
	"tagstore":   "github.com/yokedcache/yoked/tagstore",
	"prom":       "github.com/yokedcache/yoked/metrics/prom",
	"otelyoked":  "github.com/yokedcache/yoked/otelyoked",
	"prometheus": "github.com/prometheus/client_golang/prometheus",
	"stdlib":     "github.com/jackc/pgx/v5/stdlib",
	"pgx":        "github.com/jackc/pgx/v5",
	"redis":      "github.com/redis/go-redis/v9",
	"gorm":       "gorm.io/gorm",
	"postgres":   "gorm.io/driver/postgres",
	"mysql":      "gorm.io/driver/mysql",
	"sqlite":     "gorm.io/driver/sqlite",
	"sqlx":       "github.com/jmoiron/sqlx",
	"entsql":     "entgo.io/ent/dialect/sql",
	"dialect":    "entgo.io/ent/dialect",
	"bun":        "github.com/uptrace/bun",
	"pgdialect":  "github.com/uptrace/bun/dialect/pgdialect",
}

// prelude declares what fragments assume exists.
const prelude = `package doc

import (
	"context"
	"database/sql"

	"github.com/jackc/pgx/v5"

	"github.com/yokedcache/yoked/driver"
)

var (
	ctx       context.Context
	dsn       string
	db        *sql.DB
	cache     *driver.Cache
	pgxConfig *pgx.ConnConfig
)

var _, _, _, _, _ = ctx, dsn, db, cache, pgxConfig
`

func TestCodeBlocks(t *testing.T) {
	root := moduleRoot(t)
	files, err := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	files = append([]string{filepath.Join(root, "README.md")}, files...)
	var goBlocks []block
	for _, f := range files {
		blocks, err := readBlocks(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range blocks {
			where := fmt.Sprintf("%s:%d", rel(root, b.file), b.line)
			switch {
			case b.lang == "":
				t.Errorf("%s: code block without a language; label it (%s)", where, strings.Join(sortedKeys(languages), ", "))
			case !languages[b.lang]:
				t.Errorf("%s: code block labelled %q; use one of %s", where, b.lang, strings.Join(sortedKeys(languages), ", "))
			case b.lang == "go":
				goBlocks = append(goBlocks, b)
			case b.lang == "json":
				if !json.Valid([]byte(b.code)) {
					t.Errorf("%s: JSON block does not parse", where)
				}
			case b.lang == "sh":
				cmd := exec.Command("bash", "-n")
				cmd.Stdin = strings.NewReader(b.code)
				if out, err := cmd.CombinedOutput(); err != nil {
					t.Errorf("%s: sh block: bash -n: %v: %s", where, err, out)
				}
			}
		}
	}
	if len(goBlocks) == 0 {
		t.Fatal("no Go blocks found: the test reads the wrong files")
	}
	checkGo(t, root, goBlocks)
}

// readBlocks returns the fenced blocks of a Markdown file (fences may be
// indented, inside lists).
func readBlocks(file string) ([]block, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var (
		blocks []block
		cur    *block
		indent string
		body   []string
	)
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		trimmed := strings.TrimLeft(line, " \t")
		if !strings.HasPrefix(trimmed, "```") {
			if cur != nil {
				body = append(body, strings.TrimPrefix(line, indent))
			}
			continue
		}
		if cur == nil {
			cur = &block{file: file, line: n + 1, lang: strings.TrimSpace(strings.TrimPrefix(trimmed, "```"))}
			indent = line[:len(line)-len(trimmed)]
			body = nil
			continue
		}
		cur.code = strings.Join(body, "\n") + "\n"
		blocks = append(blocks, *cur)
		cur = nil
	}
	if cur != nil {
		return nil, fmt.Errorf("%s:%d: code block never closed", file, cur.line-1)
	}
	return blocks, sc.Err()
}

// source turns a Go block into a file of package doc: a block that parses
// as a file is one; otherwise its imports stay at the top and the rest
// becomes the body of a function. Packages the code names without importing
// them are imported. It returns the source and the line of the block's first
// line in it.
func source(b block) (string, int, error) {
	fset := token.NewFileSet()
	if strings.HasPrefix(strings.TrimSpace(b.code), "package ") {
		return b.code, 1, nil
	}
	var imports, body []string
	lines := strings.Split(b.code, "\n")
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		switch {
		case strings.HasPrefix(l, "import ("):
			for ; i < len(lines); i++ {
				imports = append(imports, lines[i])
				body = append(body, "") // keeps the body's lines where they were
				if strings.TrimSpace(lines[i]) == ")" {
					break
				}
			}
		case strings.HasPrefix(l, "import "):
			imports = append(imports, l)
			body = append(body, "")
		default:
			body = append(body, l)
		}
	}
	head := "package doc\n" + strings.Join(imports, "\n") + "\n"
	asFile := head + strings.Join(body, "\n")
	f, err := parser.ParseFile(fset, "", asFile, parser.ParseComments)
	start := strings.Count(head, "\n") + 1
	if err != nil {
		head += "func _() {\n"
		start++
		asFile = head + strings.Join(body, "\n") + "\n}\n"
		if f, err = parser.ParseFile(fset, "", asFile, parser.ParseComments); err != nil {
			return "", 0, err
		}
	}
	// Import the known packages the code uses and does not import.
	declared := map[string]bool{}
	for _, im := range f.Imports {
		path, _ := strconv.Unquote(im.Path.Value)
		name := filepath.Base(path)
		if im.Name != nil {
			name = im.Name.Name
		}
		declared[name] = true
	}
	used := map[string]bool{}
	ast.Inspect(f, func(n ast.Node) bool {
		if sel, ok := n.(*ast.SelectorExpr); ok {
			if id, ok := sel.X.(*ast.Ident); ok {
				used[id.Name] = true
			}
		}
		return true
	})
	var add []string
	for name := range used {
		if path, ok := knownPackages[name]; ok && !declared[name] {
			add = append(add, fmt.Sprintf("import %s %q", name, path))
		}
	}
	sort.Strings(add)
	if len(add) > 0 {
		asFile = strings.Replace(asFile, "package doc\n", "package doc\n"+strings.Join(add, "\n")+"\n", 1)
		start += len(add)
	}
	return asFile, start, nil
}

// checkGo type-checks every Go block in a package of its own, beside the
// prelude, with export data that go list builds.
func checkGo(t *testing.T, root string, blocks []block) {
	type unit struct {
		b     block
		src   string
		start int
		file  *ast.File
	}
	fset := token.NewFileSet()
	preludeFile, err := parser.ParseFile(fset, "prelude.go", prelude, 0)
	if err != nil {
		t.Fatal(err)
	}
	paths := map[string]bool{}
	for _, im := range preludeFile.Imports {
		p, _ := strconv.Unquote(im.Path.Value)
		paths[p] = true
	}
	var units []unit
	for _, b := range blocks {
		where := fmt.Sprintf("%s:%d", rel(root, b.file), b.line)
		src, start, err := source(b)
		if err != nil {
			t.Errorf("%s: Go block does not parse: %v", where, err)
			continue
		}
		f, err := parser.ParseFile(fset, where, src, 0)
		if err != nil {
			t.Errorf("%s: Go block does not parse: %v", where, err)
			continue
		}
		for _, im := range f.Imports {
			p, _ := strconv.Unquote(im.Path.Value)
			paths[p] = true
		}
		units = append(units, unit{b, src, start, f})
	}
	exports := exportData(t, root, paths)
	imp := importer.ForCompiler(fset, "gc", func(path string) (io.ReadCloser, error) {
		file, ok := exports[path]
		if !ok {
			return nil, fmt.Errorf("no export data for %q (not a dependency of the module?)", path)
		}
		return os.Open(file)
	})
	for _, u := range units {
		where := fmt.Sprintf("%s:%d", rel(root, u.b.file), u.b.line)
		var errs []string
		conf := types.Config{Importer: imp, Error: func(err error) {
			te, ok := err.(types.Error)
			if ok && te.Soft {
				return // declared or imported and not used: fragments may
			}
			if ok {
				line := te.Fset.Position(te.Pos).Line
				if te.Fset.File(te.Pos) != nil && te.Fset.File(te.Pos).Name() == where {
					errs = append(errs, fmt.Sprintf("%s:%d: %s", rel(root, u.b.file), u.b.line+line-u.start, te.Msg))
					return
				}
			}
			errs = append(errs, err.Error())
		}}
		conf.Check("doc", fset, []*ast.File{preludeFile, u.file}, nil)
		for _, e := range errs {
			t.Errorf("Go block at %s does not compile: %s", where, e)
		}
		if len(errs) > 0 {
			t.Logf("as checked:\n%s", u.src)
		}
	}
}

// exportData returns the export data file of every package paths needs,
// built by go list -export.
func exportData(t *testing.T, root string, paths map[string]bool) map[string]string {
	args := []string{"list", "-export", "-deps", "-f", "{{if .Export}}{{.ImportPath}}={{.Export}}{{end}}"}
	for p := range paths {
		args = append(args, p)
	}
	cmd := exec.Command("go", args...)
	cmd.Dir = root
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list -export: %v: %s", err, stderr.String())
	}
	m := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if k, v, ok := strings.Cut(l, "="); ok {
			m[k] = v
		}
	}
	return m
}

func moduleRoot(t *testing.T) string {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}").Output()
	if err != nil {
		t.Fatalf("go list -m: %v", err)
	}
	return strings.TrimSpace(string(out))
}

func rel(root, file string) string {
	if r, err := filepath.Rel(root, file); err == nil {
		return r
	}
	return file
}

func sortedKeys(m map[string]bool) []string {
	var k []string
	for s := range m {
		k = append(k, s)
	}
	sort.Strings(k)
	return k
}
