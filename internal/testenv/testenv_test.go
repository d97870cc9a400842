package testenv_test

import (
	"context"
	"database/sql"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	_ "github.com/go-sql-driver/mysql"
	_ "github.com/jackc/pgx/v5/stdlib"
	"github.com/redis/go-redis/v9"

	"github.com/yokedcache/yoked/internal/testenv"
)

func client(t *testing.T, addr string) *redis.Client {
	c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1})
	t.Cleanup(func() { c.Close() })
	return c
}

func TestPrivateRedisStopStartRestart(t *testing.T) {
	s := testenv.StartRedis(t)
	ctx := context.Background()
	c := client(t, s.Addr())
	if err := c.Set(ctx, "saved", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if err := c.Save(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(s.Dir(), "dump.rdb")); err != nil {
		t.Fatalf("SAVE left no dump.rdb in Dir(): %v", err)
	}
	if err := c.Set(ctx, "unsaved", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}

	s.Stop()
	if err := c.Ping(ctx).Err(); err == nil {
		t.Fatal("server still answers after Stop")
	}
	s.Stop() // idempotent
	s.Start()
	if v, err := c.Get(ctx, "saved").Result(); err != nil || v != "v" {
		t.Fatalf("after Start, the key in dump.rdb = %q, %v", v, err)
	}
	if n, err := c.Exists(ctx, "unsaved").Result(); err != nil || n != 0 {
		t.Fatalf("a key written after SAVE survived a kill (Exists = %d, %v): the server persisted without being asked", n, err)
	}

	if err := c.Set(ctx, "unsaved", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	s.Restart()
	if n, err := c.Exists(ctx, "unsaved").Result(); err != nil || n != 0 {
		t.Fatalf("after Restart, Exists(unsaved) = %d, %v", n, err)
	}
	if v, err := c.Get(ctx, "saved").Result(); err != nil || v != "v" {
		t.Fatalf("after Restart, saved = %q, %v", v, err)
	}
}

func TestStartRedisArgsOverrideDefaults(t *testing.T) {
	s := testenv.StartRedis(t, "--maxmemory", "1mb", "--save", "3600 1")
	got, err := client(t, s.Addr()).ConfigGet(context.Background(), "*").Result()
	if err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]string{"maxmemory": "1048576", "save": "3600 1", "bind": "127.0.0.1", "appendonly": "no"} {
		if got[k] != want {
			t.Errorf("CONFIG GET %s = %q, want %q", k, got[k], want)
		}
	}
}

func TestRedisCluster(t *testing.T) {
	addrs := testenv.RedisCluster(t)
	if len(addrs) != 3 {
		t.Fatalf("addrs = %v", addrs)
	}
	ctx := context.Background()
	for _, a := range addrs {
		info, err := client(t, a).ClusterInfo(ctx).Result()
		if err != nil || !strings.Contains(info, "cluster_state:ok") || !strings.Contains(info, "cluster_known_nodes:3") {
			t.Fatalf("node %s: %v\n%s", a, err, info)
		}
	}
	c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs})
	defer c.Close()
	// Keys spread over the slots of all three masters.
	for i := range 30 {
		k := fmt.Sprint("k", i)
		if err := c.Set(ctx, k, i, 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	used := 0
	for _, a := range addrs {
		n, err := client(t, a).DBSize(ctx).Result()
		if err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			used++
		}
	}
	if used != 3 {
		t.Fatalf("keys landed on %d of 3 masters", used)
	}
}

func TestPostgresSchemaIsFreshAndDropped(t *testing.T) {
	var schema string
	t.Run("use", func(t *testing.T) {
		dsn := testenv.PostgresSchema(t)
		for _, driverName := range []string{"postgres", "pgx"} {
			db, err := sql.Open(driverName, dsn)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if err := db.QueryRow(`SELECT current_schema()`).Scan(&schema); err != nil || !strings.HasPrefix(schema, "yk_") {
				t.Fatalf("%s: current_schema() = %q, %v", driverName, schema, err)
			}
			if _, err := db.Exec(`CREATE TABLE IF NOT EXISTS t (id int)`); err != nil {
				t.Fatal(err)
			}
			var where string
			if err := db.QueryRow(`SELECT table_schema FROM information_schema.tables WHERE table_name = 't' AND table_schema = current_schema()`).Scan(&where); err != nil || where != schema {
				t.Fatalf("%s: unqualified table created in %q, %v", driverName, where, err)
			}
		}
	})
	db, err := sql.Open("postgres", testenv.Postgres(t))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM pg_namespace WHERE nspname = $1`, schema).Scan(&n); err != nil || n != 0 {
		t.Fatalf("schema %q still exists after cleanup (count %d, %v)", schema, n, err)
	}
}

func TestMySQLDatabaseIsFreshAndDropped(t *testing.T) {
	var name string
	t.Run("use", func(t *testing.T) {
		db, err := sql.Open("mysql", testenv.MySQLDatabase(t))
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if err := db.QueryRow(`SELECT DATABASE()`).Scan(&name); err != nil || !strings.HasPrefix(name, "yk_") {
			t.Fatalf("DATABASE() = %q, %v", name, err)
		}
		if _, err := db.Exec(`CREATE TABLE t (id int)`); err != nil {
			t.Fatal(err)
		}
	})
	db, err := sql.Open("mysql", testenv.MySQL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM information_schema.schemata WHERE schema_name = ?`, name).Scan(&n); err != nil || n != 0 {
		t.Fatalf("database %q still exists after cleanup (count %d, %v)", name, n, err)
	}
}

// outcome records how a testenv function ended a test, without ending ours.
type outcome struct {
	testing.TB
	skipped, failed string
}

func (o *outcome) Helper()                      {}
func (o *outcome) Skip(args ...any)             { o.skipped = fmt.Sprint(args...); runtime.Goexit() }
func (o *outcome) Fatal(args ...any)            { o.failed = fmt.Sprint(args...); runtime.Goexit() }
func (o *outcome) Skipf(f string, args ...any)  { o.Skip(fmt.Sprintf(f, args...)) }
func (o *outcome) Fatalf(f string, args ...any) { o.Fatal(fmt.Sprintf(f, args...)) }

func closedPort(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := fmt.Sprint(l.Addr().(*net.TCPAddr).Port)
	l.Close()
	return port
}

func TestMissingServerSkipsOrFailsUnderCI(t *testing.T) {
	port := closedPort(t)
	cases := []struct {
		name, env, value, says string
		find                   func(testing.TB) string
	}{
		{"redis", "YOKED_TEST_REDIS", "127.0.0.1:" + port,
			`redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no`, testenv.Redis},
		{"postgres", "YOKED_TEST_POSTGRES", "postgres://postgres:secret@127.0.0.1:" + port + "/test?sslmode=disable",
			"pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start", testenv.Postgres},
		{"mysql", "YOKED_TEST_MYSQL", "root:secret@tcp(127.0.0.1:" + port + ")/test",
			"start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd", testenv.MySQL},
	}
	for _, tc := range cases {
		for _, ci := range []string{"", "true"} {
			t.Run(tc.name+"/CI="+ci, func(t *testing.T) {
				t.Setenv(tc.env, tc.value)
				t.Setenv("CI", ci)
				o := &outcome{TB: t}
				done := make(chan string)
				go func() {
					defer func() { done <- "" }()
					tc.find(o)
				}()
				<-done
				msg := o.skipped
				if ci == "true" {
					if o.skipped != "" || o.failed == "" {
						t.Fatalf("under CI: skipped %q, failed %q; want a failure", o.skipped, o.failed)
					}
					msg = o.failed
				} else if o.failed != "" || o.skipped == "" {
					t.Fatalf("outside CI: skipped %q, failed %q; want a skip", o.skipped, o.failed)
				}
				for _, want := range []string{tc.says, tc.env} {
					if !strings.Contains(msg, want) {
						t.Errorf("message %q does not say %q", msg, want)
					}
				}
				if strings.Contains(msg, "secret") {
					t.Errorf("message %q shows the password", msg)
				}
			})
		}
	}
}
