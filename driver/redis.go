package driver

import (
	"net/url"
	"strconv"
	"time"

	"github.com/yokedcache/yoked/tagstore"
	"github.com/yokedcache/yoked/tagstore/memory"
	"github.com/yokedcache/yoked/tagstore/redisstore"
)

func init() { openRedis = openRedisStore }

// openRedisStore opens the Redis store named by a YOKED_STORE URL. Besides
// what the Redis store understands (namespace, timeout and go-redis client
// options), the query may carry l1=true to add an in-process near-cache, and
// l1_ttl=<duration> to bound its entries.
func openRedisStore(raw string, cfg *Config) (tagstore.Store, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, configErr("store URL: %v", err)
	}
	q := u.Query()
	opt := redisstore.Options{Namespace: cfg.Namespace, Codec: resultCodec{}, Logger: cfg.Logger, DefaultTTL: cfg.TTL}
	if v := q.Get("l1"); v != "" {
		on, err := strconv.ParseBool(v)
		if err != nil {
			return nil, configErr("store URL: l1=%q is not a boolean", v)
		}
		if on {
			l1, err := memory.New(nil)
			if err != nil {
				return nil, err
			}
			opt.L1 = l1
		}
	}
	if v := q.Get("l1_ttl"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return nil, configErr("store URL: l1_ttl=%q is not a positive duration", v)
		}
		opt.L1TTL = d
	}
	q.Del("l1")
	q.Del("l1_ttl")
	u.RawQuery = q.Encode()
	s, err := redisstore.NewFromURL(u.String(), opt)
	if err != nil {
		if opt.L1 != nil {
			opt.L1.Close()
		}
		return nil, configErr("%v", err)
	}
	return s, nil
}
