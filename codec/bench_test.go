package codec

import (
	"bytes"
	"testing"
)

var (
	benchSend = crlf("MSRP a786hjs2 SEND\nTo-Path: msrps://relay.example.com:2855/Wq3x9T7bKp2mZ8cV;tcp msrps://bob.example.com:8888/9di4eae923wzd;tcp\nFrom-Path: msrps://alicepc.example.com:7777/iau39soe2843z;tcp\nMessage-ID: 87652491\nByte-Range: 1-100/100\nFailure-Report: yes\nContent-Type: text/plain\n\n")
	benchAuth = []byte(`Digest username="alice", realm="example.com", nonce="MDEyMzQ1Njc4OWFiY2RlZjE3MDAwMDAwMDAuMDAwOjE5Mi4wLjIuMTA=", qop="auth", nc="00000001", cnonce="00112233445566778899aabbccddeeff", response="6720dcdccb2300a021c6a7bf8b323407", opaque="5ccc069c403ebaf9f0171e9517f40e41"`)
	benchURI  = []byte("msrps://relay.example.com:2855/Wq3x9T7bKp2mZ8cV;tcp")
)

// hotPaths are the per-frame operations a relay performs; each must
// allocate nothing. The benchmarks and TestHotPathsAllocateNothing share them.
var hotPaths = []struct {
	name string
	run  func(tb testing.TB, st *hotState)
}{
	{"ParseHeader", func(tb testing.TB, st *hotState) {
		if _, err := st.f.Parse(benchSend, nil, &st.p); err != nil {
			tb.Fatal(err)
		}
	}},
	{"ParseURI", func(tb testing.TB, st *hotState) {
		if _, err := ParseURI(benchURI); err != nil {
			tb.Fatal(err)
		}
	}},
	{"ParseDigest", func(tb testing.TB, st *hotState) {
		if err := ParseDigest(benchAuth, &st.d); err != nil {
			tb.Fatal(err)
		}
	}},
	{"ParseByteRange", func(tb testing.TB, st *hotState) {
		if _, err := ParseByteRange([]byte("2049-*/1048576")); err != nil {
			tb.Fatal(err)
		}
	}},
	{"Rewrite", func(tb testing.TB, st *hotState) {
		first, rest := NextURI(st.f.ToPath())
		rw := Rewrite{TID: []byte("kd83ns0Qa9Lm"), ToPath: rest, FromPrefix: first, SetByteRange: true, ByteRange: ByteRange{1, Unknown, 100}}
		st.out = AppendRewrite(st.out[:0], &st.f, &rw)
		st.out = AppendBodyEnd(st.out, rw.TID, '$')
	}},
	{"ScanBody4K", func(tb testing.TB, st *hotState) {
		st.s.Reset([]byte("a786hjs2"), 0)
		if r, _ := st.s.Scan(st.body4k); r.End == 0 {
			tb.Fatal("no end-line")
		}
	}},
}

type hotState struct {
	f      Frame
	p      Progress
	d      Digest
	s      BodyScanner
	out    []byte
	body4k []byte
}

func newHotState(tb testing.TB) *hotState {
	st := &hotState{out: make([]byte, 0, 1024)}
	st.body4k = append(bytes.Repeat([]byte("x"), 4096), AppendBodyEnd(nil, []byte("a786hjs2"), '$')...)
	if _, err := st.f.Parse(benchSend, nil, nil); err != nil {
		tb.Fatal(err)
	}
	return st
}

func BenchmarkHotPaths(b *testing.B) {
	for _, h := range hotPaths {
		b.Run(h.name, func(b *testing.B) {
			st := newHotState(b)
			b.ReportAllocs()
			for b.Loop() {
				h.run(b, st)
			}
		})
	}
}

// BenchmarkScanBody1MiB is the body scanner's throughput over a 1 MiB body
// in 64 KiB reads: what cut-through forwarding costs per byte.
func BenchmarkScanBody1MiB(b *testing.B) {
	for _, kind := range []string{"binary", "text"} {
		b.Run(kind, func(b *testing.B) {
			body := make([]byte, 1<<20)
			for i := range body {
				if kind == "binary" {
					body[i] = byte(i*7919 + i>>8)
				} else {
					body[i] = "lorem ipsum dolor sit amet\r\n"[i%28]
				}
			}
			tid := []byte("a786hjs2")
			wire := append(body, AppendBodyEnd(nil, tid, '$')...)
			var s BodyScanner
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				s.Reset(tid, 0)
				s.Watch([]byte("Zq81mw0aPx"))
				for off := 0; ; {
					end := min(off+64<<10, len(wire))
					r, _ := s.Scan(wire[off:end])
					if r.End > 0 {
						break
					}
					off += r.Body
				}
			}
		})
	}
}
