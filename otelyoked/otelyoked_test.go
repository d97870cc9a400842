package otelyoked_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	_ "github.com/mattn/go-sqlite3"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	yoked "github.com/yokedcache/yoked/driver"
	"github.com/yokedcache/yoked/metrics/prom"
	"github.com/yokedcache/yoked/otelyoked"
	_ "github.com/yokedcache/yoked/sqlparse/sqlite"
	"github.com/yokedcache/yoked/tagstore/memory"
)

// open opens a fresh SQLite file through yoked with its own store and obs,
// holding table t with two rows.
func open(t *testing.T, obs yoked.Observer) (*sql.DB, *yoked.Cache) {
	t.Helper()
	store, err := memory.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	opts := []yoked.Option{yoked.WithStore(store)}
	if obs != nil {
		opts = append(opts, yoked.WithObserver(obs))
	}
	db, err := yoked.Open("sqlite3", "file:"+filepath.Join(t.TempDir(), "o.db"), opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	for _, q := range []string{`CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)`, `INSERT INTO t VALUES (1, 'a'), (2, 'b')`} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	if err := yoked.WaitCatalog(context.Background(), db); err != nil {
		t.Fatal(err)
	}
	cache, err := yoked.CacheOf(db)
	if err != nil {
		t.Fatal(err)
	}
	return db, cache
}

func read(t *testing.T, ctx context.Context, db interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}, q string) {
	t.Helper()
	var v string
	if err := db.QueryRowContext(ctx, q, 1).Scan(&v); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

// tableTags keeps the table tags of a JSON list of tags (a read is also
// keyed on the schema epoch tag, whose name holds the file's path).
func tableTags(list string) string {
	var keep []string
	for _, t := range strings.Split(strings.Trim(list, "[]"), ",") {
		if strings.HasPrefix(t, `"table:`) {
			keep = append(keep, t)
		}
	}
	return "[" + strings.Join(keep, ",") + "]"
}

func tracer() (*tracetest.InMemoryExporter, *sdktrace.TracerProvider) {
	exp := tracetest.NewInMemoryExporter()
	return exp, sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
}

// attrs is the attributes of an event or span as a map.
func attrs(kvs []attribute.KeyValue) map[attribute.Key]string {
	m := map[attribute.Key]string{}
	for _, kv := range kvs {
		m[kv.Key] = kv.Value.String()
	}
	return m
}

// Without WithSpans, the decisions land on the caller's span: one event per
// read and per write, attributes of the last one.
func TestObserverAnnotatesTheCallersSpan(t *testing.T) {
	exp, tp := tracer()
	db, _ := open(t, otelyoked.NewObserver())
	ctx, span := tp.Tracer("test").Start(context.Background(), "request")
	q := `SELECT v FROM t WHERE id = ?`
	read(t, ctx, db, q)                                                       // miss
	read(t, ctx, db, q)                                                       // hit
	read(t, ctx, db, `SELECT v FROM t WHERE id = ? AND random() IS NOT NULL`) // bypass, not cacheable
	if _, err := db.ExecContext(ctx, `UPDATE t SET v = 'c' WHERE id = 2`); err != nil {
		t.Fatal(err)
	}
	span.End()

	spans := exp.GetSpans()
	if len(spans) != 1 || spans[0].Name != "request" {
		t.Fatalf("spans: %v", spans)
	}
	var got []string
	for _, ev := range spans[0].Events {
		a := attrs(ev.Attributes)
		switch ev.Name {
		case otelyoked.ReadEvent:
			got = append(got, ev.Name+" "+a[otelyoked.OutcomeKey]+" "+a[otelyoked.ReasonKey]+" "+tableTags(a[otelyoked.TagsKey]))
			if a[otelyoked.ReasonKey] == "not_cacheable" && !strings.Contains(a[otelyoked.DetailKey], "random") {
				t.Errorf("bypass detail = %q", a[otelyoked.DetailKey])
			}
		case otelyoked.InvalidateEvent:
			got = append(got, ev.Name+" "+a[otelyoked.InvalidatedKey]+" all="+a[otelyoked.InvalidatedAllKey])
		}
	}
	want := []string{
		`yoked.read miss  ["table:t"]`,
		`yoked.read hit  ["table:t"]`,
		`yoked.read bypass not_cacheable ["table:t"]`,
		`yoked.invalidate ["table:t"] all=false`,
	}
	if !slices.Equal(got, want) {
		t.Errorf("events:\n got %q\nwant %q", got, want)
	}
	if a := attrs(spans[0].Attributes); a[otelyoked.OutcomeKey] != "bypass" || !strings.Contains(a[otelyoked.TagsKey], `"table:t"`) || a[otelyoked.InvalidatedKey] != `["table:t"]` {
		t.Errorf("span attributes (last decision): %v", a)
	}
}

// With WithSpans, each decision is a child span of the caller's, and a
// transaction's commit reports what it invalidated on BeginTx's span.
func TestObserverStartsSpansWhenAsked(t *testing.T) {
	exp, tp := tracer()
	db, _ := open(t, otelyoked.NewObserver(otelyoked.WithSpans(), otelyoked.WithTracerProvider(tp)))
	ctx, span := tp.Tracer("test").Start(context.Background(), "request")
	q := `SELECT v FROM t WHERE id = ?`
	read(t, ctx, db, q)
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	read(t, ctx, tx, q)
	if _, err := tx.ExecContext(ctx, `DELETE FROM t WHERE id = 2`); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	span.End()

	var got []string
	parent := span.SpanContext().SpanID()
	for _, s := range exp.GetSpans() {
		if s.Name == "request" || s.SpanContext.TraceID() != span.SpanContext().TraceID() {
			continue // the request itself, or the setup's writes
		}
		if s.Parent.SpanID() != parent || s.SpanKind != trace.SpanKindInternal {
			t.Errorf("span %s: parent %v kind %v, want the request's and internal", s.Name, s.Parent.SpanID(), s.SpanKind)
		}
		a := attrs(s.Attributes)
		inv := a[otelyoked.InvalidatedKey]
		if inv != "" {
			inv = "invalidated " + a[otelyoked.InvalidatedAllKey]
		}
		got = append(got, s.Name+" "+a[otelyoked.OutcomeKey]+a[otelyoked.ReasonKey]+inv)
	}
	want := []string{"yoked.read miss", "yoked.read bypassin_transaction", "yoked.invalidate invalidated false"}
	if !slices.Equal(got, want) {
		t.Errorf("spans:\n got %q\nwant %q", got, want)
	}
}

// The OpenTelemetry metrics carry the same values as metrics/prom's
// Collector, name for name, after real traffic.
func TestMetricsEqualThePrometheusCollector(t *testing.T) {
	db, cache := open(t, nil)
	ctx := context.Background()
	q := `SELECT v FROM t WHERE id = ?`
	read(t, ctx, db, q)
	read(t, ctx, db, q)
	read(t, yoked.SkipCache(ctx), db, q)
	if _, err := db.Exec(`UPDATE t SET v = 'z' WHERE id = 1`); err != nil {
		t.Fatal(err)
	}
	read(t, ctx, db, q)

	// Both read one snapshot: the memory store settles its byte count in
	// the background, so two reads of a live cache may differ.
	src := frozen{cache.Stats()}
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	reg, err := otelyoked.RegisterMetrics(src, otelyoked.WithMeterProvider(mp), otelyoked.WithAttributes(attribute.String("cache", "test")))
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Unregister()
	promReg := prometheus.NewRegistry()
	promReg.MustRegister(prom.NewCollector(src, prom.Opts{ConstLabels: prometheus.Labels{"cache": "test"}}))

	var rm metricdata.ResourceMetrics
	if err := reader.Collect(ctx, &rm); err != nil {
		t.Fatal(err)
	}
	families, err := promReg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	fromOtel := map[string]float64{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			name := strings.ReplaceAll(m.Name, ".", "_")
			var points []metricdata.DataPoint[int64]
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				name += "_total"
				points = d.DataPoints
			case metricdata.Gauge[int64]:
				points = d.DataPoints
			default:
				t.Fatalf("%s: unexpected data %T", m.Name, m.Data)
			}
			for _, p := range points {
				fromOtel[series(name, p.Attributes.ToSlice())] = float64(p.Value)
			}
		}
	}
	fromProm := map[string]float64{}
	for _, f := range families {
		for _, m := range f.GetMetric() {
			var kv []attribute.KeyValue
			for _, l := range m.GetLabel() {
				kv = append(kv, attribute.String(l.GetName(), l.GetValue()))
			}
			fromProm[series(f.GetName(), kv)] = value(m)
		}
	}
	if len(fromProm) < 16 {
		t.Fatalf("only %d Prometheus series: %v", len(fromProm), fromProm)
	}
	for k, v := range fromProm {
		if o, ok := fromOtel[k]; !ok || o != v {
			t.Errorf("%s: Prometheus %v, OpenTelemetry %v (present %v)", k, v, o, ok)
		}
	}
	for k := range fromOtel {
		if _, ok := fromProm[k]; !ok {
			t.Errorf("%s: only in OpenTelemetry", k)
		}
	}
	if fromOtel[`yoked_cache_hits_total{cache=test}`] != 1 || fromOtel[`yoked_table_misses_total{cache=test,table=t}`] != 2 {
		t.Errorf("hits/misses do not follow the traffic: %v", fromOtel)
	}
}

type frozen struct{ s yoked.Stats }

func (f frozen) Stats() yoked.Stats { return f.s }

func series(name string, kv []attribute.KeyValue) string {
	var parts []string
	for _, a := range kv {
		parts = append(parts, string(a.Key)+"="+a.Value.String())
	}
	slices.Sort(parts)
	return name + "{" + strings.Join(parts, ",") + "}"
}

func value(m *dto.Metric) float64 {
	if c := m.GetCounter(); c != nil {
		return c.GetValue()
	}
	return m.GetGauge().GetValue()
}
