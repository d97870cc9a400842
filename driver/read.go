package driver

import (
	"context"
	"database/sql/driver"
	"errors"
	"strings"
	"time"

	"github.com/yokedcache/yoked/tagstore"
)

// read is the one caching decision of the driver: serve a read from the
// cache (hit), run it and record its result for the cache (miss), or run it
// untouched (bypass, with the reason counted).
func (cn *conn) read(ctx context.Context, p *plan, query string, args []driver.NamedValue, run func() (driver.Rows, error)) (driver.Rows, error) {
	c := cn.c
	stats := &c.cache.stats
	if (cn.recheck || cn.resetCheck) && cn.tx == nil && p.stmt.Cacheable {
		cn.checkSession(ctx)
	}
	if reason := cn.bypassReason(ctx, p); reason != "" {
		cn.bypass(ctx, p, reason, p.lookupTags)
		return run()
	}
	o := optsFrom(ctx)
	var scope string
	tags := p.lookupTags
	if p.rowRead != nil {
		if rt, ok := p.rowRead.tags(args); ok {
			tags = rt
		}
	}
	if o != nil {
		// Extra tags are part of the key: an entry filled without "user:42"
		// must not answer a read that expects InvalidateTags("user:42") to
		// drop it. The scope is a tag too (WithScope adds it to o.tags).
		scope = strings.Join(o.tags, "\x00")
		if len(o.tags) > 0 {
			tags = append(append(make([]string, 0, len(tags)+len(o.tags)), tags...), o.tags...)
		}
	}
	kb, ok := appendKey(cn.keyBuf[:0], cn.identity, scope, query, args)
	cn.keyBuf = kb
	if !ok {
		cn.bypass(ctx, p, skipArgs, tags)
		return run()
	}
	if c.cache.inv.Blocked(tags) {
		cn.bypass(ctx, p, skipBlocked, tags)
		return run()
	}
	key := string(kb)
	store := c.cache.store
	var stamp tagstore.Stamp
	if sk := cn.skipped; sk != nil && sk.key == key {
		// database/sql runs this read again through a prepared statement
		// after the base answered driver.ErrSkip: the store was asked already
		// and said miss. Its stamp, older than this run, is still safe.
		cn.skipped = nil
		stamp = sk.stamp
	} else if o != nil && o.refresh {
		st, err := store.Stamp(ctx, tags)
		if err != nil {
			cn.bypass(ctx, p, skipStore, tags)
			return run()
		}
		stamp = st
	} else {
		v, hit, st, err := store.Lookup(ctx, key, tags)
		if err != nil {
			if errors.Is(err, tagstore.ErrInFlight) {
				cn.bypass(ctx, p, skipInFlight, tags)
			} else {
				cn.bypass(ctx, p, skipStore, tags)
			}
			return run()
		}
		if hit {
			if res, ok := v.(*result); ok {
				stats.hits.Add(1)
				for _, tc := range p.tables {
					tc.hits.Add(1)
				}
				if obs := c.cfg.Observer; obs != nil {
					obs.Read(ctx, ReadEvent{Outcome: Hit, Tags: tags})
				}
				return &cachedRows{res: res}, nil
			}
			// A foreign value under our key: never serve it.
			cn.bypass(ctx, p, skipStore, tags)
			return run()
		}
		stamp = st
	}
	if sch := cn.sch; sch != nil && !sch.stampFresh(ctx, c, cn.base, stamp, p.state) {
		// Planned with a catalog older than the schema the stamp is of.
		cn.bypass(ctx, p, skipCatalogLoading, tags)
		return run()
	}
	cn.skipped = nil
	rows, err := run()
	if errors.Is(err, driver.ErrSkip) {
		// Not run: the miss is counted once, when database/sql retries.
		cn.skipped = &skippedRead{key: key, stamp: stamp}
		return rows, err
	}
	stats.misses.Add(1)
	for _, tc := range p.tables {
		tc.misses.Add(1)
	}
	if obs := c.cfg.Observer; obs != nil {
		obs.Read(ctx, ReadEvent{Outcome: Miss, Tags: tags})
	}
	if err != nil {
		return rows, err
	}
	ttl := c.cfg.TTL
	if o != nil && o.ttl > 0 {
		ttl = o.ttl
	}
	return newRecRows(rows, cn.c, key, stamp, ttl), nil
}

// skippedRead is a miss the base answered with driver.ErrSkip (go-sql-driver/mysql
// without interpolateParams): database/sql prepares the statement and runs it
// at once on the same connection, and that run reuses the lookup.
type skippedRead struct {
	key   string
	stamp tagstore.Stamp
}

// bypass counts a read that goes to the database without the cache, and
// tells the Observer.
func (cn *conn) bypass(ctx context.Context, p *plan, reason string, tags []string) {
	cn.c.cache.stats.skip(reason)
	if obs := cn.c.cfg.Observer; obs != nil {
		ev := ReadEvent{Outcome: Bypass, Reason: reason, Tags: tags}
		if reason == skipNotCached {
			ev.Detail = p.stmt.Reason
		}
		obs.Read(ctx, ev)
	}
}

// bypassReason says why a read must not use the cache, or "" when it may.
func (cn *conn) bypassReason(ctx context.Context, p *plan) string {
	switch {
	case cn.tx != nil:
		return skipTx
	case cn.tainted:
		return skipTainted
	case cn.identity == "":
		return skipUnidentified
	case cn.skip != "":
		return cn.skip
	case p.bypass != "":
		if cn.sch != nil {
			cn.sch.ensure(ctx, cn.c, cn.base) // a failed read may be due again
		}
		return p.bypass
	case !p.stmt.Cacheable:
		return skipNotCached
	}
	o := optsFrom(ctx)
	if o != nil && o.skip {
		return skipContext
	}
	if p.needsScope && (o == nil || !o.scoped) {
		return skipUnscoped
	}
	if cn.c.feed != nil && !cn.c.feed.fresh(ctx) {
		return skipFeedLag
	}
	return ""
}

// store puts a complete result in the cache under the stamp taken before the
// query ran.
func (c *connector) store(key string, res *result, stamp tagstore.Stamp, ttl time.Duration) {
	if err := c.cache.store.Set(context.Background(), key, res, res.size, ttl, stamp); err != nil {
		c.cfg.Logger.Debug("yoked: cache store failed", "err", err)
		return
	}
	c.cache.stats.stores.Add(1)
}

// invalidate makes a write visible (see invalidator.Invalidator.Invalidate).
func (c *connector) invalidate(ctx context.Context, tags []string, all bool) {
	if len(tags) == 0 && !all {
		return
	}
	c.cache.stats.invalidated(tags)
	c.cache.inv.Invalidate(ctx, tags, all)
	c.observeInvalidate(ctx, tags, all)
}

// observeInvalidate tells the Observer, if any, what a write invalidated.
func (c *connector) observeInvalidate(ctx context.Context, tags []string, all bool) {
	if obs := c.cfg.Observer; obs != nil {
		obs.Invalidate(ctx, tags, all)
	}
}
