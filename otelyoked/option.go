package otelyoked

import (
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
)

// ScopeName is the instrumentation scope of yoked's tracer and meter.
const ScopeName = "github.com/yokedcache/yoked/otelyoked"

// Option configures NewObserver and RegisterMetrics.
type Option func(*config)

type config struct {
	tp    trace.TracerProvider
	mp    metric.MeterProvider
	spans bool
	ns    string
	attrs []attribute.KeyValue
}

func newConfig(opts []Option) config {
	c := config{ns: "yoked"}
	for _, o := range opts {
		if o != nil {
			o(&c)
		}
	}
	if c.tp == nil {
		c.tp = otel.GetTracerProvider()
	}
	if c.mp == nil {
		c.mp = otel.GetMeterProvider()
	}
	return c
}

// WithTracerProvider sets the provider of the tracer WithSpans uses
// (default: the global one).
func WithTracerProvider(tp trace.TracerProvider) Option { return func(c *config) { c.tp = tp } }

// WithMeterProvider sets the provider of RegisterMetrics' meter (default:
// the global one).
func WithMeterProvider(mp metric.MeterProvider) Option { return func(c *config) { c.mp = mp } }

// WithSpans makes the Observer start a span of its own, a child of the
// caller's, for each read decision ("yoked.read") and each invalidation
// ("yoked.invalidate"), instead of annotating the caller's span. These spans
// mark the decision; they do not time the database call (otelsql does).
func WithSpans() Option { return func(c *config) { c.spans = true } }

// WithNamespace sets the first part of every metric name (default "yoked"),
// as metrics/prom's Opts.Namespace does.
func WithNamespace(ns string) Option { return func(c *config) { c.ns = ns } }

// WithAttributes adds attributes to every metric, as metrics/prom's
// Opts.ConstLabels does (for example cache=billing when a process has
// several caches).
func WithAttributes(kv ...attribute.KeyValue) Option {
	return func(c *config) { c.attrs = append(c.attrs, kv...) }
}
