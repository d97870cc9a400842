package sqlparse

import (
	"cmp"
	"slices"
)

// Stronger reports whether k outranks other in the order Statement.Kind
// documents: Unknown > DDL > Write > Session > Tx > Other > Read.
func (k Kind) Stronger(other Kind) bool { return k.rank() > other.rank() }

func (k Kind) rank() int {
	switch k {
	case KindRead:
		return 0
	case KindOther:
		return 1
	case KindTx:
		return 2
	case KindSession:
		return 3
	case KindWrite:
		return 4
	case KindDDL:
		return 5
	}
	return 6
}

// Reason is why a statement of kind k is not cacheable ("" for KindRead),
// the wording every dialect uses.
func (k Kind) Reason() string {
	switch k {
	case KindRead:
		return ""
	case KindWrite:
		return "statement writes"
	case KindDDL:
		return "statement changes schema"
	case KindTx:
		return "transaction control"
	case KindSession:
		return "statement changes session state"
	case KindOther:
		return "not a query"
	}
	return "statement effect unknown"
}

// SortTables sorts ts by schema then name and drops duplicates, in place;
// it returns nil for an empty list so that Statements compare equal.
func SortTables(ts []Table) []Table {
	if len(ts) == 0 {
		return nil
	}
	slices.SortFunc(ts, func(a, b Table) int {
		return cmp.Or(cmp.Compare(a.Schema, b.Schema), cmp.Compare(a.Name, b.Name))
	})
	return slices.Compact(ts)
}

// SortNames sorts s and drops duplicates, in place; nil when empty.
func SortNames(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	slices.Sort(s)
	return slices.Compact(s)
}
