package forwarder

import (
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
)

// Forwarder splices accepted connections in pairs.
type Forwarder struct {
	ln net.Listener
	wg sync.WaitGroup

	mu      sync.Mutex
	waiting net.Conn // a bob whose alice has not connected yet
	conns   map[net.Conn]struct{}
	closed  bool
}

// Listen starts a forwarder on addr (host:port; port 0 picks one).
func Listen(addr string) (*Forwarder, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("forwarder: %w", err)
	}
	f := &Forwarder{ln: ln, conns: map[net.Conn]struct{}{}}
	f.wg.Add(1)
	go f.accept()
	return f, nil
}

// Addr is the listening address.
func (f *Forwarder) Addr() string { return f.ln.Addr().String() }

func (f *Forwarder) accept() {
	defer f.wg.Done()
	for {
		c, err := f.ln.Accept()
		if err != nil {
			return
		}
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.SetNoDelay(true)
		}
		f.mu.Lock()
		if f.closed {
			f.mu.Unlock()
			c.Close()
			return
		}
		f.conns[c] = struct{}{}
		bob := f.waiting
		if bob == nil {
			f.waiting = c
			f.mu.Unlock()
			continue
		}
		f.waiting = nil
		f.mu.Unlock()
		f.wg.Add(2)
		go f.pipe(c, bob)
		go f.pipe(bob, c)
	}
}

// pipe copies src to dst until src ends, then closes both so that the
// other direction ends too. Between TCP sockets io.Copy uses splice(2).
func (f *Forwarder) pipe(dst, src net.Conn) {
	defer f.wg.Done()
	_, _ = io.Copy(dst, src)
	f.drop(dst)
	f.drop(src)
}

func (f *Forwarder) drop(c net.Conn) {
	f.mu.Lock()
	_, ok := f.conns[c]
	delete(f.conns, c)
	f.mu.Unlock()
	if ok {
		c.Close()
	}
}

// Close stops accepting, closes every connection and waits for the copies
// to end.
func (f *Forwarder) Close() error {
	f.mu.Lock()
	f.closed = true
	conns := make([]net.Conn, 0, len(f.conns))
	for c := range f.conns {
		conns = append(conns, c)
	}
	f.mu.Unlock()
	err := f.ln.Close()
	for _, c := range conns {
		f.drop(c)
	}
	f.wg.Wait()
	if errors.Is(err, net.ErrClosed) {
		err = nil
	}
	return err
}
