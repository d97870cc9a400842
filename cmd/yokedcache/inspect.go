package main

import (
	"context"
	"path"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/redis/go-redis/v9"
)

// The Redis store offers no listing API yet, so list, get, stats and the
// dry runs read its key layout here: entries under "yoked:<ns>:e:k:<key>"
// (keys longer than 256 bytes are hashed, under "yoked:<ns>:e:h:<sha256>"),
// tag versions under "{yoked:<ns>}:v:<tag>". Only reads happen here; every
// change goes through the store's own methods.

func (o *opened) entryPrefix() string   { return "yoked:" + o.namespace + ":e:" }
func (o *opened) versionPrefix() string { return "{yoked:" + o.namespace + "}:v:" }

// scanKeys calls fn with batches of keys matching match on every master.
// It stops early when fn returns false.
func (o *opened) scanKeys(ctx context.Context, match string, fn func(c redis.Cmdable, keys []string) bool) error {
	var mu sync.Mutex // ForEachMaster runs nodes concurrently
	stopped := false
	walk := func(ctx context.Context, c redis.Cmdable) error {
		var cursor uint64
		for {
			keys, next, err := c.Scan(ctx, cursor, match, 500).Result()
			if err != nil {
				return err
			}
			mu.Lock()
			if !stopped && len(keys) > 0 && !fn(c, keys) {
				stopped = true
			}
			done := stopped
			mu.Unlock()
			if done || next == 0 {
				return nil
			}
			cursor = next
		}
	}
	if cc, ok := o.store.Client().(*redis.ClusterClient); ok {
		return cc.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error { return walk(ctx, c) })
	}
	return walk(ctx, o.store.Client())
}

// globFor turns --prefix/--pattern into a path.Match pattern ("" matches all).
func globFor(prefix, pattern string) string {
	if pattern != "" {
		return pattern
	}
	var b strings.Builder
	for _, r := range prefix { // escape glob characters of a literal prefix
		if strings.ContainsRune(`*?[\`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String() + "*"
}

// redisMatch is a Redis MATCH pattern selecting at least what glob does.
func redisMatch(glob string) string {
	if strings.ContainsAny(glob, `[]\`) {
		return "*"
	}
	return glob
}

// matchEntries returns up to limit (0: all) cache keys of the namespace whose
// name matches glob, and whether more exist. Hashed (over-long) keys are
// listed as "sha256:<hex>" and match only "*".
func (o *opened) matchEntries(ctx context.Context, glob string, limit int) ([]string, bool, error) {
	kp := o.entryPrefix() + "k:"
	var out []string
	more := false
	add := func(name string) bool {
		if limit > 0 && len(out) >= limit {
			more = true
			return false
		}
		out = append(out, name)
		return true
	}
	err := o.scanKeys(ctx, kp+redisMatch(glob), func(_ redis.Cmdable, keys []string) bool {
		for _, k := range keys {
			name := strings.TrimPrefix(k, kp)
			if ok, _ := path.Match(glob, name); ok && !add(name) {
				return false
			}
		}
		return true
	})
	if err != nil || more || glob != "*" {
		return out, more, err
	}
	hp := o.entryPrefix() + "h:"
	err = o.scanKeys(ctx, hp+"*", func(_ redis.Cmdable, keys []string) bool {
		for _, k := range keys {
			if !add("sha256:" + strings.TrimPrefix(k, hp)) {
				return false
			}
		}
		return true
	})
	return out, more, err
}

// matchTags returns the tags of the namespace that have a version and match glob.
func (o *opened) matchTags(ctx context.Context, glob string) ([]string, error) {
	vp := o.versionPrefix()
	var tags []string
	err := o.scanKeys(ctx, vp+redisMatch(glob), func(_ redis.Cmdable, keys []string) bool {
		for _, k := range keys {
			t := strings.TrimPrefix(k, vp)
			if ok, _ := path.Match(glob, t); ok {
				tags = append(tags, t)
			}
		}
		return true
	})
	return tags, err
}

// redisKey is where a cache key's entry lives.
func (o *opened) redisKey(key string) string {
	if h, ok := strings.CutPrefix(key, "sha256:"); ok && len(h) == 64 {
		return o.entryPrefix() + "h:" + h
	}
	return o.entryPrefix() + "k:" + key
}

// showKey prints a key as typed on a shell: as is when printable, else Go-quoted.
func showKey(k string) string {
	if utf8.ValidString(k) && strconv.Quote(k) == `"`+k+`"` && !strings.HasPrefix(k, `"`) {
		return k
	}
	return strconv.Quote(k)
}

// parseKey accepts a key as showKey prints it.
func parseKey(arg string) (string, error) {
	if strings.HasPrefix(arg, `"`) {
		k, err := strconv.Unquote(arg)
		if err != nil {
			return "", usagef("key %s: a quoted key must be a Go string literal, as list prints it", arg)
		}
		return k, nil
	}
	return arg, nil
}
