// Package prom exports a yoked cache's counters to Prometheus. It is a
// package of its own so that applications that do not use Prometheus do not
// link its client.
//
// A Collector reads driver.Cache.Stats on every scrape; it keeps no state
// and costs nothing between scrapes. Register one per Cache (per store):
//
//	cache, _ := driver.CacheOf(db)
//	prometheus.MustRegister(prom.NewCollector(cache, prom.Opts{}))
package prom
