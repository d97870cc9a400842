package driver

import (
	"database/sql/driver"
	"reflect"
)

// result is a complete, immutable result set as stored in the cache. It is
// shared by every hit: nothing may mutate it after it is stored; []byte values
// are copied out to the caller on every hit.
type result struct {
	cols  []string
	types []colType
	rows  [][]driver.Value
	size  int // estimated bytes, for the store's bound
}

// colType is the column metadata the base driver reported through the
// optional driver.RowsColumnType* interfaces, so that a hit answers
// ColumnTypes exactly as a live query would. Each has* flag records whether
// the base rows implemented that interface at all.
type colType struct {
	scanType    reflect.Type // any when the base does not implement RowsColumnTypeScanType; nil when it reported nil
	dbType      string
	hasDBType   bool
	length      int64
	lengthOK    bool
	hasLength   bool
	nullable    bool
	nullableOK  bool
	hasNullable bool
	precision   int64
	scale       int64
	psOK        bool
	hasPS       bool
}
