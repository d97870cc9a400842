package sqlcshop

import (
	"context"
	"database/sql"
)

const createAuthor = `-- name: CreateAuthor :exec
INSERT INTO authors (id, name, bio) VALUES ($1, $2, $3)
`

// CreateAuthorParams are the arguments of CreateAuthor.
type CreateAuthorParams struct {
	ID   int64
	Name string
	Bio  sql.NullString
}

// CreateAuthor inserts an author.
func (q *Queries) CreateAuthor(ctx context.Context, arg CreateAuthorParams) error {
	_, err := q.db.ExecContext(ctx, createAuthor, arg.ID, arg.Name, arg.Bio)
	return err
}

const getAuthor = `-- name: GetAuthor :one
SELECT id, name, bio FROM authors
WHERE id = $1 LIMIT 1
`

// GetAuthor returns the author with id.
func (q *Queries) GetAuthor(ctx context.Context, id int64) (Author, error) {
	row := q.db.QueryRowContext(ctx, getAuthor, id)
	var i Author
	err := row.Scan(&i.ID, &i.Name, &i.Bio)
	return i, err
}

const listAuthors = `-- name: ListAuthors :many
SELECT id, name, bio FROM authors
ORDER BY name
`

// ListAuthors returns every author by name.
func (q *Queries) ListAuthors(ctx context.Context) ([]Author, error) {
	rows, err := q.db.QueryContext(ctx, listAuthors)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var items []Author
	for rows.Next() {
		var i Author
		if err := rows.Scan(&i.ID, &i.Name, &i.Bio); err != nil {
			return nil, err
		}
		items = append(items, i)
	}
	if err := rows.Close(); err != nil {
		return nil, err
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return items, nil
}

const updateAuthorBio = `-- name: UpdateAuthorBio :execrows
UPDATE authors SET bio = $1
WHERE id = $2
`

// UpdateAuthorBioParams are the arguments of UpdateAuthorBio.
type UpdateAuthorBioParams struct {
	Bio sql.NullString
	ID  int64
}

// UpdateAuthorBio sets an author's bio and returns the rows changed.
func (q *Queries) UpdateAuthorBio(ctx context.Context, arg UpdateAuthorBioParams) (int64, error) {
	result, err := q.db.ExecContext(ctx, updateAuthorBio, arg.Bio, arg.ID)
	if err != nil {
		return 0, err
	}
	return result.RowsAffected()
}
