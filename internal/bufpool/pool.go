package bufpool

import (
	"sync"

	"github.com/valyala/bytebufferpool"
)

// Pool is a pool of byte buffers. The zero value keeps buffers of any
// size; Max, when set, drops larger ones (a rare huge frame is not kept).
type Pool struct {
	Max int
	p   sync.Pool
}

// Get returns an empty buffer, with the capacity of one used before when
// the pool has one.
func (p *Pool) Get() *bytebufferpool.ByteBuffer {
	if b, ok := p.p.Get().(*bytebufferpool.ByteBuffer); ok {
		return b
	}
	return new(bytebufferpool.ByteBuffer)
}

// Put empties b and keeps it for reuse. b must not be used afterwards.
func (p *Pool) Put(b *bytebufferpool.ByteBuffer) {
	if p.Max > 0 && cap(b.B) > p.Max {
		return
	}
	b.B = b.B[:0]
	p.p.Put(b)
}
