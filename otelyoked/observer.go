package otelyoked

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/yokedcache/yoked/driver"
)

// Attribute keys set on spans.
const (
	// OutcomeKey is "hit", "miss" or "bypass".
	OutcomeKey = attribute.Key("yoked.cache.outcome")
	// ReasonKey is why a read bypassed the cache, as in driver.Stats.Skips.
	ReasonKey = attribute.Key("yoked.cache.reason")
	// DetailKey is the parser's reason for a not_cacheable bypass.
	DetailKey = attribute.Key("yoked.cache.reason_detail")
	// TagsKey are the tags a read is keyed on.
	TagsKey = attribute.Key("yoked.cache.tags")
	// InvalidatedKey are the tags a write invalidated.
	InvalidatedKey = attribute.Key("yoked.invalidated.tags")
	// InvalidatedAllKey is true when a write invalidated every table.
	InvalidatedAllKey = attribute.Key("yoked.invalidated.all")
)

// Event names added to spans, one per decision.
const (
	ReadEvent       = "yoked.read"
	InvalidateEvent = "yoked.invalidate"
)

var _ driver.Observer = (*Observer)(nil)

// Observer is a driver.Observer that writes yoked's decisions to trace
// spans. It is safe for concurrent use.
type Observer struct {
	tracer trace.Tracer // nil: annotate the caller's span
}

// NewObserver returns an Observer; see WithSpans and WithTracerProvider.
func NewObserver(opts ...Option) *Observer {
	c := newConfig(opts)
	o := &Observer{}
	if c.spans {
		o.tracer = c.tp.Tracer(ScopeName)
	}
	return o
}

// span returns the span to annotate and a function that ends it when the
// Observer started it.
func (o *Observer) span(ctx context.Context, name string) (trace.Span, bool) {
	if o.tracer == nil {
		return trace.SpanFromContext(ctx), false
	}
	_, s := o.tracer.Start(ctx, name, trace.WithSpanKind(trace.SpanKindInternal))
	return s, true
}

// Read sets the outcome, reason and tags of a read on its span, as
// attributes (the last decision wins on a span covering several reads) and
// as a "yoked.read" event (one per read).
func (o *Observer) Read(ctx context.Context, ev driver.ReadEvent) {
	s, own := o.span(ctx, ReadEvent)
	if own {
		defer s.End()
	}
	if !s.IsRecording() {
		return
	}
	attrs := make([]attribute.KeyValue, 0, 4)
	attrs = append(attrs, OutcomeKey.String(ev.Outcome.String()), TagsKey.StringSlice(ev.Tags))
	if ev.Reason != "" {
		attrs = append(attrs, ReasonKey.String(ev.Reason))
	}
	if ev.Detail != "" {
		attrs = append(attrs, DetailKey.String(ev.Detail))
	}
	s.SetAttributes(attrs...)
	s.AddEvent(ReadEvent, trace.WithAttributes(attrs...))
}

// Invalidate sets the tags a write invalidated on its span, as attributes
// and as a "yoked.invalidate" event.
func (o *Observer) Invalidate(ctx context.Context, tags []string, all bool) {
	s, own := o.span(ctx, InvalidateEvent)
	if own {
		defer s.End()
	}
	if !s.IsRecording() {
		return
	}
	attrs := []attribute.KeyValue{InvalidatedKey.StringSlice(tags), InvalidatedAllKey.Bool(all)}
	s.SetAttributes(attrs...)
	s.AddEvent(InvalidateEvent, trace.WithAttributes(attrs...))
}
