// Command benchtable runs yoked's benchmark suite (internal/benchsuite and
// the store benchmarks of tagstore/memory and tagstore/redisstore) with `go test
// -bench` and prints one Markdown report: every measurement with its ratio to
// the raw driver and to the database/sql floor, and the targets of issues 6 and 11
// with the measured figure. It is what `make bench` runs; its job is the
// table, the measuring is the benchmarks'.
//
// Usage: go run ./internal/benchtable [-benchtime 1s] [-raw file]
package main

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"sort"
	"strings"
	"time"
)

// run is one `go test -bench` invocation.
type run struct {
	pkg, bench, benchtime string
}

func main() {
	benchtime := flag.String("benchtime", "1s", "go test -benchtime for the suite")
	rawOut := flag.String("raw", "", "also write go test's raw output to this file")
	flag.Parse()
	runs := []run{
		{"./internal/benchsuite", ".", *benchtime},
		{"./tagstore/redisstore", "^(BenchmarkLookupHit|BenchmarkBareGet|BenchmarkL1Hit|BenchmarkInvalidate|BenchmarkInvalidateFence)$", *benchtime},
		{"./tagstore/memory", "^(BenchmarkInvalidateTags)$", *benchtime},
	}
	var all bytes.Buffer
	for _, r := range runs {
		fmt.Fprintf(os.Stderr, "benchtable: go test -run ^$ -bench %s -benchtime %s %s\n", r.bench, r.benchtime, r.pkg)
		cmd := exec.Command("go", "test", "-run", "^$", "-bench", r.bench, "-benchtime", r.benchtime, "-count", "1", r.pkg)
		cmd.Stdout = io.MultiWriter(&all, os.Stderr)
		cmd.Stderr = os.Stderr
		if err := cmd.Run(); err != nil {
			fmt.Fprintf(os.Stderr, "benchtable: %s: %v\n", r.pkg, err)
			os.Exit(1)
		}
	}
	if *rawOut != "" {
		if err := os.WriteFile(*rawOut, all.Bytes(), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "benchtable:", err)
			os.Exit(1)
		}
	}
	res, err := parse(&all)
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchtable:", err)
		os.Exit(1)
	}
	fmt.Printf("Run %s, %s/%s, %d CPUs, %s, -benchtime %s.\n\n", time.Now().UTC().Format("2006-01-02 15:04 MST"), runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.Version(), *benchtime)
	report(os.Stdout, res)
}

// result is one benchmark line: ns/op, allocs/op and custom metrics.
type result struct {
	name    string
	ns      float64
	allocs  float64
	metrics map[string]float64
}

// parse reads go test -bench output. Names lose the -GOMAXPROCS suffix and
// keep the package's short name as a prefix when not from benchsuite.
func parse(r io.Reader) (map[string]result, error) {
	out := map[string]result{}
	pkg := ""
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		if p, ok := strings.CutPrefix(line, "pkg: "); ok {
			pkg = p[strings.LastIndex(p, "/")+1:]
			continue
		}
		f := strings.Fields(line)
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") {
			continue
		}
		name := strings.TrimPrefix(f[0], "Benchmark")
		if i := strings.LastIndex(name, "-"); i > 0 {
			name = name[:i]
		}
		if pkg != "benchsuite" {
			name = strings.TrimSuffix(pkg, "store") + "." + name // redisstore → redis.
		}
		res := result{name: name, metrics: map[string]float64{}}
		for i := 2; i+1 < len(f); i += 2 {
			var v float64
			if _, err := fmt.Sscan(f[i], &v); err != nil {
				return nil, fmt.Errorf("line %q: %v", line, err)
			}
			switch f[i+1] {
			case "ns/op":
				res.ns = v
			case "allocs/op":
				res.allocs = v
			default:
				res.metrics[f[i+1]] = v
			}
		}
		out[name] = res
	}
	return out, sc.Err()
}

var (
	ops       = []string{"PKHit", "JoinHit", "Miss", "Write", "Commit3"}
	databases = []string{"sqlite", "postgres"}
	variants  = []string{"raw", "memory", "redis", "redis+l1"}
)

func ratio(a, b float64) string {
	if a == 0 || b == 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f×", a/b)
}

func dur(ns float64) string {
	switch {
	case ns == 0:
		return "–"
	case ns < 10_000:
		return fmt.Sprintf("%.0f ns", ns)
	case ns < 10_000_000:
		return fmt.Sprintf("%.1f µs", ns/1e3)
	}
	return fmt.Sprintf("%.1f ms", ns/1e6)
}

func report(w io.Writer, res map[string]result) {
	fmt.Fprintln(w, "## Per operation (time per op; ratios are to the raw driver on the same database, and to the database/sql floor)")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| operation | database | variant | time/op | allocs/op | × raw | × floor | hits/op |")
	fmt.Fprintln(w, "|---|---|---|---:|---:|---:|---:|---:|")
	for _, op := range ops {
		floor, hasFloor := res[op+"/floor"]
		if hasFloor {
			fmt.Fprintf(w, "| %s | – | floor (no-op driver) | %s | %.0f | – | 1.00× | – |\n", op, dur(floor.ns), floor.allocs)
		}
		for _, db := range databases {
			raw := res[op+"/"+db+"/raw"]
			for _, v := range variants {
				r, ok := res[op+"/"+db+"/"+v]
				if !ok {
					continue
				}
				hits := "–"
				if h, ok := r.metrics["hits/op"]; ok {
					hits = fmt.Sprintf("%.2f", h)
				}
				fmt.Fprintf(w, "| %s | %s | %s | %s | %.0f | %s | %s | %s |\n", op, db, v, dur(r.ns), r.allocs, ratio(r.ns, raw.ns), ratio(r.ns, floor.ns), hits)
			}
		}
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "## Stores")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| benchmark | time/op | allocs/op |")
	fmt.Fprintln(w, "|---|---:|---:|")
	for _, name := range []string{"redis.BareGet", "redis.LookupHit", "redis.L1Hit", "redis.Invalidate/entries=1", "redis.Invalidate/entries=1000000",
		"memory.InvalidateTags/entries=1", "memory.InvalidateTags/entries=1000000"} {
		if r, ok := res[name]; ok {
			fmt.Fprintf(w, "| %s | %s | %.0f |\n", name, dur(r.ns), r.allocs)
		}
	}
	fmt.Fprintln(w)
	if r, ok := res["RedisHit/interleaved"]; ok {
		m := r.metrics
		fmt.Fprintln(w, "## Redis hit without L1 (PostgreSQL PK read; medians, the steps interleaved in one run)")
		fmt.Fprintln(w)
		fmt.Fprintln(w, "| bare GET | store Lookup | QueryRow hit | raw PostgreSQL | Lookup ÷ GET | QueryRow ÷ GET | QueryRow ÷ raw |")
		fmt.Fprintln(w, "|---:|---:|---:|---:|---:|---:|---:|")
		fmt.Fprintf(w, "| %s | %s | %s | %s | %.2f× | %.2f× | %.2f× |\n", dur(m["get-µs"]*1e3), dur(m["lookup-µs"]*1e3), dur(m["queryrow-µs"]*1e3),
			dur(m["raw-µs"]*1e3), m["lookup/get"], m["queryrow/get"], m["queryrow/raw"])
		fmt.Fprintln(w)
	}
	if _, ok := res["Paired/hit"]; ok {
		fmt.Fprintln(w, "## Paired (each iteration runs the base operation and yoked's, each first in turn; medians)")
		fmt.Fprintln(w)
		fmt.Fprintln(w, "| operation | base | base median | yoked median | yoked ÷ base (medians) | yoked ÷ base (means) |")
		fmt.Fprintln(w, "|---|---|---:|---:|---:|---:|")
		for _, p := range []struct{ name, what, base string }{
			{"hit", "memory hit (PostgreSQL PK read)", "no-op driver"},
			{"miss/postgres", "miss (Refresh: stamp, read, store)", "raw PostgreSQL"},
			{"write/postgres", "autocommit UPDATE", "raw PostgreSQL"},
			{"miss/floor", "miss over the no-op driver", "no-op driver"},
			{"write/floor", "UPDATE over the no-op driver", "no-op driver"},
		} {
			if r, ok := res["Paired/"+p.name]; ok {
				m := r.metrics
				fmt.Fprintf(w, "| %s | %s | %s | %s | %.2f× | %.2f× |\n", p.what, p.base, dur(m["base-µs"]*1e3), dur(m["yoked-µs"]*1e3), m["yoked/base"], m["mean-yoked/base"])
			}
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintln(w, "## Mixed load (PostgreSQL, 16 goroutines, 95% zipf reads / 5% writes)")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| variant | ops/s | × raw | hits/read | keyed hits | scan hits | bypassed/read | stale reads (checker) |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|---:|")
	rawMixed := res["Mixed/postgres/raw"].metrics["ops/s"]
	for _, v := range []string{"raw", "writes-only", "memory", "redis", "redis+rows", "redis+l1+rows"} {
		if r, ok := res["Mixed/postgres/"+v]; ok {
			f := func(m string) string {
				if h, ok := r.metrics[m]; ok {
					return fmt.Sprintf("%.2f", h)
				}
				return "–"
			}
			bypassed, reasons := 0.0, []string{}
			for m, x := range r.metrics {
				if reason, ok := strings.CutPrefix(m, "bypass-"); ok && reason != "in_transaction/read" {
					bypassed += x
					reasons = append(reasons, fmt.Sprintf("%s %.3f", strings.TrimSuffix(reason, "/read"), x))
				}
			}
			by := "–"
			if _, ok := r.metrics["hits/read"]; ok {
				sort.Strings(reasons)
				by = fmt.Sprintf("%.3f", bypassed)
				if len(reasons) > 0 {
					by += " (" + strings.Join(reasons, ", ") + ")"
				}
			}
			fmt.Fprintf(w, "| %s | %.0f | %s | %s | %s | %s | %s | %.0f |\n", v, r.metrics["ops/s"], ratio(r.metrics["ops/s"], rawMixed), f("hits/read"), f("keyed-hits/read"), f("scan-hits/read"), by, r.metrics["stale"])
		}
	}
	if wo := res["Mixed/postgres/writes-only"].metrics["ops/s"]; wo > 0 && rawMixed > 0 {
		fmt.Fprintf(w, "\nwrites-only is the raw database under the writes alone: with every read free, 5%% writes allow at most 20 × %.0f = %.0f ops/s, %s raw.\n", wo, 20*wo, ratio(20*wo, rawMixed))
	}
	fmt.Fprintln(w)
	targets(w, res)
}

// targets prints each target of issue 6 with the measured figure.
func targets(w io.Writer, res map[string]result) {
	ns := func(name string) float64 { return res[name].ns }
	type target struct {
		what     string
		measured float64 // the ratio measured
		limit    float64
		atLeast  bool // measured must be ≥ limit (else ≤)
		detail   string
	}
	floor := ns("PKHit/floor")
	bare, hit := ns("redis.BareGet"), ns("redis.LookupHit")
	rh := res["RedisHit/interleaved"].metrics
	l1 := res["L1Hit"].metrics
	// The fence benchmark reports each topology's medians as metrics.
	fm := func(topo, m string) float64 { return res["redis.InvalidateFence/"+topo].metrics[m] }
	fd := func(topo, m string) string {
		if fm(topo, m) == 0 {
			return "–"
		}
		return dur(fm(topo, m)*1e3) + " vs " + dur(fm(topo, "plain-µs")*1e3)
	}
	if rh["lookup/get"] != 0 { // interleaved in one run: less noise than two runs
		bare, hit = rh["get-µs"]*1e3, rh["lookup-µs"]*1e3
	}
	mixRedis := res["Mixed/postgres/redis"].metrics["ops/s"]          // table tags
	mixRedisRows := res["Mixed/postgres/redis+rows"].metrics["ops/s"] // row tags, the default
	mixL1 := res["Mixed/postgres/redis+l1+rows"].metrics["ops/s"]
	inv1, invM := ns("redis.Invalidate/entries=1"), ns("redis.Invalidate/entries=1000000")
	minv1, minvM := ns("memory.InvalidateTags/entries=1"), ns("memory.InvalidateTags/entries=1000000")
	mixRaw, mixMem := res["Mixed/postgres/raw"].metrics["ops/s"], res["Mixed/postgres/memory"].metrics["ops/s"]
	stale := res["Mixed/postgres/memory"].metrics["stale"] + res["Mixed/postgres/redis"].metrics["stale"] + res["Mixed/postgres/redis+rows"].metrics["stale"] + res["Mixed/postgres/redis+l1+rows"].metrics["stale"]
	div := func(a, b float64) float64 {
		if b == 0 {
			return 0
		}
		return a / b
	}
	ts := []target{
		{"memory hit ≤ 2× floor (SQLite PK)", div(ns("PKHit/sqlite/memory"), floor), 2, false, dur(ns("PKHit/sqlite/memory")) + " vs " + dur(floor)},
		{"memory hit ≤ 2× floor (PostgreSQL PK)", div(ns("PKHit/postgres/memory"), floor), 2, false, dur(ns("PKHit/postgres/memory")) + " vs " + dur(floor)},
		{"≥ 30× raw PostgreSQL on PK hits (memory)", div(ns("PKHit/postgres/raw"), ns("PKHit/postgres/memory")), 30, true, dur(ns("PKHit/postgres/raw")) + " raw"},
		{"≥ 30× raw PostgreSQL on PK hits (redis+l1)", div(ns("PKHit/postgres/raw"), ns("PKHit/postgres/redis+l1")), 30, true, dur(ns("PKHit/postgres/redis+l1"))},
		{"Redis+L1 hit through database/sql ≤ 3× the floor (PostgreSQL PK, interleaved)", l1["l1/floor"], 3, false, dur(l1["l1-µs"]*1e3) + " vs " + dur(l1["floor-µs"]*1e3)},
		{"invalidation acknowledged by another L1 ≤ 2× plain (one node, writer with L1)", fm("single", "l1-writer/plain"), 2, false, fd("single", "l1-writer-µs")},
		{"invalidation acknowledged by another L1 ≤ 2× plain (one node, writer without L1)", fm("single", "writer/plain"), 2, false, fd("single", "writer-µs")},
		{"invalidation acknowledged by another L1 ≤ 2× plain (Cluster, writer with L1)", fm("cluster", "l1-writer/plain"), 2, false, fd("cluster", "l1-writer-µs")},
		{"invalidation acknowledged by another L1 ≤ 2× plain (Cluster, writer without L1)", fm("cluster", "writer/plain"), 2, false, fd("cluster", "writer-µs")},
		{"Redis hit ≤ 1.2× a bare GET (store level)", div(hit, bare), 1.2, false, dur(hit) + " vs " + dur(bare)},
		{"Redis hit (no L1) through database/sql ≤ 1.3× a bare GET", rh["queryrow/get"], 1.3, false, dur(rh["queryrow-µs"]*1e3) + " vs " + dur(rh["get-µs"]*1e3)},
		{"Redis hit (no L1) through database/sql ≤ 1× raw PostgreSQL PK read", rh["queryrow/raw"], 1, false, dur(rh["queryrow-µs"]*1e3) + " vs " + dur(rh["raw-µs"]*1e3)},
		{"O(1) invalidation, Redis: 1M entries ÷ 1 entry", div(invM, inv1), 2, false, dur(invM) + " vs " + dur(inv1)},
		{"O(1) invalidation, memory: 1M entries ÷ 1 entry", div(minvM, minv1), 2, false, dur(minvM) + " vs " + dur(minv1)},
		{"memory hit ≤ 2× floor (paired medians)", res["Paired/hit"].metrics["yoked/base"], 2, false, "interleaved with the no-op driver"},
		{"miss ≤ 1.10× raw PostgreSQL (paired medians)", res["Paired/miss/postgres"].metrics["yoked/base"], 1.10, false, fmt.Sprintf("yoked's own work: %s per miss over the no-op driver", dur(1e3*(res["Paired/miss/floor"].metrics["yoked-µs"]-res["Paired/miss/floor"].metrics["base-µs"])))},
		{"autocommit write ≤ 1.05× raw PostgreSQL (paired medians)", res["Paired/write/postgres"].metrics["yoked/base"], 1.05, false, fmt.Sprintf("yoked's own work: %s per write over the no-op driver", dur(1e3*(res["Paired/write/floor"].metrics["yoked-µs"]-res["Paired/write/floor"].metrics["base-µs"])))},
		{"mixed load ≥ 10× raw throughput (memory)", div(mixMem, mixRaw), 10, true, fmt.Sprintf("%.0f vs %.0f ops/s; bound with every read free: %s", mixMem, mixRaw, ratio(20*res["Mixed/postgres/writes-only"].metrics["ops/s"], mixRaw))},
		{"mixed load ≥ 1× raw throughput (Redis, no L1, row tags: the Redis default with ?l1=false)", div(mixRedisRows, mixRaw), 1, true, fmt.Sprintf("%.0f vs %.0f ops/s", mixRedisRows, mixRaw)},
		{"mixed load ≥ 1× raw throughput (Redis, no L1, table tags)", div(mixRedis, mixRaw), 1, true, fmt.Sprintf("%.0f vs %.0f ops/s", mixRedis, mixRaw)},
		{"mixed load ≥ 5× raw throughput (Redis+L1, the Redis defaults)", div(mixL1, mixRaw), 5, true, fmt.Sprintf("%.0f vs %.0f ops/s", mixL1, mixRaw)},
	}
	fmt.Fprintln(w, "## Targets")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| target | measured | met? | figures |")
	fmt.Fprintln(w, "|---|---:|---|---|")
	for _, t := range ts {
		met := t.measured != 0 && ((t.atLeast && t.measured >= t.limit) || (!t.atLeast && t.measured <= t.limit))
		verdict := "yes"
		if t.measured == 0 {
			verdict = "not measured"
		} else if !met {
			verdict = "**no**"
		}
		fmt.Fprintf(w, "| %s | %.2f× | %s | %s |\n", t.what, t.measured, verdict, t.detail)
	}
	staleVerdict := "yes"
	if stale != 0 {
		staleVerdict = "**no**"
	}
	fmt.Fprintf(w, "| mixed load: 0 stale reads | %.0f | %s | checker over every operation |\n", stale, staleVerdict)
}
