package driver

import (
	"context"
	"testing"

	"github.com/yokedcache/yoked/tagstore"
	"github.com/yokedcache/yoked/tagstore/memory"
)

// The off switch in code, environment and store URL, and the default by
// kind of store.
func TestRowTagsConfig(t *testing.T) {
	mem, err := memory.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer mem.Close()
	on := func(env map[string]string, opts ...Option) (bool, string) {
		c, err := envConfig(func(k string) string { return env[k] })
		if err != nil {
			return false, err.Error()
		}
		for _, o := range opts {
			o(&c)
		}
		if _, _, err := takeURLBool(&c, "row_tags"); err != nil {
			return false, err.Error()
		}
		return rowTagsOn(&c, mem), c.StoreURL
	}
	if got, _ := on(nil); !got {
		t.Error("row tags are off by default for the memory store")
	}
	if got, _ := on(map[string]string{"YOKED_ROW_TAGS": "false"}); got {
		t.Error("YOKED_ROW_TAGS=false left them on")
	}
	if got, _ := on(map[string]string{"YOKED_ROW_TAGS": "false"}, WithRowTags(true)); !got {
		t.Error("WithRowTags(true) does not override the environment")
	}
	if _, msg := on(map[string]string{"YOKED_ROW_TAGS": "maybe"}); msg == "" {
		t.Error("a malformed YOKED_ROW_TAGS is accepted")
	}
	c := Config{StoreURL: "memory://?max_bytes=100&row_tags=false"}
	b, ok, err := takeURLBool(&c, "row_tags")
	if err != nil || !ok || b || c.StoreURL != "memory://?max_bytes=100" {
		t.Errorf("row_tags=false in the URL: %v %v %v, URL left %q", b, ok, err, c.StoreURL)
	}
	c = Config{StoreURL: "redis://localhost:6379/0?row_tags=yes"}
	if _, _, err := takeURLBool(&c, "row_tags"); err == nil {
		t.Error("a malformed row_tags is accepted")
	}
	// A store shared between processes (it marks writes in flight) is off
	// by default.
	if rowTagsOn(&Config{}, sharedStore{mem}) {
		t.Error("row tags are on by default for a shared store")
	}
}

// sharedStore is the memory store posing as one that marks writes in
// flight, as shared stores do.
type sharedStore struct{ *memory.Store }

func (sharedStore) MarkWrite(context.Context, []string) (tagstore.WriteMark, error) {
	return tagstore.WriteMark{}, nil
}
func (sharedStore) EndWrite(context.Context, tagstore.WriteMark) error { return nil }
