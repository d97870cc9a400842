package changefeed

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Collector is a prometheus.Collector over a Watcher's Stats: whether it is
// active, its lag, events, transactions, invalidations, resets and errors,
// and the invalidation lag quantiles. It is safe for concurrent scrapes.
type Collector struct {
	w                                          *Watcher
	active, lag, events, txs, invs, resets, er *prometheus.Desc
	invLag                                     *prometheus.Desc
}

var _ prometheus.Collector = (*Collector)(nil)

// NewCollector returns a Collector for w; namespace prefixes the metric
// names (default "yoked").
func NewCollector(w *Watcher, namespace string, constLabels prometheus.Labels) *Collector {
	if namespace == "" {
		namespace = "yoked"
	}
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(prometheus.BuildFQName(namespace, "changefeed", name), help, labels, constLabels)
	}
	return &Collector{
		w:      w,
		active: d("active", "1 while this watcher holds the lease and streams, 0 while it stands by."),
		lag:    d("lag_seconds", "Age of the last heartbeat this watcher wrote (readers bypass the cache when the heartbeat is older than their max lag)."),
		events: d("events_total", "Row changes and DDL read from committed transactions."),
		txs:    d("transactions_total", "Committed transactions applied to the store."),
		invs:   d("invalidations_total", "Tags invalidated (a whole-namespace invalidation counts one)."),
		resets: d("resets_total", "Whole-namespace invalidations because the stream position was new or lost."),
		er:     d("errors_total", "Failures of the connection, the stream or the store (each retried)."),
		invLag: d("invalidation_lag_seconds", "Commit to store acknowledgement over recent transactions.", "quantile"),
	}
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.active, c.lag, c.events, c.txs, c.invs, c.resets, c.er, c.invLag} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	s := c.w.Stats()
	active := 0.0
	if s.Active {
		active = 1
	}
	ch <- prometheus.MustNewConstMetric(c.active, prometheus.GaugeValue, active)
	if !s.Heartbeat.IsZero() {
		ch <- prometheus.MustNewConstMetric(c.lag, prometheus.GaugeValue, time.Since(s.Heartbeat).Seconds())
	}
	for _, m := range []struct {
		d *prometheus.Desc
		v uint64
	}{{c.events, s.Events}, {c.txs, s.Transactions}, {c.invs, s.Invalidations}, {c.resets, s.Resets}, {c.er, s.Errors}} {
		ch <- prometheus.MustNewConstMetric(m.d, prometheus.CounterValue, float64(m.v))
	}
	for q, v := range map[string]time.Duration{"0.5": s.LagP50, "0.99": s.LagP99, "1": s.LagMax} {
		ch <- prometheus.MustNewConstMetric(c.invLag, prometheus.GaugeValue, v.Seconds(), q)
	}
}
