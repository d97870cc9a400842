package redisstore

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/yokedcache/yoked/tagstore"
)

// Operator methods: Keys, Inspect, InspectHashed and Usage read the
// namespace for people and tools (the yokedcache command), never for the
// application's reads. They change nothing except, like any operation, the
// namespace version when they are the first to notice that Redis restarted.
// They are bounded by the caller's context only (not Options.Timeout: a walk
// takes as long as the namespace is big) and do not feed the circuit breaker
// or the error counter.

// KeyInfo describes one stored entry.
type KeyInfo struct {
	// Key is the caller's key. Keys longer than 256 bytes are stored under
	// their SHA-256 and cannot be recovered: Key is then empty, Hashed is
	// true and Hash holds the hex digest.
	Key    string `json:"key"`
	Hashed bool   `json:"hashed"`
	Hash   string `json:"hash,omitempty"`

	// Format is the entry's encoding version, 0 when the bytes are not a
	// yoked entry at all.
	Format int `json:"format"`

	// Bytes is the size of the stored entry: header, tags and the Codec's
	// encoding of the value.
	Bytes int64 `json:"bytes"`
	// TTL is the lifetime Redis still gives the entry (-1 when it has no
	// expiry, which the Store never sets).
	TTL time.Duration `json:"ttl_ns"`

	// Tags are the tags the entry was stored under (tagstore.AllTag first)
	// with their versions then and now. Empty when the entry is corrupt.
	Tags []TagVersion `json:"tags"`

	// Valid reports whether a Lookup with the entry's tags would serve it
	// now: it decodes, has not expired, and every tag still has the version
	// it was stored under. The value itself is not decoded (the reader's
	// Codec may not be this Store's), so an entry whose value the
	// application's Codec rejects is still a miss there. Reason says why an
	// entry is not valid.
	Valid  bool   `json:"valid"`
	Reason string `json:"reason,omitempty"`
}

// TagVersion is one tag of an entry. Versions are opaque tokens; Current is
// 0 when the tag has no version now (invalidated, flushed, evicted: an
// invalidation deletes the version), which makes every entry stored under it
// invalid.
type TagVersion struct {
	Tag     string `json:"tag"`
	Stored  uint64 `json:"stored"`
	Current uint64 `json:"current"`
}

// errEnough stops a walk that has collected what it was asked for.
var errEnough = errors.New("redisstore: enough keys")

// Keys returns up to limit entries (limit <= 0: all) whose key matches the
// glob pattern (path.Match syntax; "" means "*"), in no particular order. It
// walks the namespace with SCAN on every master, in batches of 1000, and
// reads each batch's entries and their tags' current versions in one round
// trip each; its cost grows with the namespace. Hashed keys (see KeyInfo)
// cannot be matched against a pattern: they are listed only for "*".
func (s *Store) Keys(ctx context.Context, pattern string, limit int) ([]KeyInfo, error) {
	if pattern == "" {
		pattern = "*"
	}
	if _, err := path.Match(pattern, ""); err != nil {
		return nil, fmt.Errorf("redisstore: pattern %q: %w", pattern, err)
	}
	if err := s.operatorBegin(ctx); err != nil {
		return nil, err
	}
	var (
		mu  sync.Mutex // nodes are walked concurrently
		out []KeyInfo
	)
	full := func() bool { return limit > 0 && len(out) >= limit }
	collect := func(ctx context.Context, c redis.Cmdable, match string, keep func(string) bool) error {
		return scan(ctx, c, match, func(batch []string) error {
			keys := batch[:0]
			for _, k := range batch {
				if keep(k) {
					keys = append(keys, k)
				}
			}
			infos, err := s.describe(ctx, c, keys)
			if err != nil {
				return err
			}
			mu.Lock()
			defer mu.Unlock()
			for _, in := range infos {
				if full() {
					return errEnough
				}
				out = append(out, in)
			}
			if full() {
				return errEnough
			}
			return nil
		})
	}
	kprefix := s.eprefix + "k:"
	err := s.forEachNode(ctx, func(ctx context.Context, c redis.Cmdable) error {
		err := collect(ctx, c, kprefix+redisGlob(pattern), func(k string) bool {
			ok, _ := path.Match(pattern, strings.TrimPrefix(k, kprefix))
			return ok
		})
		if err == nil && pattern == "*" {
			err = collect(ctx, c, s.eprefix+"h:*", func(string) bool { return true })
		}
		return err
	})
	if err != nil && !errors.Is(err, errEnough) {
		return nil, fmt.Errorf("redisstore: listing keys of namespace %q: %w", s.opt.Namespace, err)
	}
	return out, nil
}

// Tags returns up to limit tags (limit <= 0: all) of the namespace that
// have a version and match the glob pattern ("" means "*"): the tags
// InvalidatePattern would give a new version. tagstore.AllTag is left out,
// as InvalidatePattern leaves it. Like Keys it walks the namespace.
func (s *Store) Tags(ctx context.Context, pattern string, limit int) ([]string, error) {
	if pattern == "" {
		pattern = "*"
	}
	if _, err := path.Match(pattern, ""); err != nil {
		return nil, fmt.Errorf("redisstore: pattern %q: %w", pattern, err)
	}
	if s.closed.Load() {
		return nil, tagstore.ErrClosed
	}
	var (
		mu  sync.Mutex
		out []string
	)
	err := s.forEachNode(ctx, func(ctx context.Context, c redis.Cmdable) error {
		return scan(ctx, c, s.vprefix+redisGlob(pattern), func(batch []string) error {
			mu.Lock()
			defer mu.Unlock()
			for _, k := range batch {
				t := strings.TrimPrefix(k, s.vprefix)
				if ok, _ := path.Match(pattern, t); !ok || t == tagstore.AllTag {
					continue
				}
				if limit > 0 && len(out) >= limit {
					return errEnough
				}
				out = append(out, t)
			}
			return nil
		})
	})
	if err != nil && !errors.Is(err, errEnough) {
		return nil, fmt.Errorf("redisstore: listing tags of namespace %q: %w", s.opt.Namespace, err)
	}
	return out, nil
}

// Inspect describes the entry stored under key; found is false when there
// is none.
func (s *Store) Inspect(ctx context.Context, key string) (info KeyInfo, found bool, err error) {
	return s.inspect(ctx, s.entryKey(key))
}

// InspectHashed describes the entry of an over-long key from the hex
// SHA-256 that KeyInfo.Hash reports.
func (s *Store) InspectHashed(ctx context.Context, hash string) (KeyInfo, bool, error) {
	if b, err := hex.DecodeString(hash); err != nil || len(b) != 32 {
		return KeyInfo{}, false, fmt.Errorf("redisstore: %q is not a hex SHA-256", hash)
	}
	return s.inspect(ctx, s.eprefix+"h:"+strings.ToLower(hash))
}

func (s *Store) inspect(ctx context.Context, ekey string) (KeyInfo, bool, error) {
	if err := s.operatorBegin(ctx); err != nil {
		return KeyInfo{}, false, err
	}
	infos, err := s.describe(ctx, s.c, []string{ekey})
	if err != nil {
		return KeyInfo{}, false, fmt.Errorf("redisstore: inspecting an entry: %w", err)
	}
	if len(infos) == 0 {
		return KeyInfo{}, false, nil
	}
	return infos[0], true, nil
}

// operatorBegin admits an operator method: store open, and the namespace
// invalidated first if Redis restarted since this Store last looked, so that
// validity is judged as a Lookup would judge it.
func (s *Store) operatorBegin(ctx context.Context) error {
	if s.closed.Load() {
		return tagstore.ErrClosed
	}
	_, err := s.checkEpoch(ctx)
	return err
}

// describe reads the entries ekeys (all on the node c) and the current
// versions of their tags; entries gone in the meantime are left out.
func (s *Store) describe(ctx context.Context, c redis.Cmdable, ekeys []string) ([]KeyInfo, error) {
	if len(ekeys) == 0 {
		return nil, nil
	}
	pipe := c.Pipeline()
	gets := make([]*redis.StringCmd, len(ekeys))
	ttls := make([]*redis.DurationCmd, len(ekeys))
	for i, k := range ekeys {
		gets[i] = pipe.Get(ctx, k)
		ttls[i] = pipe.PTTL(ctx, k)
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, err
	}
	infos := make([]KeyInfo, 0, len(ekeys))
	entries := make([]entryView, 0, len(ekeys))
	var errs []error // per entry, decoding
	tagIndex := map[string]int{}
	var tags []string
	now := time.Now()
	for i, k := range ekeys {
		raw, err := gets[i].Bytes()
		if errors.Is(err, redis.Nil) {
			continue
		}
		if err != nil {
			return nil, err
		}
		in := KeyInfo{Bytes: int64(len(raw)), TTL: ttls[i].Val()}
		if h, ok := strings.CutPrefix(k, s.eprefix+"h:"); ok {
			in.Hashed, in.Hash = true, h
		} else {
			in.Key = strings.TrimPrefix(k, s.eprefix+"k:")
		}
		if len(raw) >= 2 && raw[0] == entryMagic {
			in.Format = int(raw[1])
		}
		e, err := decodeEntry(raw)
		if err == nil && !now.Before(e.expiry) {
			in.Reason = "expired"
		}
		for _, t := range e.tags {
			if _, seen := tagIndex[t]; !seen {
				tagIndex[t] = len(tags)
				tags = append(tags, t)
			}
		}
		infos = append(infos, in)
		entries = append(entries, e)
		errs = append(errs, err)
	}
	current := make([]uint64, len(tags))
	if len(tags) > 0 {
		// One slot holds every version key: one MGET, which unlike the
		// stamp script creates nothing.
		vals, err := s.c.MGet(ctx, s.versionKeys(tags)...).Result()
		if err != nil {
			return nil, err
		}
		for i, v := range vals {
			if str, ok := v.(string); ok {
				if n, err := strconv.ParseUint(str, 16, 64); err == nil {
					current[i] = n
				}
			}
		}
	}
	for i := range infos {
		in, e := &infos[i], entries[i]
		if errs[i] != nil {
			in.Reason = "corrupt entry: " + errs[i].Error()
			continue
		}
		in.Tags = make([]TagVersion, len(e.tags))
		for j, t := range e.tags {
			cur := current[tagIndex[t]]
			in.Tags[j] = TagVersion{Tag: t, Stored: e.versions[j], Current: cur}
			switch {
			case in.Reason != "":
			case cur == 0:
				in.Reason = fmt.Sprintf("tag %q has no version (invalidated, flushed or evicted)", t)
			case cur != e.versions[j]:
				in.Reason = fmt.Sprintf("tag %q was invalidated", t) // and used again since
			}
		}
		in.Valid = in.Reason == ""
	}
	return infos, nil
}

// Usage counts the namespace's entries and tag versions and adds up the
// entries' sizes. It walks the namespace with SCAN on every master and asks
// STRLEN of every entry (pipelined per batch of 1000): bytes is exact for
// what the Store wrote (header, tags, encoded value) but leaves out Redis's
// own overhead per key, which MEMORY USAGE would estimate at a higher cost.
func (s *Store) Usage(ctx context.Context) (entries, versions, bytes int64, err error) {
	if s.closed.Load() {
		return 0, 0, 0, tagstore.ErrClosed
	}
	var mu sync.Mutex
	err = s.forEachNode(ctx, func(ctx context.Context, c redis.Cmdable) error {
		err := scan(ctx, c, s.eprefix+"*", func(batch []string) error {
			pipe := c.Pipeline()
			lens := make([]*redis.IntCmd, len(batch))
			for i, k := range batch {
				lens[i] = pipe.StrLen(ctx, k)
			}
			if _, err := pipe.Exec(ctx); err != nil {
				return err
			}
			var n, b int64
			for _, l := range lens {
				if l.Val() > 0 { // 0: gone since the SCAN
					n++
					b += l.Val()
				}
			}
			mu.Lock()
			entries, bytes = entries+n, bytes+b
			mu.Unlock()
			return nil
		})
		if err != nil {
			return err
		}
		return scan(ctx, c, s.vprefix+"*", func(batch []string) error {
			mu.Lock()
			versions += int64(len(batch))
			mu.Unlock()
			return nil
		})
	})
	if err != nil {
		return 0, 0, 0, fmt.Errorf("redisstore: measuring namespace %q: %w", s.opt.Namespace, err)
	}
	return entries, versions, bytes, nil
}
