package mysql_test

import (
	"reflect"
	"sync"
	"testing"

	"github.com/yokedcache/yoked/sqlparse/mysql"
)

// TestConcurrentParsesAgree: pooled parsers reuse AST memory, so a
// statement must be summarised before its parser is reused. Parsing
// different statements from many goroutines must give the sequential answers.
func TestConcurrentParsesAgree(t *testing.T) {
	p := mysql.New()
	sqls := []string{
		"SELECT a FROM t1 JOIN t2 ON t1.id = t2.id WHERE t1.x IN (SELECT y FROM t3)",
		"UPDATE u SET n = n + 1 WHERE id = 1",
		"INSERT INTO audit (note) SELECT name FROM users",
		"DELETE a FROM a JOIN b ON a.id = b.id",
		"SELECT COUNT(*) FROM orders GROUP BY user_id",
	}
	want := make(map[string]any, len(sqls))
	for _, q := range sqls {
		want[q] = p.Parse(q)
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 300 {
				q := sqls[(g+i)%len(sqls)]
				if got := p.Parse(q); !reflect.DeepEqual(got, want[q]) {
					t.Errorf("%q: concurrent parse %+v, sequential %+v", q, got, want[q])
					return
				}
			}
		}()
	}
	wg.Wait()
}
