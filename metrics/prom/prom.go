package prom

import (
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/yokedcache/yoked/driver"
)

// Source is what a Collector reads; *driver.Cache satisfies it.
type Source interface {
	Stats() driver.Stats
}

// Opts tune a Collector. The zero value is usable.
type Opts struct {
	// Namespace prefixes every metric name (default "yoked").
	Namespace string
	// ConstLabels are added to every metric, for example
	// {"cache": "billing"} when a process has several caches.
	ConstLabels prometheus.Labels
}

// Collector is a prometheus.Collector over a Source. It is safe for
// concurrent scrapes.
type Collector struct {
	src Source

	hits, misses, stores, invalidations, skips *prometheus.Desc
	storeHits, storeMisses, storeErrors        *prometheus.Desc
	entries, bytes                             *prometheus.Desc
	invFailures, invRetries, invPending        *prometheus.Desc
	tableHits, tableMisses, tableInvalidations *prometheus.Desc
}

var _ prometheus.Collector = (*Collector)(nil)

// NewCollector returns a Collector reading src.
func NewCollector(src Source, o Opts) *Collector {
	ns := o.Namespace
	if ns == "" {
		ns = "yoked"
	}
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(prometheus.BuildFQName(ns, "", name), help, labels, o.ConstLabels)
	}
	return &Collector{
		src:           src,
		hits:          d("cache_hits_total", "Reads served from the cache."),
		misses:        d("cache_misses_total", "Cacheable reads that went to the database and were offered to the cache."),
		stores:        d("cache_stores_total", "Results stored in the cache."),
		invalidations: d("cache_invalidations_total", "Writes that invalidated tags (one per autocommit write or committed transaction)."),
		skips:         d("cache_skips_total", "Reads that bypassed the cache, by reason.", "reason"),
		storeHits:     d("store_hits_total", "Lookups the tag store answered with an entry."),
		storeMisses:   d("store_misses_total", "Lookups the tag store answered without an entry."),
		storeErrors:   d("store_errors_total", "Tag store operations that failed (the read then went to the database)."),
		entries:       d("store_entries", "Entries held by the tag store (absent when the store cannot tell cheaply)."),
		bytes:         d("store_bytes", "Bytes held by the tag store (absent when the store cannot tell cheaply)."),
		invFailures:   d("invalidation_failures_total", "Invalidations the store refused; their tags stay blocked until a retry succeeds."),
		invRetries:    d("invalidation_retries_total", "Retries of failed invalidations."),
		invPending:    d("invalidations_pending", "Tags whose invalidation has not reached the store yet (reads of them bypass the cache)."),

		tableHits:          d("table_hits_total", "Cache hits of reads of a table.", "table"),
		tableMisses:        d("table_misses_total", "Cache misses of reads of a table.", "table"),
		tableInvalidations: d("table_invalidations_total", "Invalidations of a table's tag.", "table"),
	}
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.hits, c.misses, c.stores, c.invalidations, c.skips,
		c.storeHits, c.storeMisses, c.storeErrors, c.entries, c.bytes, c.invFailures, c.invRetries, c.invPending,
		c.tableHits, c.tableMisses, c.tableInvalidations} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	s := c.src.Stats()
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	gauge := func(d *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v)
	}
	counter(c.hits, s.Hits)
	counter(c.misses, s.Misses)
	counter(c.stores, s.Stores)
	counter(c.invalidations, s.Invalidations)
	for reason, n := range s.Skips {
		counter(c.skips, n, reason)
	}
	counter(c.storeHits, s.Store.Hits)
	counter(c.storeMisses, s.Store.Misses)
	counter(c.storeErrors, s.Store.Errors)
	if s.Store.Entries >= 0 {
		gauge(c.entries, float64(s.Store.Entries))
	}
	if s.Store.Bytes >= 0 {
		gauge(c.bytes, float64(s.Store.Bytes))
	}
	counter(c.invFailures, s.Invalidator.Failures)
	counter(c.invRetries, s.Invalidator.Retries)
	gauge(c.invPending, float64(s.Invalidator.Pending))
	for tag, t := range s.Tables {
		table := strings.TrimPrefix(tag, driver.TablePrefix)
		counter(c.tableHits, t.Hits, table)
		counter(c.tableMisses, t.Misses, table)
		counter(c.tableInvalidations, t.Invalidations, table)
	}
}
