package driver

import (
	"database/sql/driver"
	"regexp"
	"strconv"
	"strings"

	"github.com/yokedcache/yoked/catalog"
	"github.com/yokedcache/yoked/sqlparse"
)

// Row-level tags. Every read of table t carries TableTag(t). A read pinned
// by equality on t's whole primary key (sqlparse.Pin) carries a row tag per
// key instead of t's set tag; every other read of t carries the set tag.
// A write by key (UPDATE or DELETE pinned by the whole key that assigns no
// key column, INSERT … VALUES with every key value given) invalidates those
// row tags and the set tag; every other write invalidates TableTag(t). Only
// tables whose key columns compare by bytes (catalog.Column.Exact) and
// whose writes stay in their row (catalog.Catalog.RowLocal) are keyed.
// Row-tag templates are built once per plan and filled with the arguments
// of each call.
//
// With row tags off, reads still carry the set tag and writes invalidate
// TableTag: processes with row tags on and off may share one store.
const (
	// SetPrefix is the prefix of the tag of "which rows a table has and
	// what they hold", carried by every read of the table that is not
	// pinned by key: "set:users".
	SetPrefix = "set:"
	// RowPrefix is the prefix of a row tag: `row:users(id=42)`.
	RowPrefix = "row:"
)

// SetTag returns the set tag of a table (named as for TableTag).
func SetTag(name string) string { return SetPrefix + TableTag(name)[len(TablePrefix):] }

// keyKind is how the values of a key column are normalised.
type keyKind uint8

const (
	keyInt  keyKind = iota + 1 // integers: 42, int64(42) and "42" are one key
	keyText                    // strings, compared by bytes
)

// keyCol is one primary-key column of a keyed table.
type keyCol struct {
	name string
	kind keyKind
}

// rowTemplate fills the row tags of one plan: per alternative of the pin,
// the value of each key column.
type rowTemplate struct {
	table string // as in TableTag, without its prefix
	cols  []keyCol
	alts  [][]sqlparse.Value // per alternative, one value per key column
	// base are the plan's other tags, always carried.
	base []string
}

var intTypes = regexp.MustCompile(`^(tinyint|smallint|mediumint|int|integer|bigint|int2|int4|int8|oid)(\(\d+\))?( unsigned)?$`)

// keyKindOf classifies a key column, or returns 0 when its equality is not
// byte equality of a normal form yoked knows.
func keyKindOf(c catalog.Column) keyKind {
	if !c.Exact {
		return 0
	}
	t := strings.ToLower(strings.TrimSpace(c.Type))
	switch {
	case intTypes.MatchString(t):
		return keyInt
	case t == "text" || strings.HasPrefix(t, "character varying") || strings.HasPrefix(t, "varchar"):
		return keyText
	}
	return 0
}

// rowTemplateFor maps a pin onto the key of its table: every key column
// must be pinned. It returns nil when the table has no usable key.
func rowTemplateFor(cat *catalog.Catalog, dialect string, pin *sqlparse.Pin) *rowTemplate {
	rel := cat.Resolve(pin.Table)
	key, ok := cat.PrimaryKey(rel)
	if !ok {
		return nil
	}
	same := func(a, b string) bool { return a == b }
	if dialect != sqlparse.DialectPostgres {
		same = strings.EqualFold // MySQL and SQLite column names ignore case
	}
	t := &rowTemplate{table: TableTag(rel)[len(TablePrefix):], alts: make([][]sqlparse.Value, len(pin.Values))}
	for _, k := range key {
		kind := keyKindOf(k)
		if kind == 0 {
			return nil
		}
		j := -1
		for i, c := range pin.Columns {
			if same(c, k.Name) {
				j = i
				break
			}
		}
		if j < 0 {
			return nil
		}
		t.cols = append(t.cols, keyCol{name: strings.ToLower(k.Name), kind: kind})
		for a, alt := range pin.Values {
			t.alts[a] = append(t.alts[a], alt[j])
		}
	}
	return t
}

// assignsKey reports whether an UPDATE sets a key column.
func (t *rowTemplate) assignsKey(pin *sqlparse.Pin) bool {
	for _, a := range pin.Assigns {
		for _, k := range t.cols {
			if strings.EqualFold(a, k.name) {
				return true
			}
		}
	}
	return false
}

// tags returns base plus the row tag of every alternative, or false when an
// argument is missing, named, or of a type whose key cannot be normalised:
// the caller then uses the plan's table-level tags.
func (t *rowTemplate) tags(args []driver.NamedValue) ([]string, bool) {
	out := make([]string, len(t.base), len(t.base)+len(t.alts))
	copy(out, t.base)
	// The tags are written into one buffer (on the stack when short) and
	// each made a string once: this runs on every keyed read, hits too.
	var stack [64]byte
	buf := stack[:0]
	for _, alt := range t.alts {
		buf = append(buf[:0], RowPrefix...)
		buf = append(buf, t.table...)
		buf = append(buf, '(')
		for i, v := range alt {
			if i > 0 {
				buf = append(buf, ',')
			}
			buf = append(buf, t.cols[i].name...)
			buf = append(buf, '=')
			k, ok := keyValue(t.cols[i].kind, v, args)
			if !ok {
				return nil, false
			}
			buf = append(buf, k...)
		}
		buf = append(buf, ')')
		out = append(out, string(buf))
	}
	return out, true
}

// explain shows the template with its placeholders: row:users(id=$1).
func (t *rowTemplate) explain() []string {
	var out []string
	for _, alt := range t.alts {
		parts := make([]string, len(alt))
		for i, v := range alt {
			switch {
			case v.Param > 0:
				parts[i] = t.cols[i].name + "=$" + strconv.Itoa(v.Param)
			case v.Quoted:
				parts[i] = t.cols[i].name + "=" + strconv.Quote(v.Literal)
			default:
				parts[i] = t.cols[i].name + "=" + v.Literal
			}
		}
		out = append(out, RowPrefix+t.table+"("+strings.Join(parts, ",")+")")
	}
	return out
}

var decimalInt = regexp.MustCompile(`^-?[0-9]+$`)

// keyValue normalises one key value: the decimal form of an integer, the
// quoted bytes of a string. Anything the databases might compare otherwise
// (floats, numeric strings with spaces or signs, bytes, strings ending in a
// blank, which PAD SPACE collations ignore) is refused.
func keyValue(kind keyKind, v sqlparse.Value, args []driver.NamedValue) (string, bool) {
	var x any
	if v.Param > 0 {
		found := false
		for i := range args {
			if args[i].Ordinal == v.Param {
				if args[i].Name != "" {
					return "", false
				}
				x, found = args[i].Value, true
				break
			}
		}
		if !found {
			return "", false
		}
	} else if v.Quoted {
		x = v.Literal
	} else {
		if kind != keyInt {
			return "", false
		}
		return intText(v.Literal)
	}
	return normalKey(kind, x)
}

// normalKey is the normal form of one key value of a column of kind: the
// decimal form of an integer (from any Go integer type or its decimal
// text), the quoted bytes of a string.
func normalKey(kind keyKind, x any) (string, bool) {
	switch kind {
	case keyInt:
		switch n := x.(type) {
		case int64:
			return strconv.FormatInt(n, 10), true
		case int:
			return strconv.FormatInt(int64(n), 10), true
		case int32:
			return strconv.FormatInt(int64(n), 10), true
		case int16:
			return strconv.FormatInt(int64(n), 10), true
		case int8:
			return strconv.FormatInt(int64(n), 10), true
		case uint64:
			return strconv.FormatUint(n, 10), true
		case uint:
			return strconv.FormatUint(uint64(n), 10), true
		case uint32:
			return strconv.FormatUint(uint64(n), 10), true
		case uint16:
			return strconv.FormatUint(uint64(n), 10), true
		case uint8:
			return strconv.FormatUint(uint64(n), 10), true
		case string:
			return intText(n)
		}
	case keyText:
		if s, ok := x.(string); ok && !strings.HasSuffix(s, " ") {
			return strconv.Quote(s), true
		}
	}
	return "", false
}

// intText is the decimal normal form of an integer written in text.
func intText(s string) (string, bool) {
	if !decimalInt.MatchString(s) {
		return "", false
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return strconv.FormatInt(n, 10), true
	}
	if n, err := strconv.ParseUint(s, 10, 64); err == nil {
		return strconv.FormatUint(n, 10), true
	}
	return "", false
}

// setTagsOf maps relation names to set tags, leaving out the one named
// except (a tag name without prefix, or "").
func setTagsOf(rels []string, except string) []string {
	var out []string
	for _, tag := range tagsOf(rels) {
		name := tag[len(TablePrefix):]
		if name != except {
			out = append(out, SetPrefix+name)
		}
	}
	return out
}

// keyed gives a plan its row-tag templates when its statement is pinned by
// the whole key of a keyed table (see the top of this file).
func (pl *planner) keyed(p *plan, a *catalog.Access, cat *catalog.Catalog) {
	st := &p.stmt
	if len(st.Pins) != 1 {
		return
	}
	pin := &st.Pins[0]
	t := rowTemplateFor(cat, pl.dialect, pin)
	if t == nil {
		return
	}
	has := func(rels []string) bool {
		for _, tag := range tagsOf(rels) {
			if tag[len(TablePrefix):] == t.table {
				return true
			}
		}
		return false
	}
	if pin.Op == sqlparse.PinRead {
		if st.Kind != sqlparse.KindRead || !st.Cacheable || !has(a.Reads) {
			return
		}
		t.base = append(tagsOf(a.Reads), setTagsOf(a.Reads, t.table)...)
		p.rowRead = t
		return
	}
	if a.WriteAll || st.Kind != sqlparse.KindWrite || st.Session || !has(a.Writes) || !cat.RowLocal(cat.Resolve(pin.Table)) ||
		pin.Op == sqlparse.PinUpdate && t.assignsKey(pin) {
		return
	}
	var others []string
	for _, tag := range tagsOf(a.Writes) {
		if tag[len(TablePrefix):] != t.table {
			others = append(others, tag)
		}
	}
	t.base = append([]string{SetPrefix + t.table}, others...)
	p.rowWrite = t
}

// writeTagsFor returns the tags a write invalidates when it runs with args:
// its row tags when the plan has them and args fill them, else writeTags.
func (p *plan) writeTagsFor(args []driver.NamedValue) []string {
	if p.rowWrite != nil {
		if t, ok := p.rowWrite.tags(args); ok {
			return t
		}
	}
	return p.writeTags
}

// RowTagTemplates shows the row tags a pin gives when its columns are its
// table's whole primary key, with arguments as $n: row:users(id=$1). For
// explain, which has no schema: the driver uses them only when the catalog
// confirms the key (see the top of this file).
func RowTagTemplates(pin sqlparse.Pin) []string {
	t := &rowTemplate{table: TableTag(pin.Table.String())[len(TablePrefix):], alts: pin.Values}
	for _, c := range pin.Columns {
		t.cols = append(t.cols, keyCol{name: strings.ToLower(c)})
	}
	return t.explain()
}

// rowTagsOn resolves Config.RowTags: on unless turned off (WithRowTags).
func rowTagsOn(cfg *Config) bool { return cfg.RowTags == nil || *cfg.RowTags }

// RowTag returns the row tag a keyed read of one row of table carries, for
// code that sees rows written without seeing the statement (the change
// feed). table is qualified as for TableTag; key is the table's primary
// key as catalog.Catalog.PrimaryKey gives it, and values holds one value
// per key column: a Go integer, or a string (the decimal text of an
// integer for an integer column). The result names the row exactly as the
// driver's reads do. ok is false when a column's equality is not byte
// equality of a form yoked knows (catalog.Column.Exact, the column's type)
// or a value cannot be normalised: the caller must then invalidate the
// whole table (TableTag). The caller is responsible for the rest of the
// contract of row tags (see the top of this file): a row written by key
// also invalidates SetTag(table), and the key must be the table's primary
// key at the moment of the write.
func RowTag(table string, key []catalog.Column, values []any) (string, bool) {
	if len(key) == 0 || len(values) != len(key) {
		return "", false
	}
	var b strings.Builder
	b.WriteString(RowPrefix)
	b.WriteString(TableTag(table)[len(TablePrefix):])
	b.WriteByte('(')
	for i, c := range key {
		kind := keyKindOf(c)
		if kind == 0 {
			return "", false
		}
		k, ok := normalKey(kind, values[i])
		if !ok {
			return "", false
		}
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strings.ToLower(c.Name))
		b.WriteByte('=')
		b.WriteString(k)
	}
	b.WriteByte(')')
	return b.String(), true
}
