package changefeed

import (
	"context"
	"errors"
)

type mysqlSource struct{ cfg Config }

func newMySQL(cfg Config) (*mysqlSource, error) { return &mysqlSource{cfg: cfg}, nil }

func (m *mysqlSource) session(ctx context.Context, w *Watcher) error {
	return errors.New("not yet")
}
