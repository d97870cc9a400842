-- name: GetAuthor :one
SELECT id, name, bio FROM authors
WHERE id = $1 LIMIT 1;

-- name: ListAuthors :many
SELECT id, name, bio FROM authors
ORDER BY name;

-- name: CreateAuthor :exec
INSERT INTO authors (id, name, bio) VALUES ($1, $2, $3);

-- name: UpdateAuthorBio :execrows
UPDATE authors SET bio = $1
WHERE id = $2;
