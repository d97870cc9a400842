package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/spf13/cobra"

	"github.com/yokedcache/yoked/changefeed"
	yoked "github.com/yokedcache/yoked/driver"
	"github.com/yokedcache/yoked/tagstore/redisstore"
)

func newWatchCmd(e *env) *cobra.Command {
	var (
		source, dialect, storeURL, namespace string
		slot, publication, metricsAddr       string
		serverID                             uint32
		rowTags                              bool
		every, leaseTTL                      time.Duration
	)
	cmd := &cobra.Command{
		Use:   "watch --source DB --dialect postgres|mysql [--store URL] [--namespace NS]",
		Short: "Invalidate the cache from the database's replication stream (writes from any program)",
		Long: `watch reads the database's replication stream and invalidates, in the shared
store, every table each committed transaction changed — whoever wrote it:
psql, a migration, a cron job, another service. PostgreSQL: logical
replication (pgoutput); the publication and the slot are created when
missing. MySQL/MariaDB: the row-based binlog, read as a replica.

A stream position is acknowledged only after the store acknowledged the
invalidations before it. Several watchers may run for one namespace: one holds
a lease in the store and streams, the others stand by and take over within
--lease-ttl of its death. The active watcher writes a heartbeat into the store
every 50 ms; readers opened with WithChangeFeed(maxLag) (or YOKED_FEED_MAX_LAG,
or feed=<duration> on their store URL) bypass the cache whenever it is older
than maxLag.

Every --interval it prints one line: whether it is active, the slot and
position, the heartbeat lag, the invalidation lag, and events, transactions
and invalidations per second. It stops cleanly on SIGINT or SIGTERM (releasing
the lease, so a standby takes over at once). Database settings, privileges and
failure modes: docs/changefeed.md.`,
		Example: `  # PostgreSQL (wal_level=logical; a role with REPLICATION, or superuser)
  yokedcache watch --dialect postgres --source postgres://yoked@db:5432/app \
      --store redis://cache:6379 --namespace app

  # MariaDB/MySQL (log_bin, binlog_format=ROW, binlog_row_metadata=FULL for row
  # tags, else whole tables; the user needs REPLICATION SLAVE,
  # REPLICATION CLIENT or BINLOG MONITOR, PROCESS to see commits under way,
  # and SELECT on the databases to see their foreign keys); the position
  # saved is the GTID set when there is one
  YOKED_STORE=redis://cache:6379 YOKED_NAMESPACE=app \
      yokedcache watch --dialect mysql --source 'repl:secret@tcp(db:3306)/app'

  # a standby on another host, metrics for Prometheus on :9187
  yokedcache watch --dialect postgres --source postgres://yoked@db/app \
      --store redis://cache:6379 --namespace app --metrics-addr :9187`,
		Args: noArgs,
	}
	f := cmd.Flags()
	f.StringVar(&source, "source", "", "database URL or DSN (PostgreSQL URL or keyword DSN; MySQL user:pass@tcp(host:port)/db)")
	f.StringVar(&dialect, "dialect", "", "postgres or mysql (MariaDB too)")
	f.StringVar(&storeURL, "store", "", "store URL: redis://, rediss://, redis-cluster://, unix:// (default $YOKED_STORE)")
	f.StringVar(&namespace, "namespace", "", "store namespace (default $YOKED_NAMESPACE, else \"default\")")
	f.StringVar(&slot, "slot", changefeed.DefaultSlot, "PostgreSQL replication slot (created when missing)")
	f.StringVar(&publication, "publication", changefeed.DefaultPublication, "PostgreSQL publication (created FOR ALL TABLES when missing)")
	f.Uint32Var(&serverID, "server-id", 0, "MySQL replica server id, distinct from every server and replica (default: random)")
	f.DurationVar(&every, "interval", time.Second, "how often to print a status line (0: never)")
	f.DurationVar(&leaseTTL, "lease-ttl", changefeed.DefaultLeaseTTL, "how long a dead watcher's lease blocks a standby")
	f.BoolVar(&rowTags, "row-tags", true, "invalidate the rows a transaction changed, by primary key, where the stream names it (false: whole tables)")
	f.StringVar(&metricsAddr, "metrics-addr", "", "serve Prometheus metrics on this address at /metrics (e.g. :9187)")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if source == "" {
			return usagef("--source is required (the database to watch)")
		}
		if dialect == "" {
			return usagef("--dialect is required: postgres or mysql")
		}
		if every < 0 {
			return usagef("--interval must not be negative")
		}
		store, where, err := openWatchStore(storeURL, namespace, e)
		if err != nil {
			return err
		}
		defer store.Close()
		rowTag, setTag := yoked.RowTag, yoked.SetTag
		if !rowTags {
			rowTag, setTag = nil, nil
		}
		logger := slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
		w, err := changefeed.New(changefeed.Config{
			Dialect: dialect, Source: source, Store: store,
			TableTag:  func(schema, table string) string { return yoked.TableTag(schema + "." + table) },
			SchemaTag: yoked.SchemaTag,
			RowTag:    rowTag, SetTag: setTag,
			Slot: slot, Publication: publication, ServerID: serverID, LeaseTTL: leaseTTL, Logger: logger,
		})
		if err != nil {
			if errors.Is(err, changefeed.ErrConfig) {
				return usageError{err}
			}
			return err
		}
		ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
		defer stop()
		if metricsAddr != "" {
			srv, err := serveMetrics(metricsAddr, w)
			if err != nil {
				return err
			}
			defer srv.Close()
		}
		fmt.Fprintf(e.stdout, "watching %s (%s) into %s; Ctrl-C to stop\n", redactSource(source), dialect, where)
		done := make(chan error, 1)
		go func() { done <- w.Run(ctx) }()
		var tick <-chan time.Time
		if every > 0 {
			t := time.NewTicker(every)
			defer t.Stop()
			tick = t.C
		}
		prev, prevAt := w.Stats(), time.Now()
		for {
			select {
			case err := <-done:
				if err != nil {
					return err
				}
				fmt.Fprintln(e.stdout, "stopped")
				return nil
			case <-tick:
				s, now := w.Stats(), time.Now()
				printStatus(e, s, prev, now.Sub(prevAt))
				prev, prevAt = s, now
			}
		}
	}
	return cmd
}

func printStatus(e *env, s, prev changefeed.Stats, d time.Duration) {
	rate := func(a, b uint64) float64 { return float64(a-b) / d.Seconds() }
	state := "standby"
	if s.Active {
		state = "active"
	}
	lag := "-"
	if !s.Heartbeat.IsZero() {
		lag = time.Since(s.Heartbeat).Round(time.Millisecond).String()
	}
	slot := s.Slot
	if slot == "" {
		slot = "-"
	}
	pos := s.Position
	if pos == "" {
		pos = "-"
	}
	fmt.Fprintf(e.stdout, "%s %s slot=%s position=%s lag=%s invalidation_lag_p99=%s events/s=%.0f tx/s=%.0f invalidations/s=%.0f resets=%d errors=%d\n",
		time.Now().Format("15:04:05"), state, slot, pos, lag, s.LagP99.Round(time.Microsecond),
		rate(s.Events, prev.Events), rate(s.Transactions, prev.Transactions), rate(s.Invalidations, prev.Invalidations),
		s.Resets, s.Errors)
}

// openWatchStore opens the shared store the readers use, without an L1 (a
// store without one still counts the readers' L1 acknowledgements).
func openWatchStore(raw, ns string, e *env) (*redisstore.Store, string, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		raw = strings.TrimSpace(e.getenv("YOKED_STORE"))
	}
	if ns == "" {
		ns = strings.TrimSpace(e.getenv("YOKED_NAMESPACE"))
	}
	if raw == "" || raw == "memory" || strings.HasPrefix(raw, "memory:") {
		return nil, "", usagef("no shared store configured: the readers' in-process memory store cannot be reached from yokedcache; pass --store or set YOKED_STORE to a redis:// URL (or run changefeed.Run inside the application)")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, "", usagef("store URL does not parse: %v", err)
	}
	switch u.Scheme {
	case "redis+cluster":
		u.Scheme = "redis-cluster"
	case "rediss+cluster":
		u.Scheme = "rediss-cluster"
	}
	q := u.Query()
	for _, k := range []string{"l1", "l1_ttl", "feed"} { // the readers' settings
		q.Del(k)
	}
	u.RawQuery = q.Encode()
	if ns == "" {
		ns = q.Get("namespace")
	}
	if ns == "" {
		ns = yoked.DefaultNamespace
	}
	s, err := redisstore.NewFromURL(u.String(), redisstore.Options{Namespace: ns})
	if err != nil {
		return nil, "", usagef("store %s: %v", redact(u), err)
	}
	return s, redact(u) + " namespace " + ns, nil
}

func serveMetrics(addr string, w *changefeed.Watcher) (*http.Server, error) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(changefeed.NewCollector(w, "", nil))
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, usagef("--metrics-addr %s: %v", addr, err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	return srv, nil
}

// redactSource hides a password in a database URL or MySQL DSN.
func redactSource(s string) string {
	if u, err := url.Parse(s); err == nil && u.User != nil {
		return redact(u)
	}
	if at := strings.LastIndex(s, "@"); at > 0 {
		if colon := strings.Index(s[:at], ":"); colon >= 0 {
			return s[:colon] + ":xxxxx" + s[at:]
		}
	}
	return s
}
