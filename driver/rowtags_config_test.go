package driver

import (
	"testing"
)

// The off switch in code, environment and store URL, and the default (on).
func TestRowTagsConfig(t *testing.T) {
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
		return rowTagsOn(&c), c.StoreURL
	}
	if got, _ := on(nil); !got {
		t.Error("row tags are off by default")
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
}
