package testenv_test

import (
	"context"
	"database/sql"
	"strings"
	"testing"

	_ "github.com/go-sql-driver/mysql"
	"github.com/redis/go-redis/v9"

	"github.com/yokedcache/yoked/internal/testenv"
)

func TestPrivateRedisStopStartKeepsPortAndDump(t *testing.T) {
	s := testenv.StartRedis(t)
	ctx := context.Background()
	c := redis.NewClient(&redis.Options{Addr: s.Addr()})
	defer c.Close()
	if err := c.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if err := c.Save(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	s.Stop()
	if err := c.Ping(ctx).Err(); err == nil {
		t.Fatal("server still answers after Stop")
	}
	s.Start()
	if v, err := c.Get(ctx, "k").Result(); err != nil || v != "v" {
		t.Fatalf("after restart from dump: %q %v", v, err)
	}
}

func TestRedisCluster(t *testing.T) {
	addrs := testenv.RedisCluster(t)
	c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs})
	defer c.Close()
	ctx := context.Background()
	for _, k := range []string{"a", "b", "c", "d"} {
		if err := c.Set(ctx, k, k, 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	info, err := c.ClusterInfo(ctx).Result()
	if err != nil || !strings.Contains(info, "cluster_known_nodes:3") {
		t.Fatalf("cluster info: %v %s", err, info)
	}
}

func TestFreshSchemaAndDatabase(t *testing.T) {
	pg := testenv.PostgresSchema(t)
	db, err := sql.Open("postgres", pg)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var schema string
	if err := db.QueryRow(`SELECT current_schema()`).Scan(&schema); err != nil || !strings.HasPrefix(schema, "yk_") {
		t.Fatalf("current_schema = %q, %v", schema, err)
	}
	my := testenv.MySQLDatabase(t)
	mdb, err := sql.Open("mysql", my)
	if err != nil {
		t.Fatal(err)
	}
	defer mdb.Close()
	var name string
	if err := mdb.QueryRow(`SELECT DATABASE()`).Scan(&name); err != nil || !strings.HasPrefix(name, "yk_") {
		t.Fatalf("DATABASE() = %q, %v", name, err)
	}
}
