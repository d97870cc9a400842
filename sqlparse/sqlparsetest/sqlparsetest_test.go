package sqlparsetest

import (
	"strings"
	"testing"

	"github.com/yokedcache/yoked/sqlparse"
)

func TestParse(t *testing.T) {
	text := "-- name: first\nSELECT 1\n-- want:\n{\"kind\":\"read\"}\n\n" +
		"-- name: two lines\nSELECT a\n  FROM t\n-- want:\n{}\n"
	cases, err := parse("f.txt", text)
	if err != nil {
		t.Fatal(err)
	}
	if len(cases) != 2 {
		t.Fatalf("%d cases", len(cases))
	}
	c := cases[1]
	if c.Name != "two lines" || c.SQL != "SELECT a\n  FROM t" || c.Want != "{}" || c.Pos() != "f.txt:6" {
		t.Errorf("case %+v", c)
	}
	for _, bad := range []string{
		"-- name: x\nSELECT 1\n",                       // no want
		"-- name: x\nSELECT 1\n-- want:\n",             // want line missing
		"stray\n-- name: x\nSELECT 1\n-- want:\n{}\n",  // text outside a case
		"-- name: x\nSELECT 1\n-- name: y\n-- want:\n", // case not finished
	} {
		if _, err := parse("f.txt", bad); err == nil {
			t.Errorf("parse(%q) accepted", bad)
		}
	}
}

func TestDiff(t *testing.T) {
	a := sqlparse.Statement{Kind: sqlparse.KindRead, Reads: []sqlparse.Table{{Name: "t"}}, Cacheable: true}
	if d := Diff(a, a); d != "" {
		t.Errorf("equal statements differ: %s", d)
	}
	if d := Diff(sqlparse.Statement{Writes: []sqlparse.Table{}}, sqlparse.Statement{}); d != "" {
		t.Errorf("empty and nil differ: %s", d)
	}
	b := a
	b.Cacheable, b.Reads = false, nil
	d := Diff(a, b)
	if !strings.Contains(d, "cacheable: got true, want false") || !strings.Contains(d, `reads: got [{"name":"t"}], want null`) {
		t.Errorf("diff %q", d)
	}
}
