// Package otelyoked reports yoked's cache to OpenTelemetry.
//
// NewObserver returns a driver.Observer (give it to driver.WithObserver): each
// read's span gets the decision (hit, miss or bypass and why) and the tags
// the read is keyed on, and each write's span the tags it invalidated. The
// span is the caller's current one, which is otelsql's query span when
// otelsql wraps yoked; with WithSpans yoked starts a child span of its own
// for each decision instead. RegisterMetrics exports, as OpenTelemetry
// metrics, the same counters and gauges that metrics/prom's Collector
// exports to Prometheus.
//
// It is a package of its own so that programs that do not use OpenTelemetry
// do not link it.
package otelyoked
