package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/yokedcache/yoked/internal/testenv"
	"github.com/yokedcache/yoked/sqlparse"
	"github.com/yokedcache/yoked/tagstore"
	"github.com/yokedcache/yoked/tagstore/redisstore"
)

var update = flag.Bool("update", false, "rewrite golden files")

type result struct {
	code           int
	stdout, stderr string
}

type opts struct {
	stdin string
	tty   bool
	env   map[string]string
}

func runCmd(t *testing.T, o opts, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	e := &env{
		stdin: strings.NewReader(o.stdin), stdout: &out, stderr: &errb,
		getenv:         func(k string) string { return o.env[k] },
		isTerminal:     func() bool { return o.tty },
		stderrTerminal: func() bool { return false },
	}
	code := runEnv(args, e)
	r := result{code, out.String(), errb.String()}
	if strings.Contains(r.stderr, "goroutine ") || strings.Contains(r.stderr, "panic") {
		t.Fatalf("%v: stack trace on stderr:\n%s", args, r.stderr)
	}
	return r
}

// oneLineErr checks that a failed command said one line on stderr.
func oneLineErr(t *testing.T, r result, want string) {
	t.Helper()
	if n := strings.Count(r.stderr, "\n"); n != 1 {
		t.Errorf("stderr has %d lines, want 1:\n%s", n, r.stderr)
	}
	if !strings.Contains(r.stderr, want) {
		t.Errorf("stderr %q does not mention %q", r.stderr, want)
	}
}

func TestUsageErrorsExit2(t *testing.T) {
	for _, args := range [][]string{
		{"--bogus"},
		{"nope"},
		{"demo", "--rows", "0"},
		{"demo", "--reads", "x"},
		{"demo", "extra"},
		{"demo", "--format", "xml"},
		{"explain", "--dialect", "oracle", "SELECT 1"},
		{"explain"},
		{"flush", "--force", "--redis-url", "redis://127.0.0.1:1"},
		{"flush", "--tags", "a", "--all", "--force"},
		{"flush", "--pattern", "[", "--force"},
		{"get"},
		{"delete"},
		{"list", "--prefix", "a", "--pattern", "b*"},
		{"stats", "--watch", "1ns"},
		{"bench", "--driver", "sqlite3"},
		{"bench", "--driver", "oracle", "--dsn", "x"},
	} {
		r := runCmd(t, opts{}, args...)
		if r.code != exitUsage {
			t.Errorf("%v: exit %d, want 2 (stderr %q)", args, r.code, r.stderr)
			continue
		}
		oneLineErr(t, r, "yokedcache: ")
	}
}

func TestHelpIsNotAnError(t *testing.T) {
	for _, verb := range []string{"demo", "flush", "stats", "list", "get", "delete", "ping", "explain", "bench"} {
		r := runCmd(t, opts{}, verb, "--help")
		if r.code != 0 || !strings.Contains(r.stdout, "--format") {
			t.Errorf("%s --help: exit %d, stdout %q", verb, r.code, r.stdout)
		}
	}
}

func TestStoreVerbsNeedSharedStore(t *testing.T) {
	for _, args := range [][]string{
		{"flush", "--all", "--force"}, {"flush", "--tags", "a", "--dry-run"},
		{"list"}, {"get", "k"}, {"delete", "k"}, {"stats"}, {"ping"},
	} {
		for _, env := range []map[string]string{nil, {"YOKED_STORE": "memory"}, {"YOKED_STORE": "memory://?max_bytes=10"}} {
			r := runCmd(t, opts{env: env}, args...)
			if r.code != exitUsage {
				t.Errorf("%v with %v: exit %d, want 2", args, env, r.code)
			}
			oneLineErr(t, r, "memory store")
		}
	}
}

// closedPort returns a loopback port nothing listens on.
func closedPort(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

func TestUnreachableRedisNamesTheAddress(t *testing.T) {
	addr := closedPort(t)
	for _, args := range [][]string{{"ping"}, {"stats"}, {"list"}, {"flush", "--all", "--force"}} {
		r := runCmd(t, opts{}, append(args, "--redis-url", "redis://"+addr, "--timeout", "200ms")...)
		if r.code != exitFailed {
			t.Errorf("%v: exit %d, want 1", args, r.code)
		}
		oneLineErr(t, r, "cannot reach Redis at "+addr)
	}
	// The environment variable is read the same way.
	r := runCmd(t, opts{env: map[string]string{"YOKED_STORE": "redis://" + addr}}, "ping", "--timeout", "200ms")
	if r.code != exitFailed {
		t.Errorf("ping via YOKED_STORE: exit %d", r.code)
	}
	oneLineErr(t, r, addr)
}

func TestFlushRefusesWithoutTerminal(t *testing.T) {
	// Refused before any connection: the address does not even need to answer.
	url := "redis://" + closedPort(t)
	for _, sel := range [][]string{{"--all"}, {"--tags", "table:users"}, {"--pattern", "user:*"}, {"--key", "k"}} {
		r := runCmd(t, opts{tty: false}, append([]string{"flush", "--redis-url", url}, sel...)...)
		if r.code != exitUsage {
			t.Errorf("flush %v without terminal: exit %d, want 2", sel, r.code)
		}
		oneLineErr(t, r, "refusing to flush without a terminal")
	}
}

func TestDemo(t *testing.T) {
	r := runCmd(t, opts{}, "demo", "--rows", "30", "--reads", "300", "--format", "json")
	if r.code != 0 {
		t.Fatalf("demo: exit %d: %s", r.code, r.stderr)
	}
	var rep demoReport
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("demo JSON: %v\n%s", err, r.stdout)
	}
	if rep.Hits == 0 || rep.Misses == 0 || rep.Invalidations == 0 {
		t.Errorf("demo saw hits=%d misses=%d invalidations=%d; want all > 0", rep.Hits, rep.Misses, rep.Invalidations)
	}
	if rep.ReadsChecked < 300 || rep.TxRolledBack < 1 || rep.ExecUpdates < 1 {
		t.Errorf("demo workload too small: %+v", rep)
	}
	var skipped uint64
	for _, n := range rep.Skips {
		skipped += n
	}
	if rep.Hits+rep.Misses+skipped != uint64(rep.Reads) || rep.ReadsChecked != rep.Reads || rep.RandomReads != 300 || rep.ReadsAfterWrites != rep.Reads-300 {
		t.Errorf("reads do not add up: hits %d + misses %d + skips %d vs reads %d (checked %d, random %d, after writes %d)",
			rep.Hits, rep.Misses, skipped, rep.Reads, rep.ReadsChecked, rep.RandomReads, rep.ReadsAfterWrites)
	}
	if rep.Invalidations != uint64(rep.ExecUpdates+rep.TxCommitted) {
		t.Errorf("invalidations %d, want one per committed write: %d UPDATEs + %d transactions", rep.Invalidations, rep.ExecUpdates, rep.TxCommitted)
	}
	var story []string
	for _, st := range rep.Story {
		story = append(story, st.Action+" "+st.Outcome+" "+fmt.Sprint(st.Balance))
		if st.Time <= 0 {
			t.Errorf("story step %+v has no time", st)
		}
	}
	if got, want := strings.Join(story, "; "), "read miss 1000; read hit 1000; write invalidated table:users 1250; read miss (fresh value) 1250; read hit 1250"; got != want {
		t.Errorf("story:\n got %s\nwant %s", got, want)
	}
	if rep.Skips["in_transaction"] == 0 {
		t.Errorf("reads inside transactions were not counted as skips: %v", rep.Skips)
	}
	if rep.HitP50 <= 0 || rep.RawP50 <= 0 {
		t.Errorf("latencies not measured: %v %v", rep.HitP50, rep.RawP50)
	}
	r = runCmd(t, opts{}, "demo", "--rows", "10", "--reads", "50")
	for _, want := range []string{"step by step", "2. read   hit", "3. write  invalidated table:users", "4. read   miss (fresh value)",
		"hits", "misses", "hit ratio", "invalidations", "skipped cache", "= reads", "raw go-sqlite3", "one run on this machine"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("demo table output lacks %q:\n%s", want, r.stdout)
		}
	}
}

// TestExplainGolden checks the mapping from a parser's Statement to
// explain's documented JSON: testdata/explain/<case>.stmt.json holds the
// Statement, <case>.golden.json the output.
func TestExplainGolden(t *testing.T) {
	inputs, err := filepath.Glob("testdata/explain/*.stmt.json")
	if err != nil || len(inputs) == 0 {
		t.Fatalf("no golden inputs: %v", err)
	}
	for _, in := range inputs {
		name := strings.TrimSuffix(filepath.Base(in), ".stmt.json")
		t.Run(name, func(t *testing.T) {
			b, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			var c struct {
				SQL       string             `json:"sql"`
				Dialect   string             `json:"dialect"`
				Statement sqlparse.Statement `json:"statement"`
			}
			if err := json.Unmarshal(b, &c); err != nil {
				t.Fatal(err)
			}
			var got bytes.Buffer
			if err := writeJSON(&got, explain(c.SQL, c.Dialect, defaultSchema(c.Dialect), c.Statement)); err != nil {
				t.Fatal(err)
			}
			golden := strings.TrimSuffix(in, ".stmt.json") + ".golden.json"
			if *update {
				if err := os.WriteFile(golden, got.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update)", err)
			}
			if got.String() != string(want) {
				t.Errorf("got\n%s\nwant\n%s", got.String(), want)
			}
		})
	}
}

// TestExplainThroughParsers runs explain end to end on each dialect's real
// parser, on statements whose reading no dialect may get wrong.
func TestExplainThroughParsers(t *testing.T) {
	for _, d := range []string{"sqlite", "postgres", "mysql"} {
		t.Run(d, func(t *testing.T) {
			r := runCmd(t, opts{stdin: "SELECT id, name FROM users WHERE id = 1\nUPDATE orders SET total = 0 WHERE id = 2\n"}, "explain", "--dialect", d, "--lines", "--format", "json")
			if r.code != 0 {
				t.Fatalf("exit %d: %s", r.code, r.stderr)
			}
			var xs []explanation
			if err := json.Unmarshal([]byte(r.stdout), &xs); err != nil || len(xs) != 2 {
				t.Fatalf("%v: %s", err, r.stdout)
			}
			// Unqualified names land in the default schema (database).
			s := map[string]string{"postgres": "public.", "mysql": "<database>."}[d]
			if x := xs[0]; x.Kind != "read" || !x.Cacheable || fmt.Sprint(x.ReadTags) != "[table:"+s+"users set:"+s+"users]" || len(x.Invalidates) != 0 ||
				fmt.Sprint(x.RowTags) != "[row:"+s+"users(id=1)]" {
				t.Errorf("SELECT: %+v", x)
			}
			if x := xs[1]; x.Kind != "write" || x.Cacheable || fmt.Sprint(x.Invalidates) != "[table:"+s+"orders]" ||
				fmt.Sprint(x.RowTags) != "[row:"+s+"orders(id=2)]" {
				t.Errorf("UPDATE: %+v", x)
			}
			r = runCmd(t, opts{}, "explain", "--dialect", d, "--format", "json", "SELEC nonsense FROM WHERE (")
			if r.code != exitFailed {
				t.Errorf("unparsable SQL: exit %d, want 1", r.code)
			}
			oneLineErr(t, r, "did not parse")
			var x explanation
			if err := json.Unmarshal([]byte(r.stdout), &x); err != nil {
				t.Fatal(err)
			}
			if x.Parsed || x.Cacheable || fmt.Sprint(x.Invalidates) != "["+tagstore.AllTag+"]" {
				t.Errorf("unparsable SQL must be uncacheable and invalidate everything: %+v", x)
			}
		})
	}
}

func TestStoreVerbsAgainstRedis(t *testing.T) {
	addr := testenv.Redis(t)
	url := "redis://" + addr
	ns := testenv.Name("yokedcache")
	s, err := redisstore.NewFromURL(url, redisstore.Options{Namespace: ns, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.Flush(context.Background())
		s.Close()
		// Every store (the command's too) pushed its counters at Close.
		if c, err := redisstore.NewFromURL(url, redisstore.Options{Namespace: ns, StatsInterval: -1}); err == nil {
			c.ResetSharedStats(context.Background())
			c.Close()
		}
	})
	ctx := context.Background()
	put := func(key, tag string) {
		st, err := s.Stamp(ctx, []string{tag})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Set(ctx, key, "v-"+key, 10, time.Minute, st); err != nil {
			t.Fatal(err)
		}
	}
	present := func(key, tag string) bool {
		_, hit, _, err := s.Lookup(ctx, key, []string{tag})
		if err != nil {
			t.Fatal(err)
		}
		return hit
	}
	put("user:1", "table:users")
	put("user:2", "table:users")
	put("order:9", "table:orders")
	put("bin\x00key", "table:orders")
	flags := []string{"--redis-url", url, "--namespace", ns}
	run := func(o opts, args ...string) result {
		return runCmd(t, o, append(args, flags...)...)
	}

	r := run(opts{}, "list", "--prefix", "user:", "--format", "json")
	var listed struct{ Keys []string }
	if err := json.Unmarshal([]byte(r.stdout), &listed); err != nil || r.code != 0 {
		t.Fatalf("list: %d %v %s %s", r.code, err, r.stdout, r.stderr)
	}
	if fmt.Sprint(sortedCopy(listed.Keys)) != "[user:1 user:2]" {
		t.Errorf("list --prefix user: = %v", listed.Keys)
	}
	r = run(opts{}, "list", "--limit", "1")
	if r.code != 0 || !strings.Contains(r.stdout, "more than 1") {
		t.Errorf("list --limit 1: %d %q", r.code, r.stdout)
	}
	r = run(opts{}, "list")
	if !strings.Contains(r.stdout, `"bin\x00key"`) {
		t.Errorf("binary key not quoted in list:\n%s", r.stdout)
	}
	if r := run(opts{}, "get", `"bin\x00key"`); r.code != 0 || !strings.Contains(r.stdout, "yoked entry v1") {
		t.Errorf("get quoted key: %d %q %q", r.code, r.stdout, r.stderr)
	}
	if r := run(opts{}, "get", "absent"); r.code != exitFailed {
		t.Errorf("get absent: exit %d", r.code)
	}

	// The entries' details, and validity as the store judges it.
	r = run(opts{}, "list", "--pattern", "user:[12]", "--format", "json")
	var detailed struct {
		Keys    []string
		Entries []entryInfo
	}
	if err := json.Unmarshal([]byte(r.stdout), &detailed); err != nil || len(detailed.Entries) != 2 {
		t.Fatalf("list entries: %v %s", err, r.stdout)
	}
	for _, en := range detailed.Entries {
		if !en.Found || !en.Valid || en.Bytes <= 0 || en.TTLms <= 0 || len(en.Tags) != 2 || en.Tags[1].Tag != "table:users" || en.Tags[1].Stored != en.Tags[1].Current {
			t.Errorf("list entry %+v", en)
		}
	}
	if r := run(opts{}, "list", "--long", "--prefix", "order:"); r.code != 0 || !strings.Contains(r.stdout, "valid ") || !strings.Contains(r.stdout, "order:9") {
		t.Errorf("list --long: %d %q", r.code, r.stdout)
	}
	getJSON := func(key string) entryInfo {
		t.Helper()
		r := run(opts{}, "get", key, "--format", "json")
		var en entryInfo
		if err := json.Unmarshal([]byte(r.stdout), &en); err != nil {
			t.Fatalf("get %s: %v %q %q", key, err, r.stdout, r.stderr)
		}
		return en
	}
	if en := getJSON("user:1"); !en.Found || !en.Valid || en.Format != "yoked entry v1" {
		t.Errorf("get user:1 = %+v", en)
	}

	// A workload in two other processes' stores shows in stats.
	for range 2 {
		app, err := redisstore.NewFromURL(url, redisstore.Options{Namespace: ns, Timeout: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		for range 3 {
			_, hit, _, err := app.Lookup(ctx, "user:1", []string{"table:users"})
			if err != nil || !hit {
				t.Fatalf("app lookup: %v %v", hit, err)
			}
		}
		if _, _, _, err := app.Lookup(ctx, "nothing", []string{"table:users"}); err != nil {
			t.Fatal(err)
		}
		app.Close() // pushes its counters
	}
	r = run(opts{}, "stats", "--format", "json")
	var st storeStats
	if err := json.Unmarshal([]byte(r.stdout), &st); err != nil || r.code != 0 {
		t.Fatalf("stats: %v %s", err, r.stderr)
	}
	if st.Entries != 4 || st.Bytes <= 0 || st.Tags < 3 || len(st.Unavailable) != 0 {
		t.Errorf("stats: %+v", st)
	}
	// s's own lookups (present) are pushed within a second, the apps' at Close.
	if st.Hits == nil || *st.Hits < 6 || st.Misses == nil || *st.Misses < 2 || st.HitRatio == nil || *st.HitRatio <= 0 || *st.HitRatio >= 1 {
		t.Errorf("stats counters after a workload: hits %v misses %v ratio %v", count(st.Hits), count(st.Misses), st.HitRatio)
	}
	if r := run(opts{}, "stats"); r.code != 0 || !strings.Contains(r.stdout, "hits") || strings.Contains(r.stdout, "unavailable") {
		t.Errorf("stats table: %d %q", r.code, r.stdout)
	}

	// Dry run lists and changes nothing.
	r = run(opts{}, "flush", "--pattern", "user:*", "--dry-run")
	if r.code != 0 || !strings.Contains(r.stdout, "key user:1") || !strings.Contains(r.stdout, "would flush") {
		t.Errorf("dry run: %d %q %q", r.code, r.stdout, r.stderr)
	}
	if !present("user:1", "table:users") {
		t.Fatal("dry run removed an entry")
	}
	// A terminal answer other than yes changes nothing.
	r = run(opts{tty: true, stdin: "n\n"}, "flush", "--tags", "table:users")
	if r.code != exitFailed || !present("user:1", "table:users") {
		t.Errorf("declined flush: exit %d, entry present %v", r.code, present("user:1", "table:users"))
	}
	r = run(opts{tty: true, stdin: "yes\n"}, "flush", "--tags", "table:users")
	if r.code != 0 || present("user:1", "table:users") || present("user:2", "table:users") {
		t.Errorf("confirmed flush --tags: exit %d %q", r.code, r.stderr)
	}
	if !present("order:9", "table:orders") {
		t.Error("flush --tags table:users removed an orders entry")
	}
	if en := getJSON("user:1"); !en.Found || en.Valid || !strings.Contains(en.Reason, "table:users") || en.Tags[1].Stored == en.Tags[1].Current {
		t.Errorf("get user:1 after flush --tags table:users = %+v; want stored but invalid", en)
	}
	if r := run(opts{}, "get", "user:1"); r.code != 0 || !strings.Contains(r.stdout, "valid   no") || !strings.Contains(r.stdout, "invalidated, now") {
		t.Errorf("get table after invalidation: %d %q", r.code, r.stdout)
	}

	if r := run(opts{}, "delete", "order:9", "nosuchkey"); r.code != 0 || present("order:9", "table:orders") ||
		!strings.Contains(r.stdout, "deleted 1 key(s)") || !strings.Contains(r.stdout, "not stored: nosuchkey") {
		t.Errorf("delete order:9 nosuchkey: %d %q %q", r.code, r.stdout, r.stderr)
	}
	if r := run(opts{}, "delete", "nosuchkey"); r.code != 0 || !strings.Contains(r.stdout, "deleted 0 key(s)") {
		t.Errorf("delete nosuchkey: %d %q", r.code, r.stdout)
	}
	r = run(opts{}, "delete", "order:9", "--format", "json")
	var del struct{ Deleted, Absent []string }
	if err := json.Unmarshal([]byte(r.stdout), &del); err != nil || len(del.Deleted) != 0 || fmt.Sprint(del.Absent) != "[order:9]" {
		t.Errorf("delete of a deleted key, JSON: %+v %v %q", del, err, r.stdout)
	}
	if r := run(opts{}, "flush", "--key", "nosuchkey", "--force"); r.code != 0 || !strings.Contains(r.stdout, ": 0 tag(s)/key(s)") {
		t.Errorf("flush --key nosuchkey: %d %q", r.code, r.stdout)
	}
	put("user:3", "table:users")
	if r := run(opts{}, "flush", "--pattern", "user:*", "--force"); r.code != 0 || present("user:3", "table:users") {
		t.Errorf("flush --pattern: %d %q", r.code, r.stderr)
	}
	put("user:4", "table:users")
	// The dry run and the flush count the same tags and keys.
	var dry, done flushReport
	r = run(opts{}, "flush", "--all", "--dry-run", "--format", "json")
	if err := json.Unmarshal([]byte(r.stdout), &dry); err != nil || r.code != 0 || dry.Touched == 0 || dry.Touched != len(dry.Tags)+len(dry.Keys) {
		t.Fatalf("flush --all --dry-run: %v %+v %q", err, dry, r.stderr)
	}
	r = run(opts{}, "flush", "--all", "--force", "--format", "json")
	if err := json.Unmarshal([]byte(r.stdout), &done); err != nil || r.code != 0 || present("user:4", "table:users") {
		t.Errorf("flush --all: %d %v %q", r.code, err, r.stderr)
	}
	if done.Touched != dry.Touched {
		t.Errorf("flush --all touched %d, the dry run before it listed %d (%v %v)", done.Touched, dry.Touched, dry.Tags, dry.Keys)
	}
	put("user:5", "table:users")
	if r := run(opts{}, "flush", "--all", "--confirm"); r.code != 0 || present("user:5", "table:users") || !strings.Contains(r.stdout, ": 2 tag(s)/key(s)") {
		t.Errorf("flush --all of one entry and one tag: %d %q %q", r.code, r.stdout, r.stderr)
	}
	r = run(opts{}, "list", "--format", "json")
	if err := json.Unmarshal([]byte(r.stdout), &listed); err != nil || len(listed.Keys) != 0 {
		t.Errorf("after flush --all, list = %v (%v)", listed.Keys, err)
	}
	if r := run(opts{}, "ping"); r.code != 0 || !strings.Contains(r.stdout, addr) {
		t.Errorf("ping: %d %q", r.code, r.stderr)
	}
}

func sortedCopy(s []string) []string {
	c := append([]string(nil), s...)
	for i := range c {
		for j := i + 1; j < len(c); j++ {
			if c[j] < c[i] {
				c[i], c[j] = c[j], c[i]
			}
		}
	}
	return c
}

func TestBenchSQLite(t *testing.T) {
	dsn := "file:" + filepath.Join(t.TempDir(), "bench.db") + "?_busy_timeout=5000&_journal_mode=WAL"
	r := runCmd(t, opts{}, "bench", "--driver", "sqlite3", "--dsn", dsn, "--n", "400", "--rows", "50", "--concurrency", "2", "--format", "json")
	if r.code != 0 {
		t.Fatalf("bench: exit %d: %s", r.code, r.stderr)
	}
	var rep benchReport
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("%v: %s", err, r.stdout)
	}
	if len(rep.Phases) != 2 || rep.Phases[0].Name != "raw" || rep.Phases[1].Name != "cached" {
		t.Fatalf("phases: %+v", rep.Phases)
	}
	for _, p := range rep.Phases {
		if p.Ops != 400 || p.Errors != 0 || p.P50 <= 0 || p.P99 < p.P50 {
			t.Errorf("%s phase: %+v", p.Name, p)
		}
	}
	if hr := rep.Phases[1].HitRatio; hr == nil || *hr <= 0 {
		t.Errorf("cached phase hit ratio %v, want > 0", hr)
	}
	if rep.SpeedUp <= 0 {
		t.Errorf("speed-up %v", rep.SpeedUp)
	}
}

// TestUnixSocketURL: --redis-url takes unix:// as its help says.
func TestUnixSocketURL(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "redis.sock")
	testenv.StartRedis(t, "--unixsocket", sock, "--unixsocketperm", "700")
	r := runCmd(t, opts{}, "ping", "--redis-url", "unix://"+sock)
	if r.code != 0 || !strings.Contains(r.stdout, sock) {
		t.Errorf("ping over unix://%s: %d %q %q", sock, r.code, r.stdout, r.stderr)
	}
	r = runCmd(t, opts{}, "ping", "--help")
	if !strings.Contains(r.stdout, "unix://") {
		t.Errorf("--redis-url help does not name unix://:\n%s", r.stdout)
	}
}
