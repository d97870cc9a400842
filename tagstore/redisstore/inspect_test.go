package redisstore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/yokedcache/yoked/internal/testenv"
	"github.com/yokedcache/yoked/tagstore"
)

func TestKeysAndInspect(t *testing.T) {
	addr := testenv.Redis(t)
	s := newTestStore(t, addr, Options{})
	ctx := context.Background()
	raw := redis.NewClient(&redis.Options{Addr: addr})
	defer raw.Close()

	long := "long:" + strings.Repeat("x", maxKeyLen)
	sum := sha256.Sum256([]byte(long))
	put(t, s, "user:1", "v", "table:users")
	put(t, s, "user:2", "v", "table:users", "user:2")
	put(t, s, "order:9", "v", "table:orders")
	put(t, s, long, "v", "table:users")
	if err := raw.Set(ctx, s.entryKey("user:bad"), "not an entry", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	tagsOf := map[string][]string{"user:1": {"table:users"}, "user:2": {"table:users", "user:2"}, "order:9": {"table:orders"}, long: {"table:users"}, "user:bad": {"table:users"}}

	names := func(infos []KeyInfo) string {
		var n []string
		for _, in := range infos {
			if in.Hashed {
				n = append(n, "#"+in.Hash)
			} else {
				n = append(n, in.Key)
			}
		}
		sort.Strings(n)
		return strings.Join(n, " ")
	}
	all, err := s.Keys(ctx, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := names(all), "#"+hex.EncodeToString(sum[:])+" order:9 user:1 user:2 user:bad"; got != want {
		t.Fatalf("Keys(*) = %s, want %s", got, want)
	}
	for _, c := range []struct {
		pattern string
		want    string
	}{
		{"user:*", "user:1 user:2 user:bad"},
		{"user:[12]", "user:1 user:2"},
		{"order:?", "order:9"},
		{"nothing*", ""},
	} {
		got, err := s.Keys(ctx, c.pattern, 0)
		if err != nil {
			t.Fatal(err)
		}
		if names(got) != c.want {
			t.Errorf("Keys(%q) = %q, want %q (hashed keys only for *)", c.pattern, names(got), c.want)
		}
	}
	if got, err := s.Keys(ctx, "*", 2); err != nil || len(got) != 2 {
		t.Errorf("Keys limit 2: %d keys, %v", len(got), err)
	}
	if _, err := s.Keys(ctx, "[", 0); err == nil {
		t.Error("bad pattern accepted")
	}

	// Validity as Inspect reports it must be what a Lookup does.
	check := func(stage string, wantValid map[string]bool) {
		t.Helper()
		for key, valid := range wantValid {
			in, found, err := s.Inspect(ctx, key)
			if err != nil || !found {
				t.Fatalf("%s: Inspect(%.20q): found=%v err=%v", stage, key, found, err)
			}
			if in.Valid != valid || (in.Reason == "") != valid {
				t.Errorf("%s: %.20q valid=%v reason=%q, want valid=%v", stage, key, in.Valid, in.Reason, valid)
			}
			_, hit, _, err := s.Lookup(ctx, key, tagsOf[key])
			if err != nil || hit != valid {
				t.Errorf("%s: %.20q Lookup hit=%v err=%v, Inspect said valid=%v", stage, key, hit, err, valid)
			}
		}
	}
	check("fresh", map[string]bool{"user:1": true, "user:2": true, "order:9": true, long: true, "user:bad": false})

	in, _, _ := s.Inspect(ctx, "user:2")
	if in.Key != "user:2" || in.Hashed || in.Bytes <= 0 || in.TTL <= 0 || in.TTL > 5*time.Minute {
		t.Errorf("Inspect(user:2) = %+v", in)
	}
	if len(in.Tags) != 3 || in.Tags[0].Tag != tagstore.AllTag || in.Tags[1].Tag != "table:users" || in.Tags[2].Tag != "user:2" {
		t.Errorf("tags of user:2: %+v", in.Tags)
	}
	for _, tv := range in.Tags {
		if tv.Stored == 0 || tv.Stored != tv.Current {
			t.Errorf("fresh tag %+v", tv)
		}
	}
	if in, found, err := s.InspectHashed(ctx, hex.EncodeToString(sum[:])); err != nil || !found || !in.Hashed || in.Key != "" || !in.Valid {
		t.Errorf("InspectHashed: %+v %v %v", in, found, err)
	}
	if in, found, err := s.Inspect(ctx, long); err != nil || !found || !in.Hashed || in.Hash != hex.EncodeToString(sum[:]) {
		t.Errorf("Inspect(long key): %+v %v %v", in, found, err)
	}
	if in.Format != entryVersion {
		t.Errorf("format %d, want %d", in.Format, entryVersion)
	}
	tags, err := s.Tags(ctx, "", 0)
	sort.Strings(tags)
	if err != nil || strings.Join(tags, " ") != "table:orders table:users user:2" {
		t.Errorf("Tags(*) = %v, %v (AllTag left out)", tags, err)
	}
	if tags, err := s.Tags(ctx, "table:u*", 0); err != nil || len(tags) != 1 || tags[0] != "table:users" {
		t.Errorf("Tags(table:u*) = %v, %v", tags, err)
	}
	if tags, err := s.Tags(ctx, "*", 2); err != nil || len(tags) != 2 {
		t.Errorf("Tags limit 2 = %v, %v", tags, err)
	}
	if _, found, err := s.Inspect(ctx, "absent"); found || err != nil {
		t.Errorf("Inspect(absent): found=%v err=%v", found, err)
	}
	if _, _, err := s.InspectHashed(ctx, "zz"); err == nil {
		t.Error("InspectHashed accepted a non-digest")
	}
	if in, _, _ := s.Inspect(ctx, "user:bad"); !strings.Contains(in.Reason, "corrupt") || len(in.Tags) != 0 || in.Format != 0 {
		t.Errorf("corrupt entry: %+v", in)
	}

	if err := s.InvalidateTags(ctx, "user:2"); err != nil {
		t.Fatal(err)
	}
	in, _, _ = s.Inspect(ctx, "user:2")
	if tv := in.Tags[2]; tv.Current == tv.Stored || !strings.Contains(in.Reason, `"user:2" has no version (invalidated`) {
		t.Errorf("after InvalidateTags(user:2): %+v", in)
	}
	check("user:2 invalidated", map[string]bool{"user:1": true, "user:2": false, "order:9": true, long: true})

	if err := s.InvalidateTags(ctx, "table:users"); err != nil {
		t.Fatal(err)
	}
	check("table:users invalidated", map[string]bool{"user:1": false, "order:9": true, long: false})

	// A tag whose version is gone (evicted) makes its entries invalid, and
	// inspecting does not create the version again.
	put(t, s, "order:10", "v", "table:orders")
	if err := raw.Del(ctx, s.vprefix+"table:orders").Err(); err != nil {
		t.Fatal(err)
	}
	in, _, _ = s.Inspect(ctx, "order:10")
	if in.Valid || !strings.Contains(in.Reason, "no version") {
		t.Errorf("entry of an evicted tag: %+v", in)
	}
	if n, _ := raw.Exists(ctx, s.vprefix+"table:orders").Result(); n != 0 {
		t.Error("Inspect created a tag version")
	}

	if err := s.InvalidateAll(ctx); err != nil {
		t.Fatal(err)
	}
	all, err = s.Keys(ctx, "*", 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range all {
		if in.Valid {
			t.Errorf("after InvalidateAll, %q is valid", in.Key)
		}
	}
}

func TestUsage(t *testing.T) {
	addr := testenv.Redis(t)
	s := newTestStore(t, addr, Options{})
	ctx := context.Background()
	if e, v, b, err := s.Usage(ctx); err != nil || e != 0 || v != 0 || b != 0 {
		t.Fatalf("empty namespace: %d entries, %d versions, %d bytes, %v", e, v, b, err)
	}
	for i := range 25 {
		put(t, s, "k"+strings.Repeat("x", i), "v", "t"+string(rune('a'+i%5)))
	}
	infos, err := s.Keys(ctx, "*", 0)
	if err != nil {
		t.Fatal(err)
	}
	var want int64
	for _, in := range infos {
		want += in.Bytes
	}
	e, v, b, err := s.Usage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if e != 25 || v != 6 || b != want || b <= 0 {
		t.Errorf("Usage = %d entries, %d versions, %d bytes; want 25, 6 (5 tags and %q), %d", e, v, b, tagstore.AllTag, want)
	}
}
