package changefeed_test

import (
	"errors"
	"testing"

	"github.com/yokedcache/yoked/catalog"
	"github.com/yokedcache/yoked/changefeed"
	yoked "github.com/yokedcache/yoked/driver"
)

// Row changes bump only set and row tags: a configuration whose SetTag or
// RowTag names tables otherwise than its TableTag (which readers' table and
// set tags share) would invalidate nothing readers carry, and is refused.
func TestConfigTagNamesAgree(t *testing.T) {
	bare := func(schema, table string) string { return yoked.TableTag(table) } // readers WithoutCatalog
	for _, tc := range []struct {
		name string
		cfg  changefeed.Config
		ok   bool
	}{
		{"driver's", changefeed.Config{TableTag: tableTag, RowTag: yoked.RowTag, SetTag: yoked.SetTag}, true},
		{"table tags only", changefeed.Config{TableTag: bare}, true},
		{"bare table tag, qualified rows", changefeed.Config{TableTag: bare, RowTag: yoked.RowTag, SetTag: yoked.SetTag}, false},
		{"set tag of another name", changefeed.Config{TableTag: tableTag, RowTag: yoked.RowTag,
			SetTag: func(table string) string { return "set:x." + table }}, false},
		{"row tag of another name", changefeed.Config{TableTag: tableTag, SetTag: yoked.SetTag,
			RowTag: func(string, []catalog.Column, []any) (string, bool) { return "row:t(id=1)", true }}, false},
		{"row tag refused", changefeed.Config{TableTag: tableTag, SetTag: yoked.SetTag,
			RowTag: func(string, []catalog.Column, []any) (string, bool) { return "", false }}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg
			cfg.Dialect, cfg.Source, cfg.Store = "mysql", "root@tcp(127.0.0.1:3306)/app", newMemory(t)
			_, err := changefeed.New(cfg)
			if tc.ok && err != nil {
				t.Fatalf("refused: %v", err)
			}
			if !tc.ok && !errors.Is(err, changefeed.ErrConfig) {
				t.Fatalf("got %v, want ErrConfig", err)
			}
		})
	}
}
