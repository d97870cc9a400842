package driver

import (
	"context"
	"errors"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/yokedcache/yoked/invalidator"
	"github.com/yokedcache/yoked/tagstore"
	"github.com/yokedcache/yoked/tagstore/memory"
)

// caches holds one Cache per store, so that every DB of the process using a
// store consults the same invalidator (pending invalidations block reads of
// all of them). Stores the driver opened (by URL, or on a client given with
// WithRedisClient) are shared by every DB of the process with the same URL
// (or client) and namespace, counted, and closed when the last DB using
// them is closed; a store given with WithStore is never closed by yoked.
var caches struct {
	sync.Mutex
	byStore map[tagstore.Store]*Cache
	byName  map[string]*Cache // stores the driver opened, by URL+namespace
}

// acquireCache returns the Cache of the configured store, opening the store
// if needed, and counts one more user of it. Release it with releaseCache.
func acquireCache(cfg *Config) (*Cache, error) {
	caches.Lock()
	defer caches.Unlock()
	if caches.byStore == nil {
		caches.byStore = map[tagstore.Store]*Cache{}
		caches.byName = map[string]*Cache{}
	}
	if cfg.Store != nil {
		c := caches.byStore[cfg.Store]
		if c == nil {
			if err := checkCodec(cfg.Store); err != nil {
				return nil, err
			}
			c = newCache(cfg.Store, cfg)
			caches.byStore[cfg.Store] = c
		}
		c.refs++
		return c, nil
	}
	name, open := cfg.storeName()
	if c := caches.byName[name]; c != nil {
		c.refs++
		return c, nil
	}
	s, err := open()
	if err != nil {
		return nil, err
	}
	c := newCache(s, cfg)
	c.name, c.owned, c.refs = name, true, 1
	caches.byStore[s] = c
	caches.byName[name] = c
	return c, nil
}

func newCache(s tagstore.Store, cfg *Config) *Cache {
	return &Cache{store: s, inv: invalidator.New(s, invalidator.Options{Logger: cfg.Logger})}
}

// releaseCache counts one user less of c. The last release of a store the
// driver opened first retries its pending invalidations once (bounded by
// closeTimeout), then stops the invalidator and closes the store (which
// pushes its shared counters).
func releaseCache(c *Cache) error {
	caches.Lock()
	c.refs--
	last := c.refs == 0
	if last {
		delete(caches.byStore, c.store)
		if c.name != "" {
			delete(caches.byName, c.name)
		}
	}
	caches.Unlock()
	if !last {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
	defer cancel()
	err := c.inv.Drain(ctx)
	c.inv.Close()
	if c.owned {
		err = errors.Join(err, c.store.Close())
	}
	return err
}

// closeTimeout bounds the last retry of pending invalidations at Close.
const closeTimeout = time.Second

// storeName returns the sharing key of the configured store and a function
// that opens it.
func (cfg *Config) storeName() (string, func() (tagstore.Store, error)) {
	l1 := "|l1=" + strconv.FormatBool(cfg.l1On()) // stores with and without an L1 differ
	if cfg.openStore != nil {
		return cfg.openStoreName + "|" + cfg.Namespace + l1, func() (tagstore.Store, error) { return cfg.openStore(cfg) }
	}
	u := cfg.StoreURL
	if u == "" {
		u = "memory"
	}
	return u + "|" + cfg.Namespace + l1, func() (tagstore.Store, error) { return openStore(u, cfg) }
}

func openStore(raw string, cfg *Config) (tagstore.Store, error) {
	if raw == "memory" {
		return memory.New(nil)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, configErr("store URL %q: %v", raw, err)
	}
	switch strings.ToLower(u.Scheme) {
	case "memory":
		opt := &memory.Options{}
		if v := u.Query().Get("max_bytes"); v != "" {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n <= 0 {
				return nil, configErr("store URL %q: max_bytes must be a positive integer", raw)
			}
			opt.MaxBytes = n
		}
		return memory.New(opt)
	case "redis", "rediss", "redis-cluster", "rediss-cluster", "unix":
		if openRedis == nil {
			return nil, configErr("store URL %q: the Redis store is not available in this build", raw)
		}
		return openRedis(raw, cfg)
	}
	return nil, configErr("store URL %q: unknown scheme %q (want memory, redis, rediss, redis-cluster, rediss-cluster or unix)", raw, u.Scheme)
}

// openRedis opens a Redis store (redis.go).
var openRedis func(url string, cfg *Config) (tagstore.Store, error)
