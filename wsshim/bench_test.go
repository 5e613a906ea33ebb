package wsshim

import (
	"testing"

	"github.com/gobwas/ws"
)

// BenchmarkFeed reads 4 KiB masked client frames, 16 to a 64 KiB read.
func BenchmarkFeed(b *testing.B) {
	s := open(b, &msrpConfig)
	var in []byte
	for range 16 {
		in = append(in, clientFrame(ws.OpBinary, true, make([]byte, 4096), testMask)...)
	}
	dst := make([]byte, 0, len(in))
	b.SetBytes(16 * 4096)
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if dst, err = s.Feed(dst[:0], in); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkFeedSmall reads 100-byte frames (chat), 64 to a read.
func BenchmarkFeedSmall(b *testing.B) {
	s := open(b, &msrpConfig)
	var in []byte
	for range 64 {
		in = append(in, clientFrame(ws.OpText, true, make([]byte, 100), testMask)...)
	}
	dst := make([]byte, 0, len(in))
	b.SetBytes(64 * 100)
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if dst, err = s.Feed(dst[:0], in); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkWrite frames a 4 KiB chunk as one message and hands it over.
func BenchmarkWrite(b *testing.B) {
	s := open(b, &msrpConfig)
	chunk := make([]byte, 4096)
	b.SetBytes(int64(len(chunk)))
	b.ReportAllocs()
	for b.Loop() {
		s.Write(chunk, true)
		_ = s.Output()
		s.Written()
	}
}
