package main

import (
	"os"
	"strings"
	"testing"
)

// sample parses testdata/sample.txt.
func sample(t *testing.T) map[string]result {
	t.Helper()
	f, err := os.Open("testdata/sample.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	res, err := parse(f)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestParse(t *testing.T) {
	res := sample(t)
	tests := []struct {
		name        string
		ns, allocs  float64
		metric      string
		metricValue float64
	}{
		{"PKHit/floor", 521, 8, "", 0},
		{"PKHit/postgres/raw", 53300, 18, "", 0},
		{"PKHit/postgres/memory", 1299, 8, "hits/op", 1},
		{"Mixed/postgres/raw", 387021, 0, "ops/s", 2584},
		{"RedisHit/interleaved", 224225, 0, "queryrow/get", 1.1},
		{"Mixed/postgres/writes-only", 1500000, 0, "ops/s", 666},
		{"Paired/hit", 3116, 0, "yoked/base", 1.626},
		{"Paired/miss/postgres", 449826, 0, "base-µs", 83.18},
		{"Paired/miss/floor", 6416, 0, "yoked-µs", 3.055},
		{"Mixed/postgres/memory", 64367, 0, "scan-hits/read", 0.09866},
		{"redis.BareGet", 76100, 0, "", 0},
		{"redis.Invalidate/entries=1000000", 40600, 0, "", 0},
	}
	for _, tt := range tests {
		r, ok := res[tt.name]
		if !ok {
			t.Errorf("%s: not parsed (have %d results)", tt.name, len(res))
			continue
		}
		if r.ns != tt.ns || r.allocs != tt.allocs || (tt.metric != "" && r.metrics[tt.metric] != tt.metricValue) {
			t.Errorf("%s: got %+v", tt.name, r)
		}
	}
	if len(res) != len(tests) {
		t.Errorf("parsed %d results, want %d", len(res), len(tests))
	}
}

func TestParseRejectsGarbledNumbers(t *testing.T) {
	if _, err := parse(strings.NewReader("BenchmarkX-2 10 abc ns/op\n")); err == nil {
		t.Fatal("no error for a garbled figure")
	}
}

func TestReportTargets(t *testing.T) {
	res := sample(t)
	var b strings.Builder
	report(&b, res)
	out := b.String()
	for _, want := range []string{
		"| PKHit | postgres | memory | 1299 ns | 8 | 0.02× | 2.49× | 1.00 |",
		"| memory hit ≤ 2× floor (PostgreSQL PK) | 2.49× | **no** |",
		"| ≥ 30× raw PostgreSQL on PK hits (memory) | 41.03× | yes |",
		"| Redis hit ≤ 1.2× a bare GET (store level) | 1.10× | yes | 45.2 µs vs 41.3 µs |",
		"| Redis hit (no L1) through database/sql ≤ 1.3× a bare GET | 1.10× | yes | 45.4 µs vs 41.3 µs |",
		"| Redis hit (no L1) through database/sql ≤ 1× raw PostgreSQL PK read | 0.71× | yes |",
		"| 41.3 µs | 45.2 µs | 45.4 µs | 64.2 µs | 1.09× | 1.10× | 0.71× |",
		"| mixed load ≥ 1× raw throughput (Redis, no L1, row tags: the Redis default with ?l1=false) | 0.00× | not measured |",
		"| mixed load ≥ 1× raw throughput (Redis, no L1, table tags) | 0.00× | not measured |",
		"| memory | 15536 | 6.01× | 0.64 | 0.81 | 0.10 | 0.010 (pending_invalidation 0.010) | 0 |",
		"at most 20 × 666 = 13320 ops/s, 5.15× raw",
		"| memory hit (PostgreSQL PK read) | no-op driver | 511 ns | 831 ns | 1.63× | 1.84× |",
		"| memory hit ≤ 2× floor (paired medians) | 1.63× | yes |",
		"| miss ≤ 1.10× raw PostgreSQL (paired medians) | 1.05× | yes | yoked's own work: 2133 ns per miss over the no-op driver |",
		"| autocommit write ≤ 1.05× raw PostgreSQL (paired medians) | 0.00× | not measured |",
		"15536 vs 2584 ops/s; bound with every read free: 5.15×",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
}

// The Redis store's benchmarks (package redisstore) feed their targets:
// the O(1) invalidation and the fence medians, reported as metrics.
func TestReportRedisStoreTargets(t *testing.T) {
	res, err := parse(strings.NewReader(`pkg: github.com/yokedcache/yoked/tagstore/redisstore
BenchmarkInvalidate/entries=1-2         	   12930	     84344 ns/op
BenchmarkInvalidate/entries=1000000-2   	   15649	     76526 ns/op
BenchmarkInvalidateFence/single-2       	    2532	    466346 ns/op	         0 fences/op	       159.9 l1-writer-µs	         2.008 l1-writer/plain	        79.64 plain-µs	       151.5 writer-µs	         1.902 writer/plain
BenchmarkInvalidateFence/cluster-2      	    2131	    560017 ns/op	         0 fences/op	       183.1 l1-writer-µs	         1.637 l1-writer/plain	       111.8 plain-µs	       173.8 writer-µs	         1.555 writer/plain
`))
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	report(&b, res)
	for _, want := range []string{
		"| O(1) invalidation, Redis: 1M entries ÷ 1 entry | 0.91× | yes | 76.5 µs vs 84.3 µs |",
		"| invalidation acknowledged by another L1 ≤ 2× plain (one node, writer with L1) | 2.01× | **no** | 159.9 µs vs 79.6 µs |",
		"| invalidation acknowledged by another L1 ≤ 2× plain (one node, writer without L1) | 1.90× | yes | 151.5 µs vs 79.6 µs |",
		"| invalidation acknowledged by another L1 ≤ 2× plain (Cluster, writer without L1) | 1.55× | yes | 173.8 µs vs 111.8 µs |",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, b.String())
		}
	}
}
