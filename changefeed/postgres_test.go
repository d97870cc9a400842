package changefeed_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/yokedcache/yoked/changefeed"
	"github.com/yokedcache/yoked/internal/testenv"
)

// pgExec runs sql on url (simple protocol, several statements allowed).
func pgExec(t testing.TB, url, sql string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := pgconn.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	if _, err := c.Exec(ctx, sql).ReadAll(); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

func pgValue(t testing.TB, url, sql string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := pgconn.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	res, err := c.Exec(ctx, sql).ReadAll()
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	if len(res) == 0 || len(res[0].Rows) == 0 {
		return ""
	}
	return string(res[0].Rows[0][0])
}

// Every kind of write from outside yoked invalidates the tables it wrote;
// DDL invalidates everything and bumps the schema epoch; a heartbeat is
// written at least every 100 ms.
func TestPostgresInvalidates(t *testing.T) {
	pg := testenv.StartPostgres(t)
	pgExec(t, pg.URL(), `CREATE SCHEMA app; CREATE TABLE app.users (id int PRIMARY KEY, name text);
		CREATE TABLE app.orders (id int PRIMARY KEY, user_id int); CREATE TABLE other (id int)`)
	store := newMemory(t)
	r := start(t, changefeed.Config{Dialect: "postgres", Source: pg.URL(), Store: store})
	eventually(t, 10*time.Second, "first heartbeat", func() bool { return !heartbeat(t, store).IsZero() })

	users, orders, other := tableTag("app", "users"), tableTag("app", "orders"), tableTag("public", "other")
	for _, tc := range []struct {
		name  string
		sql   string
		gone  []string // tags whose entries must be invalidated
		stays []string // tags whose entries must survive
	}{
		{"insert", "INSERT INTO app.users VALUES (1, 'a')", []string{users}, []string{orders, other}},
		{"update", "UPDATE app.users SET name = 'b'", []string{users}, []string{orders}},
		{"delete", "DELETE FROM app.orders", nil, []string{users}}, // deletes nothing: no event
		{"transaction", "BEGIN; INSERT INTO app.orders VALUES (1, 1); INSERT INTO other VALUES (1); COMMIT", []string{orders, other}, []string{users}},
		{"truncate", "TRUNCATE app.users", []string{users}, []string{orders}},
		{"rolled back", "BEGIN; INSERT INTO app.orders VALUES (2, 1); ROLLBACK", nil, []string{orders, users}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			keys := map[string]string{}
			for _, tag := range append(append([]string{}, tc.gone...), tc.stays...) {
				keys[tag] = cached(t, store, tag)
			}
			pgExec(t, pg.URL(), tc.sql)
			for _, tag := range tc.gone {
				eventually(t, 5*time.Second, tag+" invalidated", func() bool { return !present(t, store, keys[tag], tag) })
			}
			// A heartbeat later than the write proves the stream is past it.
			after := time.Now()
			eventually(t, 5*time.Second, "heartbeat after the write", func() bool { return heartbeat(t, store).After(after) })
			for _, tag := range tc.stays {
				if !present(t, store, keys[tag], tag) {
					t.Errorf("%s invalidated by %s", tag, tc.sql)
				}
			}
		})
	}

	t.Run("ddl", func(t *testing.T) {
		k := cached(t, store, orders)
		ks := cached(t, store, changefeed.SchemaTag)
		pgExec(t, pg.URL(), "CREATE INDEX ON app.users (name)")
		eventually(t, 5*time.Second, "DDL invalidates everything", func() bool { return !present(t, store, k, orders) })
		if present(t, store, ks, changefeed.SchemaTag) {
			t.Error("schema epoch not bumped")
		}
	})

	t.Run("heartbeat period", func(t *testing.T) {
		var worst time.Duration
		prev := heartbeat(t, store)
		end := time.Now().Add(time.Second)
		for time.Now().Before(end) {
			time.Sleep(5 * time.Millisecond)
			hb := heartbeat(t, store)
			if hb != prev {
				prev = hb
			}
			worst = max(worst, time.Since(prev))
		}
		// Written every 50 ms; the bound readers rely on is 100 ms. Allow
		// for a loaded machine without letting a stalled feed pass.
		if worst > 500*time.Millisecond {
			t.Errorf("heartbeat was %v old at worst", worst)
		}
		t.Logf("oldest heartbeat seen: %v", worst)
	})
	st := r.w.Stats()
	if !st.Active || st.Transactions == 0 || st.Position == "" || st.Slot != "yoked" {
		t.Errorf("stats: %+v", st)
	}
	t.Logf("stats: %+v", st)
}
