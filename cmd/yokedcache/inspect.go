package main

import (
	"context"
	"encoding/hex"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/yokedcache/yoked/tagstore/redisstore"
)

// The verbs reach the store's entries only through redisstore's operator
// methods (Keys, Inspect, Tags, Usage, SharedStats); the key layout stays
// the store's business. Over-long keys are stored hashed: the command shows
// them as "sha256:<hex>".

// hashedPrefix marks a hashed key as list prints it.
const hashedPrefix = "sha256:"

// keyName is how the command names an entry: the caller's key, or
// "sha256:<hex>" when it was stored hashed.
func keyName(in redisstore.KeyInfo) string {
	if in.Hashed {
		return hashedPrefix + in.Hash
	}
	return in.Key
}

// inspectKey looks key up as list prints it: "sha256:<hex>" names a hashed
// entry first, then the key itself.
func (o *opened) inspectKey(ctx context.Context, key string) (redisstore.KeyInfo, bool, error) {
	if h, ok := strings.CutPrefix(key, hashedPrefix); ok && len(h) == 64 {
		if _, err := hex.DecodeString(h); err == nil {
			if in, found, err := o.store.InspectHashed(ctx, h); err != nil || found {
				return in, found, err
			}
		}
	}
	return o.store.Inspect(ctx, key)
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
