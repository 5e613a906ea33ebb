package bufpool

import (
	"testing"

	"github.com/valyala/bytebufferpool"
)

// After thousands of small buffers, a large one is still kept: the case
// bytebufferpool's calibration loses.
func TestKeepsLargeBuffersAfterManySmallOnes(t *testing.T) {
	var p Pool
	for range 50_000 {
		b := p.Get()
		b.B = append(b.B, "a small message"...)
		p.Put(b)
	}
	// sync.Pool may drop a buffer (at a collection, or at random under the
	// race detector), so a few tries; a pool that never keeps large
	// buffers fails every one.
	for range 20 {
		p.Put(&bytebufferpool.ByteBuffer{B: make([]byte, 0, 64<<10)})
		if got := p.Get(); cap(got.B) >= 64<<10 {
			return
		}
	}
	t.Fatal("a large buffer was never kept")
}

func TestMaxDropsHugeBuffers(t *testing.T) {
	p := Pool{Max: 1 << 10}
	b := &bytebufferpool.ByteBuffer{B: make([]byte, 0, 4<<10)}
	p.Put(b)
	if got := p.Get(); cap(got.B) >= 4<<10 {
		t.Fatal("a buffer over Max was kept")
	}
}

func TestGetIsEmpty(t *testing.T) {
	var p Pool
	b := p.Get()
	b.B = append(b.B, "leftover"...)
	p.Put(b)
	if got := p.Get(); len(got.B) != 0 {
		t.Fatalf("Get returned %q", got.B)
	}
}

func BenchmarkGetPut(b *testing.B) {
	var p Pool
	b.ReportAllocs()
	for b.Loop() {
		buf := p.Get()
		buf.B = append(buf.B, "0123456789"...)
		p.Put(buf)
	}
}
