package changefeed

// MaxInFlight lets the benchmarks compare pipelined invalidations with one
// at a time.
var MaxInFlight = &maxInFlight
