package staleness

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"sync"
	"time"
)

// Now is the clock every recording process must use: wall-clock nanoseconds,
// comparable between processes of one machine.
func Now() int64 { return time.Now().UnixNano() }

// Recorder collects operations from many goroutines. The zero value is ready.
type Recorder struct {
	mu  sync.Mutex
	ops []Op
}

// Add records op. Safe for concurrent use.
func (r *Recorder) Add(op Op) {
	r.mu.Lock()
	r.ops = append(r.ops, op)
	r.mu.Unlock()
}

// Ops returns a copy of what was recorded.
func (r *Recorder) Ops() []Op {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Op(nil), r.ops...)
}

// Encode writes ops as JSON lines, for a history recorded in another process.
func Encode(w io.Writer, ops []Op) error {
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	for _, op := range ops {
		if err := enc.Encode(op); err != nil {
			return err
		}
	}
	return bw.Flush()
}

// Decode reads what Encode wrote.
func Decode(r io.Reader) ([]Op, error) {
	var ops []Op
	dec := json.NewDecoder(bufio.NewReader(r))
	for {
		var op Op
		err := dec.Decode(&op)
		if err == io.EOF {
			return ops, nil
		}
		if err != nil {
			return ops, fmt.Errorf("staleness: history line %d: %w", len(ops)+1, err)
		}
		ops = append(ops, op)
	}
}
