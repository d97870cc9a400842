package driver

import (
	"net/url"
	"strconv"
	"strings"

	"github.com/yokedcache/yoked/tagstore"
	"github.com/yokedcache/yoked/tagstore/memory"
)

// storeFor returns the configured store. Default stores are shared by every
// DB of the process with the same store URL and namespace: a write through
// one DB must invalidate what another DB cached.
func storeFor(cfg *Config) (tagstore.Store, error) {
	if cfg.Store != nil {
		return cfg.Store, nil
	}
	u := cfg.StoreURL
	if u == "" {
		u = "memory"
	}
	name := u + "|" + cfg.Namespace
	caches.Lock()
	defer caches.Unlock()
	if s, ok := caches.byName[name]; ok {
		return s, nil
	}
	s, err := openStore(u, cfg)
	if err != nil {
		return nil, err
	}
	if caches.byName == nil {
		caches.byName = map[string]tagstore.Store{}
	}
	caches.byName[name] = s
	return s, nil
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
