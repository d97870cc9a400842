package driver

import (
	"fmt"
	"net/url"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/yokedcache/yoked/tagstore"
	"github.com/yokedcache/yoked/tagstore/memory"
	"github.com/yokedcache/yoked/tagstore/redisstore"
)

func init() { openRedis = openRedisStore }

// openRedisStore opens the Redis store named by a YOKED_STORE URL. Besides
// what the Redis store understands (namespace, timeout and go-redis client
// options), the query may carry l1_ttl=<duration> to bound the entries of
// the in-process near-cache (l1= itself is read with the configuration,
// see WithL1).
func openRedisStore(raw string, cfg *Config) (tagstore.Store, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, configErr("store URL: %v", err)
	}
	q := u.Query()
	opt := redisOptions(cfg)
	if v := q.Get("l1_ttl"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return nil, configErr("store URL: l1_ttl=%q is not a positive duration", v)
		}
		opt.L1TTL = d
	}
	q.Del("l1_ttl")
	u.RawQuery = q.Encode()
	if err := addL1(&opt, cfg); err != nil {
		return nil, err
	}
	s, err := redisstore.NewFromURL(u.String(), opt)
	if err != nil {
		if opt.L1 != nil {
			opt.L1.Close()
		}
		return nil, configErr("%v", err)
	}
	return s, nil
}

// l1On reports whether cfg wants the Redis store's L1 (WithL1).
func (cfg *Config) l1On() bool { return cfg.L1 == nil || *cfg.L1 }

// addL1 gives opt an in-process L1 when cfg wants one and opt has none.
func addL1(opt *redisstore.Options, cfg *Config) error {
	if opt.L1 != nil || !cfg.l1On() {
		return nil
	}
	l1, err := memory.New(nil)
	if err != nil {
		return err
	}
	opt.L1 = l1
	return nil
}

// redisOptions are the Redis store options yoked derives from cfg.
func redisOptions(cfg *Config) redisstore.Options {
	opt := redisstore.Options{Namespace: cfg.Namespace, Codec: resultCodec{}, Logger: cfg.Logger, DefaultTTL: cfg.TTL}
	if cfg.defaultLogger {
		opt.Logger = nil // the store's default: its first failure still reaches slog.Default()
	}
	return opt
}

// ResultCodec returns the codec yoked stores query results with. A store
// given to WithStore that keeps values outside the process must use it:
// redisstore.New(client, redisstore.Options{Codec: yoked.ResultCodec(), …}).
func ResultCodec() tagstore.Codec { return resultCodec{} }

// WithRedisClient makes the cache a Redis store on client, an existing
// go-redis client (one node, Sentinel failover, Cluster or Ring, with your
// TLS configuration and dialer), in the configured namespace. yoked shares
// the store between the DBs of the process opened with the same client and
// namespace, and closes it with the last of them; it never closes client.
// For Options.Timeout to cut network waits, build client with
// ContextTimeoutEnabled. opt tunes the store (L1, timeouts, fence); its
// Namespace, Codec, Logger and DefaultTTL are set by yoked, and its L1 is
// an in-process memory store when nil, unless WithL1(false).
func WithRedisClient(client redis.UniversalClient, opt redisstore.Options) Option {
	return func(c *Config) {
		c.openStoreName = fmt.Sprintf("client:%p", client)
		c.openStore = func(cfg *Config) (tagstore.Store, error) {
			o := redisOptions(cfg)
			opt.Namespace, opt.Codec, opt.Logger, opt.DefaultTTL = o.Namespace, o.Codec, o.Logger, o.DefaultTTL
			given := opt.L1 != nil
			if err := addL1(&opt, cfg); err != nil {
				return nil, err
			}
			s, err := redisstore.New(client, opt)
			if err != nil {
				if opt.L1 != nil && !given {
					opt.L1.Close()
				}
				return nil, configErr("%v", err)
			}
			return s, nil
		}
	}
}

// checkCodec refuses a store given to WithStore that encodes values with a
// codec other than yoked's: it could store no result (issue: a Redis store
// built with the default BytesCodec cached nothing, silently).
func checkCodec(s tagstore.Store) error {
	cs, ok := s.(interface{ Codec() tagstore.Codec })
	if !ok {
		return nil
	}
	if _, ok := cs.Codec().(resultCodec); !ok {
		return configErr("the store given to WithStore encodes values with %T, which cannot hold query results: build it with Codec: yoked.ResultCodec(), or use WithRedisClient or WithStoreURL", cs.Codec())
	}
	return nil
}
