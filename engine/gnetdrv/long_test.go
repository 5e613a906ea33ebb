//go:build long

package gnetdrv

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"runtime"
	"testing"
	"time"

	"github.com/msrprelay/msrprelay/endpoint"
	"github.com/msrprelay/msrprelay/engine/e2etest"
)

// pattern is a body that is never held whole: a reader of n bytes of a
// fixed 64 KiB pattern.
type pattern struct{ off, left int64 }

var block = func() []byte {
	b := make([]byte, 64<<10)
	for i := range b {
		b[i] = byte(i*31 + i>>9)
	}
	return b
}()

func (p *pattern) Read(b []byte) (int, error) {
	if p.left == 0 {
		return 0, io.EOF
	}
	i := p.off % int64(len(block))
	n := copy(b, block[i:min(int64(len(block)), i+p.left)])
	p.off += int64(n)
	p.left -= int64(n)
	return n, nil
}

// streamSend writes one SEND chunk of size bytes from a pattern.
func streamSend(w io.Writer, to, from string, size int64) error {
	tid := endpoint.NewTID()
	bw := bufio.NewWriterSize(w, 256<<10)
	fmt.Fprintf(bw, "MSRP %s SEND\r\nTo-Path: %s\r\nFrom-Path: %s\r\nMessage-ID: big\r\nByte-Range: 1-%d/%d\r\nContent-Type: application/octet-stream\r\n\r\n", tid, to, from, size, size)
	if _, err := io.Copy(bw, &pattern{left: size}); err != nil {
		return err
	}
	fmt.Fprintf(bw, "\r\n-------%s$\r\n", tid)
	return bw.Flush()
}

// receiveChunks reads SEND chunks at bob until '$', checking every byte
// against the pattern, reading at most rate bytes/s (0: unlimited), and
// reports the relay's peak heap while it did.
func receiveChunks(t *testing.T, bob *endpoint.Conn, size int64, rate int64, watch func()) {
	var got int64
	start := time.Now()
	for {
		f, err := bob.ReadFrameFunc(func(b []byte) error {
			for len(b) > 0 {
				i := got % int64(len(block))
				n := min(len(b), len(block)-int(i))
				if !bytes.Equal(b[:n], block[i:i+int64(n)]) {
					return fmt.Errorf("bytes %d..%d differ", got, got+int64(n))
				}
				got += int64(n)
				b = b[n:]
			}
			watch()
			if rate > 0 {
				if ahead := time.Duration(float64(got)/float64(rate)*float64(time.Second)) - time.Since(start); ahead > 0 {
					time.Sleep(ahead)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		bob.Respond(f, 200, "OK")
		if f.Flag == '$' {
			break
		}
	}
	if got != size {
		t.Fatalf("got %d bytes, want %d", got, size)
	}
}

// liveHeap is the heap still referenced after a collection: what the relay
// (and the test's fixed buffers) really hold.
func liveHeap() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// TestSlowReceiverMemoryFlat: a sender at full speed into a receiver that
// reads 64 MB/s; the relay must slow the sender through TCP, not buffer:
// its live heap stays within a few MiB (measured: 6-10 MiB, test buffers
// included) whatever the size of the transfer.
func TestSlowReceiverMemoryFlat(t *testing.T) {
	cfg := e2etest.BaseConfig(t)
	port := e2etest.FreePort(t)
	stop := startGnet(t, cfg, port, e2etest.DriverOptions{})
	defer stop()
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	bob, err := endpoint.Dial(addr, nil, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	res, err := bob.Auth(endpoint.AuthOptions{RelayURI: fmt.Sprintf("msrp://example.com:%d;tcp", port), FromURI: "msrp://bob.example.com:9/b;tcp", User: "bob", Password: e2etest.Password})
	if err != nil {
		t.Fatal(err)
	}
	alice, err := endpoint.Dial(addr, nil, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	const size = 256 << 20
	base := liveHeap()
	go streamSend(alice.Raw(), res.UsePath+" msrp://bob.example.com:9/b;tcp", "msrp://alice.example.com:9/a;tcp", size)
	var peak uint64
	samples := 0
	receiveChunks(t, bob, size, 64<<20, func() {
		if samples++; samples%64 == 0 {
			if h := liveHeap(); h > peak {
				peak = h
			}
		}
	})
	growth := int64(peak) - int64(base)
	t.Logf("live heap: base %d KiB, peak %d KiB, growth %d KiB for a %d MiB transfer", base>>10, peak>>10, growth>>10, size>>20)
	if growth > 16<<20 {
		t.Fatalf("relay heap grew by %d MiB: the slow receiver is buffered, not back-pressured", growth>>20)
	}
}

// TestGigabyteTransfer streams 1 GiB through the relay at full speed.
func TestGigabyteTransfer(t *testing.T) {
	cfg := e2etest.BaseConfig(t)
	port := e2etest.FreePort(t)
	stop := startGnet(t, cfg, port, e2etest.DriverOptions{})
	defer stop()
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	bob, _ := endpoint.Dial(addr, nil, 5*time.Second)
	res, err := bob.Auth(endpoint.AuthOptions{RelayURI: fmt.Sprintf("msrp://example.com:%d;tcp", port), FromURI: "msrp://bob.example.com:9/b;tcp", User: "bob", Password: e2etest.Password})
	if err != nil {
		t.Fatal(err)
	}
	alice, _ := endpoint.Dial(addr, nil, 5*time.Second)
	const size = 1 << 30
	start := time.Now()
	go streamSend(alice.Raw(), res.UsePath+" msrp://bob.example.com:9/b;tcp", "msrp://alice.example.com:9/a;tcp", size)
	receiveChunks(t, bob, size, 0, func() {})
	t.Logf("1 GiB in %v (%.0f MB/s)", time.Since(start), float64(size)/time.Since(start).Seconds()/1e6)
}
