// Package memory is the in-process tagstore.Store: a byte-bounded map of
// entries with per-entry expiry, and a map of tag versions that lives beside
// it. It is the embedded default and the near-cache of remote stores.
//
// A hit costs one map read and one atomic load per tag of the entry: an entry
// holds a pointer to the version cell of each of its tags together with the
// version it was stored under, so checking it needs no lookup of the tags and
// no allocation.
package memory
