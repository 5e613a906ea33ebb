package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"

	"github.com/gobwas/ws"
)

// A transport mismatch between client and relay shows up as a bare EOF or
// a TLS error that does not say what to change. These errors carry a hint
// naming the flags that fix it.

// hintError is an error with advice for the person at the terminal.
type hintError struct {
	err  error
	hint string
}

func (e *hintError) Error() string { return e.err.Error() + "\nhint: " + e.hint }
func (e *hintError) Unwrap() error { return e.err }

// handshake runs the TLS handshake on nc. A failure is the relay's answer
// to our TLS, so it gets a hint: an untrusted certificate needs --tls-ca,
// a peer that closes or answers in plain text is likely a tcp:// listener.
func handshake(ctx context.Context, nc net.Conn, cfg *tls.Config, addr string) (net.Conn, error) {
	tc := tls.Client(nc, cfg)
	err := tc.HandshakeContext(ctx)
	if err == nil {
		return tc, nil
	}
	tc.Close()
	err = fmt.Errorf("TLS handshake with %s: %w", addr, err)
	if ctx.Err() != nil {
		return nil, err
	}
	var verr *tls.CertificateVerificationError
	if errors.As(err, &verr) {
		return nil, &hintError{err, "the relay's certificate is not trusted: give the CA that signed it with --tls-ca FILE " +
			"(for `make run`, the ephemeral certificate the relay wrote: bin/msrprelay-ephemeral.pem), or --insecure in a lab"}
	}
	return nil, &hintError{err, "the relay did not complete a TLS handshake: if it listens for plain msrp (tcp://), use --transport tcp; " +
		"if it speaks TLS, check --tls-ca names the CA of its certificate"}
}

// sniffConn remembers the first bytes a plain TCP connection received, so
// that a failure can tell "the relay answered in TLS" or "the relay closed
// without a word" (what a TLS listener does with plain MSRP) from an MSRP
// relay's own refusal.
type sniffConn struct {
	net.Conn
	mu    sync.Mutex
	first []byte // up to 2 bytes
}

func (c *sniffConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 {
		c.mu.Lock()
		if len(c.first) < 2 {
			c.first = append(c.first, p[:min(n, 2-len(c.first))]...)
		}
		c.mu.Unlock()
	}
	return n, err
}

// looksLikeTLS says whether nothing at all arrived, or a TLS record
// (handshake or alert, version 3.x) did.
func (c *sniffConn) looksLikeTLS() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch len(c.first) {
	case 0:
		return true
	case 1:
		return c.first[0] == 0x15 || c.first[0] == 0x16
	}
	return (c.first[0] == 0x15 || c.first[0] == 0x16) && c.first[1] == 0x03
}

// explain adds the transport hint to err when mc is a plain TCP connection
// whose relay sent nothing before closing, or sent TLS. A timeout is left
// alone: a TLS listener fails plain MSRP at once.
func (c *connFlags) explain(err error, mc *msrpConn) error {
	if err == nil || c.transport != "tcp" || errors.Is(err, os.ErrDeadlineExceeded) {
		return err
	}
	var h *hintError
	if errors.As(err, &h) {
		return err
	}
	if sc, ok := mc.nc.(*sniffConn); ok && sc.looksLikeTLS() {
		return &hintError{err, "the relay closed the connection without an MSRP answer, as a TLS listener does with plain msrp: " +
			"msrprelay listens for TLS by default, so use --transport tls and --tls-ca FILE (the relay's CA or ephemeral certificate)"}
	}
	return err
}

// explainUpgrade adds a hint to a failed WebSocket upgrade that got no
// HTTP answer at all: an MSRP listener closes on an HTTP request, and a
// TLS one fails plain text.
func explainUpgrade(err error, transport string) error {
	var status ws.StatusError
	if errors.As(err, &status) {
		return err // the relay's own refusal, its reason in err
	}
	other := "--transport tcp or tls"
	if transport == "ws" {
		other += ", or --transport wss if it is a wss:// listener"
	}
	return &hintError{err, "the relay did not answer the WebSocket upgrade: if it listens for MSRP (tcp:// or tls://), use " + other}
}
