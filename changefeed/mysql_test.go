package changefeed_test

import (
	"context"
	"database/sql"
	"strings"
	"testing"
	"time"

	_ "github.com/go-sql-driver/mysql"

	"github.com/yokedcache/yoked/changefeed"
	yoked "github.com/yokedcache/yoked/driver"
	"github.com/yokedcache/yoked/internal/testenv"
)

func myExec(t testing.TB, db *sql.DB, stmts ...string) {
	t.Helper()
	for _, s := range stmts {
		if _, err := db.Exec(s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

func openMariaDB(t testing.TB, dsn string) *sql.DB {
	t.Helper()
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// Writes through any client reach the store from the binlog; DDL
// invalidates everything and bumps the schema epoch; heartbeats flow.
func TestMySQLInvalidates(t *testing.T) {
	my := testenv.StartMariaDB(t)
	db := openMariaDB(t, my.DSN("mysql"))
	myExec(t, db, "CREATE DATABASE app", "CREATE TABLE app.users (id int PRIMARY KEY, name text)",
		"CREATE TABLE app.orders (id int PRIMARY KEY)", "CREATE TABLE app.logs (id int) ENGINE=MyISAM")
	store := newMemory(t)
	r := start(t, changefeed.Config{Dialect: "mysql", Source: my.DSN("app"), Store: store})
	eventually(t, 20*time.Second, "first heartbeat", func() bool { return !heartbeat(t, store).IsZero() })

	users, orders, logs := tableTag("app", "users"), tableTag("app", "orders"), tableTag("app", "logs")
	for _, tc := range []struct {
		name  string
		sql   []string
		gone  []string
		stays []string
	}{
		{"insert", []string{"INSERT INTO app.users VALUES (1, 'a')"}, []string{users}, []string{orders, logs}},
		{"update", []string{"UPDATE app.users SET name = 'b'"}, []string{users}, []string{orders}},
		{"transaction", []string{"BEGIN", "INSERT INTO app.orders VALUES (1)", "DELETE FROM app.users", "COMMIT"}, []string{orders, users}, []string{logs}},
		{"non-transactional table", []string{"INSERT INTO app.logs VALUES (1)"}, []string{logs}, []string{orders}},
		{"rolled back", []string{"BEGIN", "INSERT INTO app.orders VALUES (2)", "ROLLBACK"}, nil, []string{orders, users}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			checkWrite(t, store, tc.gone, tc.stays, func() {
				conn, err := db.Conn(context.Background())
				if err != nil {
					t.Fatal(err)
				}
				defer conn.Close()
				for _, s := range tc.sql {
					if _, err := conn.ExecContext(context.Background(), s); err != nil {
						t.Fatalf("%s: %v", s, err)
					}
				}
			})
		})
	}
	t.Run("ddl", func(t *testing.T) {
		k := cached(t, store, orders)
		var host, port string
		if err := db.QueryRow("SELECT @@hostname, @@port").Scan(&host, &port); err != nil {
			t.Fatal(err)
		}
		epochs := []string{changefeed.SchemaTag, yoked.SchemaTag("mysql:" + host + ":" + port)}
		before := versions(t, store, epochs)
		myExec(t, db, "ALTER TABLE app.users ADD COLUMN age int")
		eventually(t, 5*time.Second, "DDL invalidates everything", func() bool { return !present(t, store, k, orders) })
		after := versions(t, store, epochs)
		for i, tag := range epochs {
			if before[i] == after[i] {
				t.Errorf("schema epoch %s not bumped", tag)
			}
		}
	})
	t.Run("truncate", func(t *testing.T) {
		k := cached(t, store, orders)
		myExec(t, db, "TRUNCATE app.orders")
		eventually(t, 5*time.Second, "TRUNCATE invalidates", func() bool { return !present(t, store, k, orders) })
	})
	st := r.w.Stats()
	if !st.Active || st.Transactions == 0 || st.Position == "" {
		t.Errorf("stats: %+v", st)
	}
	t.Logf("stats: %+v", st)
}

// A restarted watcher resumes from its saved GTID position: after a plain
// restart, and after the binlog files it had read were rotated and purged
// (a file and offset would point into a purged file). When a transaction it
// had not read was purged, it invalidates the whole namespace and starts
// from the server's current position.
func TestMySQLResumeAndPurged(t *testing.T) {
	my := testenv.StartMariaDB(t)
	db := openMariaDB(t, my.DSN("mysql"))
	myExec(t, db, "CREATE DATABASE app", "CREATE TABLE app.t (id int)", "CREATE TABLE app.u (id int)")
	store := newMemory(t)
	cfg := changefeed.Config{Dialect: "mysql", Source: my.DSN("app"), Store: store}
	r := start(t, cfg)
	eventually(t, 20*time.Second, "first heartbeat", func() bool { return !heartbeat(t, store).IsZero() })
	r.stop(t)
	saved := savedPosition(t, store)
	var gtid string
	if err := db.QueryRow("SELECT @@gtid_binlog_pos").Scan(&gtid); err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(saved, " gtid="+gtid) {
		t.Fatalf("saved position %q: want the file and offset and the server's GTID position %q", saved, gtid)
	}

	tt, tu := tableTag("app", "t"), tableTag("app", "u")
	resume := func(what string) {
		t.Helper()
		kt, ku := cached(t, store, tt), cached(t, store, tu)
		myExec(t, db, "INSERT INTO app.t VALUES (1)") // while no watcher runs
		r = start(t, cfg)
		eventually(t, 10*time.Second, what+": write made while down invalidated", func() bool { return !present(t, store, kt, tt) })
		after := time.Now()
		eventually(t, 5*time.Second, what+": heartbeat", func() bool { return heartbeat(t, store).After(after) })
		if !present(t, store, ku, tu) {
			t.Fatalf("%s: resuming invalidated a table nobody wrote", what)
		}
		if st := r.w.Stats(); st.Resets != 0 {
			t.Fatalf("%s: resume reset the namespace: %+v", what, st)
		}
		r.stop(t)
	}
	resume("restart")

	// Rotate and purge every binlog file the watcher has read: its GTID
	// position is still in the server's binlog state.
	saved = savedPosition(t, store)
	file, _, _ := strings.Cut(saved, ":")
	purgeBinlogs(t, db, file)
	resume("binlog files read were purged")

	// Purge a transaction the watcher has not read.
	file, _, _ = strings.Cut(savedPosition(t, store), ":")
	myExec(t, db, "INSERT INTO app.t VALUES (2)")
	purgeBinlogs(t, db, file)
	ku := cached(t, store, tu)
	r = start(t, cfg)
	eventually(t, 20*time.Second, "namespace invalidated after the position was purged", func() bool {
		return !present(t, store, ku, tu) && r.w.Stats().Resets == 1
	})
	ku = cached(t, store, tu)
	myExec(t, db, "INSERT INTO app.u VALUES (1)")
	eventually(t, 10*time.Second, "streaming again", func() bool { return !present(t, store, ku, tu) })
	if saved := savedPosition(t, store); !strings.Contains(saved, "gtid=") {
		t.Fatalf("position saved after starting fresh has no GTID set: %q", saved)
	}
}

// savedPosition is the watcher's saved binlog position.
func savedPosition(t testing.TB, store changefeed.Coordinator) string {
	t.Helper()
	b, err := store.Mark(context.Background(), changefeed.PositionMark)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// purgeBinlogs rotates the binlog and purges every file up to and
// including file. MariaDB keeps a file until InnoDB has checkpointed past
// it, so it flushes until the file goes.
func purgeBinlogs(t testing.TB, db *sql.DB, file string) {
	t.Helper()
	eventually(t, 20*time.Second, file+" purged", func() bool {
		myExec(t, db, "FLUSH BINARY LOGS")
		var cur string
		var pos int64
		var a, b sql.NullString
		if err := db.QueryRow("SHOW MASTER STATUS").Scan(&cur, &pos, &a, &b); err != nil {
			t.Fatal(err)
		}
		myExec(t, db, "PURGE BINARY LOGS TO '"+cur+"'")
		var first string
		var size int64
		if err := db.QueryRow("SHOW BINARY LOGS").Scan(&first, &size); err != nil {
			t.Fatal(err)
		}
		return first > file
	})
}

// While the store is down nothing is applied or saved; when it comes back
// the feed catches up.
func TestMySQLStoreDown(t *testing.T) {
	my := testenv.StartMariaDB(t)
	rs := testenv.StartRedis(t)
	db := openMariaDB(t, my.DSN("mysql"))
	myExec(t, db, "CREATE DATABASE app", "CREATE TABLE app.t (id int)")
	store := redisStore(t, rs.Addr())
	r := start(t, changefeed.Config{Dialect: "mysql", Source: my.DSN("app"), Store: store, LeaseTTL: 500 * time.Millisecond})
	eventually(t, 20*time.Second, "first heartbeat", func() bool { return !heartbeat(t, store).IsZero() })

	rs.Stop()
	time.Sleep(200 * time.Millisecond)
	txs := r.w.Stats().Transactions
	errs := r.w.Stats().Errors
	myExec(t, db, "INSERT INTO app.t VALUES (1)")
	eventually(t, 10*time.Second, "store errors counted", func() bool { return r.w.Stats().Errors > errs })
	if got := r.w.Stats().Transactions; got != txs {
		t.Fatalf("%d transactions applied while the store was down", got-txs)
	}
	rs.Start()
	eventually(t, 15*time.Second, "caught up after the store came back", func() bool { return r.w.Stats().Transactions > txs })
	after := time.Now()
	eventually(t, 10*time.Second, "heartbeat after the store came back", func() bool { return heartbeat(t, store).After(after) })
	b, err := store.Mark(context.Background(), changefeed.PositionMark)
	if err != nil || len(b) == 0 {
		t.Fatalf("position not saved after catching up: %q, %v", b, err)
	}
}

// Rows a foreign key's ON DELETE/UPDATE action changes are not in the
// binlog (InnoDB applies the action below the server's logging): the feed
// invalidates the referencing tables with the referenced one.
func TestMySQLCascades(t *testing.T) {
	my := testenv.StartMariaDB(t)
	db := openMariaDB(t, my.DSN("mysql"))
	myExec(t, db, "CREATE DATABASE app", "CREATE TABLE app.parent (id int PRIMARY KEY)",
		"CREATE TABLE app.child (id int PRIMARY KEY, p int, FOREIGN KEY (p) REFERENCES app.parent (id) ON DELETE CASCADE ON UPDATE SET NULL)",
		"CREATE TABLE app.grandchild (id int PRIMARY KEY, c int, FOREIGN KEY (c) REFERENCES app.child (id) ON DELETE CASCADE)",
		"CREATE TABLE app.other (id int PRIMARY KEY)",
		"INSERT INTO app.parent VALUES (1), (2)", "INSERT INTO app.child VALUES (1, 1), (2, 2)", "INSERT INTO app.grandchild VALUES (1, 1)")
	store := newMemory(t)
	start(t, changefeed.Config{Dialect: "mysql", Source: my.DSN("app"), Store: store})
	eventually(t, 20*time.Second, "first heartbeat", func() bool { return !heartbeat(t, store).IsZero() })
	parent, child, grandchild, other := tableTag("app", "parent"), tableTag("app", "child"), tableTag("app", "grandchild"), tableTag("app", "other")
	t.Run("delete cascades", func(t *testing.T) {
		checkWrite(t, store, []string{parent, child, grandchild}, []string{other}, func() {
			myExec(t, db, "DELETE FROM app.parent WHERE id = 1")
		})
	})
	t.Run("update sets null", func(t *testing.T) {
		checkWrite(t, store, []string{parent, child}, []string{other}, func() {
			myExec(t, db, "UPDATE app.parent SET id = 3 WHERE id = 2")
		})
	})
	t.Run("foreign key added by DDL", func(t *testing.T) {
		myExec(t, db, "CREATE TABLE app.late (id int PRIMARY KEY, p int, FOREIGN KEY (p) REFERENCES app.parent (id) ON DELETE CASCADE)",
			"INSERT INTO app.parent VALUES (4)", "INSERT INTO app.late VALUES (1, 4)")
		after := time.Now()
		eventually(t, 5*time.Second, "heartbeat after the DDL", func() bool { return heartbeat(t, store).After(after) })
		checkWrite(t, store, []string{parent, tableTag("app", "late")}, []string{other}, func() {
			myExec(t, db, "DELETE FROM app.parent WHERE id = 4")
		})
	})
	// A user who may not see whole databases does not see every foreign
	// key: each write invalidates everything.
	t.Run("foreign keys not visible", func(t *testing.T) {
		myExec(t, db, "CREATE USER repl@'%'", "GRANT REPLICATION SLAVE, BINLOG MONITOR ON *.* TO repl@'%'",
			"GRANT SELECT ON app.other TO repl@'%'")
		limited := newMemory(t)
		r := start(t, changefeed.Config{Dialect: "mysql", Source: strings.Replace(my.DSN("app"), "root@", "repl@", 1), Store: limited})
		eventually(t, 20*time.Second, "first heartbeat", func() bool { return !heartbeat(t, limited).IsZero() })
		checkWrite(t, limited, []string{other, parent}, nil, func() {
			myExec(t, db, "INSERT INTO app.other VALUES (1)")
		})
		// Without PROCESS, a write to a table without a lockable key cannot
		// be proved visible (mysql_visible.go): the feed says so, and no
		// heartbeat passes it.
		myExec(t, db, "CREATE TABLE app.nokey (v int)")
		ddl := time.Now()
		eventually(t, 5*time.Second, "heartbeat after the DDL", func() bool { return heartbeat(t, limited).After(ddl) })
		myExec(t, db, "INSERT INTO app.nokey VALUES (1)")
		after := time.Now()
		eventually(t, 10*time.Second, "an error naming PROCESS", func() bool { return strings.Contains(r.w.Stats().LastError, "PROCESS") })
		if hb := heartbeat(t, limited); hb.After(after) {
			t.Errorf("heartbeat %v passed a write it could not prove visible (%v)", hb, after)
		}
	})
}
