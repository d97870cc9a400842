package driver

import (
	"context"
	"time"
)

// queryOpts are the per-query controls carried by a context.
type queryOpts struct {
	skip    bool
	refresh bool
	ttl     time.Duration
	tags    []string // extra tags, the scope included; part of the cache key
	scoped  bool     // WithScope was given: reads of row-level-security tables may be cached
}

type ctxKey struct{}

func optsFrom(ctx context.Context) *queryOpts {
	o, _ := ctx.Value(ctxKey{}).(*queryOpts)
	return o
}

func withOpts(ctx context.Context, f func(*queryOpts)) context.Context {
	o := queryOpts{}
	if old := optsFrom(ctx); old != nil {
		o = *old
		o.tags = append([]string(nil), old.tags...)
	}
	f(&o)
	return context.WithValue(ctx, ctxKey{}, &o)
}

// SkipCache returns a context whose queries neither read nor fill the cache.
// Writes made with it are still invalidated.
func SkipCache(ctx context.Context) context.Context {
	return withOpts(ctx, func(o *queryOpts) { o.skip = true })
}

// Refresh returns a context whose reads go to the database and replace the
// cached result.
func Refresh(ctx context.Context) context.Context {
	return withOpts(ctx, func(o *queryOpts) { o.refresh = true })
}

// WithQueryTTL returns a context whose cached reads live for ttl instead of
// the configured TTL. A ttl ≤ 0 is ignored.
func WithQueryTTL(ctx context.Context, ttl time.Duration) context.Context {
	return withOpts(ctx, func(o *queryOpts) {
		if ttl > 0 {
			o.ttl = ttl
		}
	})
}

// WithTags returns a context whose cached reads also carry tags (such as
// "user:42" or "tenant:acme"), so that Cache.InvalidateTags or a pattern can
// drop them. Reads with different extra tags are cached apart, so a result
// cached without a tag never answers a read that carries it.
func WithTags(ctx context.Context, tags ...string) context.Context {
	return withOpts(ctx, func(o *queryOpts) { o.tags = append(o.tags, tags...) })
}

// WithScope returns a context whose reads are cached apart from reads of
// any other scope (it is part of the cache key) and tagged with the scope.
// Use it for results that depend on who asks, for example under row-level
// security: WithScope(ctx, "tenant:acme").
func WithScope(ctx context.Context, scope string) context.Context {
	return withOpts(ctx, func(o *queryOpts) {
		if scope != "" {
			o.tags = append(o.tags, scope)
			o.scoped = true
		}
	})
}
