package catalog

import (
	"strings"

	"github.com/yokedcache/yoked/sqlparse"
)

// Relation names. The catalog names a relation the way the server finds it,
// lower case:
//
//   - PostgreSQL: "schema.name", an unqualified name resolved through the
//     search_path of the connection the catalog was read on (pg_catalog
//     first unless the path places it; the first schema of the path holding
//     a relation of that name; a name found nowhere is the first schema of
//     the path, where CREATE would put it). Connections of one catalog share
//     its search_path: it is part of their identity.
//   - MySQL/MariaDB: "database.name", an unqualified name in the current
//     database (DATABASE() of that connection); bare when none is selected.
//   - SQLite: the bare name for the main database (its schema names are
//     aliases of one connection, "main" says nothing of the file), and
//     "schema.name" for temp and attached databases.
//   - Without a catalog (nil, Failed, or a dialect without one): the bare
//     name, schema dropped, so that every qualified and unqualified spelling
//     of a table meets.
//
// A session that changes where names resolve (PostgreSQL SET search_path,
// SET ROLE with "$user" in the path, a temporary table; MySQL USE; SQLite
// ATTACH) is not the session the catalog resolved names for: callers treat
// writes whose Access is PathDependent as writes of anything there.

// resolver turns a table named in a statement into a relation name.
type resolver struct {
	// dialect is "" for the resolver of no catalog (bare names).
	dialect string
	// path: PostgreSQL's effective search_path, pg_catalog included, each
	// schema as the server spells it.
	path []string
	// rels: PostgreSQL relations of every schema, "schema.name" as the
	// server spells them: "Users" (created quoted) is not users, which an
	// unqualified users must not stop at.
	rels map[string]bool
	// current: MySQL's current database, lower case ("" when none).
	current string
}

// resolve returns the relation name of t (see above).
func (r *resolver) resolve(t sqlparse.Table) string {
	if r == nil {
		return r.resolveIn(t, nil)
	}
	return r.resolveIn(t, r.path)
}

// resolveIn resolves t with path in place of the session's search_path
// (PostgreSQL functions declared with SET search_path).
func (r *resolver) resolveIn(t sqlparse.Table, path []string) string {
	name := strings.ToLower(t.Name)
	schema := strings.ToLower(t.Schema)
	if r == nil {
		return name
	}
	switch r.dialect {
	case sqlparse.DialectPostgres:
		if schema != "" {
			return schema + "." + name
		}
		for _, s := range path {
			if r.rels[s+"."+t.Name] {
				return strings.ToLower(s) + "." + name
			}
		}
		for _, s := range path {
			if s != "pg_catalog" && !strings.HasPrefix(s, "pg_temp") {
				return strings.ToLower(s) + "." + name
			}
		}
	case sqlparse.DialectMySQL:
		if schema == "" {
			schema = r.current
		}
		if schema != "" {
			return schema + "." + name
		}
	case sqlparse.DialectSQLite:
		if schema != "" && schema != "main" {
			return schema + "." + name
		}
	}
	return name
}

// knows reports whether the PostgreSQL catalog holds the relation t names
// (always true elsewhere). A relation it does not hold was created since
// it was read (by another program) or does not exist: where the server
// finds it is not known.
func (r *resolver) knows(t sqlparse.Table) bool {
	if r == nil || r.dialect != sqlparse.DialectPostgres {
		return true
	}
	if t.Schema != "" {
		return r.rels[t.Schema+"."+t.Name]
	}
	for _, s := range r.path {
		if r.rels[s+"."+t.Name] {
			return true
		}
	}
	return false
}

// parseName reads a relation name given as text ("users", "public.users"),
// as callers of the Go API spell it.
func parseName(name string) sqlparse.Table {
	if i := strings.LastIndexByte(name, '.'); i >= 0 {
		return sqlparse.Table{Schema: name[:i], Name: name[i+1:]}
	}
	return sqlparse.Table{Name: name}
}

// Resolve returns the relation name of a table as a statement names it,
// the name under which the catalog knows it and callers tag it (see the
// package comment). A nil or failed catalog returns the bare name.
func (c *Catalog) Resolve(t sqlparse.Table) string {
	if c == nil || c.failed {
		return (*resolver)(nil).resolve(t)
	}
	return c.res.resolve(t)
}

// ResolveName is Resolve of a name given as text: "users", "public.users".
func (c *Catalog) ResolveName(name string) string { return c.Resolve(parseName(name)) }

// pgPath reads a search_path setting ("$user", public, "My Schema") into
// schema names as the server spells them (unquoted ones folded to lower
// case): "$user" is user, pg_temp is dropped (a catalog session has no
// temporary tables), pg_catalog is put first unless placed.
func pgPath(setting, user string) []string {
	var path []string
	for _, s := range strings.Split(setting, ",") {
		s = strings.TrimSpace(s)
		if u, ok := strings.CutPrefix(s, `"`); ok && strings.HasSuffix(u, `"`) {
			s = strings.ReplaceAll(strings.TrimSuffix(u, `"`), `""`, `"`)
		} else {
			s = strings.ToLower(s)
		}
		switch {
		case s == "" || s == "pg_temp":
		case s == "$user":
			if user != "" {
				path = append(path, user)
			}
		default:
			path = append(path, s)
		}
	}
	for _, s := range path {
		if s == "pg_catalog" {
			return path
		}
	}
	return append([]string{"pg_catalog"}, path...)
}

// ResolveIn returns the relation name of t on a dialect's connection whose
// unqualified names reach schema (PostgreSQL: the first schema of the
// search_path, pg_catalog aside; MySQL: the current database; ignored for
// SQLite), without reading a catalog: for tools that show tags without a
// database. A PostgreSQL name that lives further down the path is resolved
// differently by the driver.
func ResolveIn(dialect, schema string, t sqlparse.Table) string {
	r := &resolver{dialect: dialect, path: []string{"pg_catalog", schema}, current: strings.ToLower(schema)}
	if dialect == sqlparse.DialectPostgres && t.Schema == "" && strings.HasPrefix(strings.ToLower(t.Name), "pg_") {
		return "pg_catalog." + strings.ToLower(t.Name)
	}
	return r.resolve(t)
}
