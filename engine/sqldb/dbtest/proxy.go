package dbtest

import (
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Proxy sits between the relay and a server and holds each of the
// server's answers for a delay it can change at any time: a slow
// database, whatever the queries are.
type Proxy struct {
	// URL is the server's URL with the proxy's port.
	URL   string
	ln    net.Listener
	delay atomic.Int64
	wg    sync.WaitGroup
	mu    sync.Mutex
	conns []net.Conn
}

// Proxy starts a proxy in front of s.
func (s *Server) Proxy() (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &Proxy{ln: ln, URL: strings.Replace(s.URL, fmt.Sprintf(":%d/", s.Port), fmt.Sprintf(":%d/", ln.Addr().(*net.TCPAddr).Port), 1)}
	target := fmt.Sprintf("127.0.0.1:%d", s.Port)
	p.wg.Add(1)
	go p.accept(target)
	return p, nil
}

// SetDelay sets how long each answer is held from now on.
func (p *Proxy) SetDelay(d time.Duration) { p.delay.Store(int64(d)) }

// Close stops the proxy and cuts its connections.
func (p *Proxy) Close() {
	p.ln.Close()
	p.mu.Lock()
	for _, c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

func (p *Proxy) accept(target string) {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		up, err := net.Dial("tcp", target)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, c, up)
		p.mu.Unlock()
		p.wg.Add(2)
		go func() {
			defer p.wg.Done()
			io.Copy(up, c)
			up.Close()
		}()
		go func() {
			defer p.wg.Done()
			p.delayed(c, up)
			c.Close()
		}()
	}
}

// delayed copies the server's bytes to the client, each read held back
// by the delay.
func (p *Proxy) delayed(dst, src net.Conn) {
	buf := make([]byte, 64<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			time.Sleep(time.Duration(p.delay.Load()))
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// Schema runs the statements of an SQL file (a schema in configs/):
// comments dropped, statements split at semicolons.
func (s *Server) Schema(path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var lines []string
	for _, l := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(strings.TrimSpace(l), "--") {
			lines = append(lines, l)
		}
	}
	var stmts []string
	for _, q := range strings.Split(strings.Join(lines, "\n"), ";") {
		if q = strings.TrimSpace(q); q != "" {
			stmts = append(stmts, q)
		}
	}
	return s.admin(stmts...)
}
