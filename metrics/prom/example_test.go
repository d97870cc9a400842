package prom_test

import (
	"log"
	"net/http"

	_ "github.com/mattn/go-sqlite3"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	yoked "github.com/yokedcache/yoked/driver"
	"github.com/yokedcache/yoked/metrics/prom"
)

// Export the counters of the cache behind a DB on /metrics.
func ExampleNewCollector() {
	db, err := yoked.Open("sqlite3", "file:app.db")
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	cache, err := yoked.CacheOf(db)
	if err != nil {
		log.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(prom.NewCollector(cache, prom.Opts{ConstLabels: prometheus.Labels{"db": "app"}}))
	http.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
}
