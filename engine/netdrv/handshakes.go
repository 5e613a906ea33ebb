package netdrv

import (
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Handshakes bounds the TLS handshakes in progress: in all (Max, a
// handshake beyond it waits for a slot) and per source address once slots
// run short (PerSource: with three quarters of them taken, a source that
// has its share is refused), so that one address cannot hold every slot
// while one behind a NAT, or a load test, may use free ones. A connection takes a slot only once its first byte arrived
// (see WaitFirstByte): a silent socket holds none.
type Handshakes struct {
	Max       int // default 256
	PerSource int // default Max/8

	once  sync.Once
	slots chan struct{}
	mu    sync.Mutex
	bySrc map[netip.Addr]int
}

func (h *Handshakes) init() {
	h.once.Do(func() {
		if h.Max <= 0 {
			h.Max = 256
		}
		if h.PerSource <= 0 {
			h.PerSource = max(1, h.Max/8)
		}
		h.slots = make(chan struct{}, h.Max)
		h.bySrc = make(map[netip.Addr]int)
	})
}

// Acquire takes a slot for a handshake from src, waiting for one if all
// are taken; it reports false, at once, when src has its share already.
// A true result must be given back with Release.
func (h *Handshakes) Acquire(src netip.Addr) bool {
	h.init()
	h.mu.Lock()
	if h.bySrc[src] >= h.PerSource && 4*len(h.slots) >= 3*h.Max {
		h.mu.Unlock()
		return false
	}
	h.bySrc[src]++
	h.mu.Unlock()
	h.slots <- struct{}{}
	return true
}

// Release gives back a slot Acquire took for src.
func (h *Handshakes) Release(src netip.Addr) {
	<-h.slots
	h.mu.Lock()
	uncount(h.bySrc, src)
	h.mu.Unlock()
}

// FirstByteTimeout is how long a new TLS connection may stay silent before
// its handshake starts: well above a round trip on any real network, well
// below the handshake timeout a slot-holding peer could otherwise use.
const FirstByteTimeout = 3 * time.Second

// ErrShare is the error for a handshake refused because its source
// address has its share of the slots.
var ErrShare = errors.New("too many TLS handshakes from this address")

// ErrSilent is WaitFirstByte's error for a peer that sent nothing in time.
var ErrSilent = errors.New("no byte from the peer before the first-byte deadline")

// WaitFirstByte waits up to d for nc to have a byte to read, without
// reading it.
func WaitFirstByte(nc net.Conn, d time.Duration) error {
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return err
	}
	if err := nc.SetReadDeadline(time.Now().Add(d)); err != nil {
		return err
	}
	defer nc.SetReadDeadline(time.Time{})
	var peekErr error
	err = rc.Read(func(fd uintptr) bool {
		var b [1]byte
		n, _, e := unix.Recvfrom(int(fd), b[:], unix.MSG_PEEK)
		switch {
		case e == unix.EAGAIN || e == unix.EINTR:
			return false
		case e != nil:
			peekErr = e
		case n == 0:
			peekErr = io.EOF
		}
		return true
	})
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return ErrSilent
	}
	if err != nil {
		return err
	}
	return peekErr
}
