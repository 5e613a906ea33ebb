package endpoint

import (
	"errors"
	"io"
	"testing"

	"github.com/msrprelay/msrprelay/codec"
)

// TestAssemblyOutOfOrder: chunks in any order, the last first; complete
// only once every byte up to the '$' chunk's end is in.
func TestAssemblyOutOfOrder(t *testing.T) {
	buf := make(SliceAt, 10)
	a := NewAssembly(buf, 10)
	for _, c := range []struct {
		start int64
		body  string
		flag  byte
	}{{8, "789", '$'}, {1, "01234", '+'}, {6, "56", '+'}} {
		if a.Complete() {
			t.Fatalf("complete before %q", c.body)
		}
		before := a.Received()
		if _, err := io.WriteString(a.Writer(c.start), c.body); err != nil {
			t.Fatal(err)
		}
		a.ChunkDone(c.flag, c.start, a.Received()-before)
	}
	if !a.Complete() || a.Size() != 10 || string(buf) != "0123456789" {
		t.Fatalf("complete %v, size %d, %q", a.Complete(), a.Size(), buf)
	}
}

func TestAssemblyBeyondTotal(t *testing.T) {
	a := NewAssembly(make(SliceAt, 4), 4)
	if _, err := io.WriteString(a.Writer(3), "abc"); !errors.Is(err, ErrBeyondTotal) {
		t.Fatalf("got %v, want ErrBeyondTotal", err)
	}
	// An unknown total bounds nothing but the destination itself.
	u := NewAssembly(make(SliceAt, 4), codec.Unknown)
	if _, err := io.WriteString(u.Writer(2), "abc"); err != nil {
		t.Fatal(err)
	}
}
