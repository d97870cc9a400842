package catalog

import (
	"context"
	"database/sql"
)

// DB is a Querier over a *sql.DB, for callers outside the driver (a change
// feed, tests) that read the catalog through database/sql. NULLs read as "".
func DB(db *sql.DB) Querier { return sqlDB{db} }

type sqlDB struct{ db *sql.DB }

func (q sqlDB) Query(ctx context.Context, query string) ([][]string, error) {
	rows, err := q.db.QueryContext(ctx, query)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	var out [][]string
	for rows.Next() {
		vals := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		row := make([]string, len(cols))
		for i, v := range vals {
			row[i] = v.String
		}
		out = append(out, row)
	}
	return out, rows.Err()
}
