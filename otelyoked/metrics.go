package otelyoked

import (
	"context"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/yokedcache/yoked/driver"
)

// Source is what RegisterMetrics reads; *driver.Cache satisfies it.
type Source interface {
	Stats() driver.Stats
}

// RegisterMetrics registers, on the meter of the MeterProvider option,
// observable instruments that read src.Stats() once per collection: the
// counters and gauges of metrics/prom's Collector under the same names in
// OpenTelemetry's form (yoked.cache.hits for yoked_cache_hits_total; an
// OpenTelemetry Prometheus exporter gives the same names back). Unregister
// the returned Registration to stop.
func RegisterMetrics(src Source, opts ...Option) (metric.Registration, error) {
	c := newConfig(opts)
	m := c.mp.Meter(ScopeName)
	name := func(n string) string { return c.ns + "." + n }
	var err error
	counter := func(n, unit, desc string) metric.Int64ObservableCounter {
		if err != nil {
			return nil
		}
		var in metric.Int64ObservableCounter
		in, err = m.Int64ObservableCounter(name(n), metric.WithUnit(unit), metric.WithDescription(desc))
		return in
	}
	gauge := func(n, unit, desc string) metric.Int64ObservableGauge {
		if err != nil {
			return nil
		}
		var in metric.Int64ObservableGauge
		in, err = m.Int64ObservableGauge(name(n), metric.WithUnit(unit), metric.WithDescription(desc))
		return in
	}
	hits := counter("cache.hits", "{read}", "Reads served from the cache.")
	misses := counter("cache.misses", "{read}", "Cacheable reads that went to the database and were offered to the cache.")
	stores := counter("cache.stores", "{result}", "Results stored in the cache.")
	invs := counter("cache.invalidations", "{write}", "Writes that invalidated tags (one per autocommit write or committed transaction).")
	skips := counter("cache.skips", "{read}", "Reads that bypassed the cache, by reason.")
	storeHits := counter("store.hits", "{lookup}", "Lookups the tag store answered with an entry.")
	storeMisses := counter("store.misses", "{lookup}", "Lookups the tag store answered without an entry.")
	storeErrors := counter("store.errors", "{operation}", "Tag store operations that failed (the read then went to the database).")
	entries := gauge("store.entries", "{entry}", "Entries held by the tag store (absent when the store cannot tell cheaply).")
	bytes := gauge("store.bytes", "By", "Bytes held by the tag store (absent when the store cannot tell cheaply).")
	invFailures := counter("invalidation.failures", "{invalidation}", "Invalidations the store refused; their tags stay blocked until a retry succeeds.")
	invRetries := counter("invalidation.retries", "{invalidation}", "Retries of failed invalidations.")
	invPending := gauge("invalidations.pending", "{tag}", "Tags whose invalidation has not reached the store yet (reads of them bypass the cache).")
	tableHits := counter("table.hits", "{read}", "Cache hits of reads of a table.")
	tableMisses := counter("table.misses", "{read}", "Cache misses of reads of a table.")
	tableInvs := counter("table.invalidations", "{invalidation}", "Invalidations of a table's tag.")
	if err != nil {
		return nil, err
	}
	base := metric.WithAttributes(c.attrs...)
	with := func(kv attribute.KeyValue) metric.ObserveOption {
		return metric.WithAttributes(append(append([]attribute.KeyValue(nil), c.attrs...), kv)...)
	}
	return m.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		s := src.Stats()
		o.ObserveInt64(hits, int64(s.Hits), base)
		o.ObserveInt64(misses, int64(s.Misses), base)
		o.ObserveInt64(stores, int64(s.Stores), base)
		o.ObserveInt64(invs, int64(s.Invalidations), base)
		for reason, n := range s.Skips {
			o.ObserveInt64(skips, int64(n), with(attribute.String("reason", reason)))
		}
		o.ObserveInt64(storeHits, int64(s.Store.Hits), base)
		o.ObserveInt64(storeMisses, int64(s.Store.Misses), base)
		o.ObserveInt64(storeErrors, int64(s.Store.Errors), base)
		if s.Store.Entries >= 0 {
			o.ObserveInt64(entries, s.Store.Entries, base)
		}
		if s.Store.Bytes >= 0 {
			o.ObserveInt64(bytes, s.Store.Bytes, base)
		}
		o.ObserveInt64(invFailures, int64(s.Invalidator.Failures), base)
		o.ObserveInt64(invRetries, int64(s.Invalidator.Retries), base)
		o.ObserveInt64(invPending, int64(s.Invalidator.Pending), base)
		for tag, t := range s.Tables {
			table := with(attribute.String("table", strings.TrimPrefix(tag, driver.TablePrefix)))
			o.ObserveInt64(tableHits, int64(t.Hits), table)
			o.ObserveInt64(tableMisses, int64(t.Misses), table)
			o.ObserveInt64(tableInvs, int64(t.Invalidations), table)
		}
		return nil
	}, hits, misses, stores, invs, skips, storeHits, storeMisses, storeErrors, entries, bytes,
		invFailures, invRetries, invPending, tableHits, tableMisses, tableInvs)
}
