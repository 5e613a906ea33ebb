package netdrv

import (
	"context"
	"crypto/tls"
	"sync/atomic"
	"time"

	"github.com/msrprelay/msrprelay/engine"
	"github.com/msrprelay/msrprelay/tlsshim"
)

// TLSMode is how a driver's I/O meets TLS once the handshake is done.
type TLSMode uint8

const (
	// TLSStream: the driver reads and writes a crypto/tls connection
	// (Conn.Socket), blocking, a goroutine per direction.
	TLSStream TLSMode = iota
	// TLSFed: the driver reads the socket itself and feeds the records to
	// a tlsshim.Session (Conn.Session), as an event loop must.
	TLSFed
)

func (m TLSMode) String() string {
	if m == TLSFed {
		return "fed"
	}
	return "stream"
}

// secureServer runs the server handshake of an accepted connection once
// the peer has sent its first byte, while a bounded number of others run
// (Handshakes): a storm of handshakes queues here instead of starving
// forwarding of CPU, and silent or slow peers from one address cannot hold
// every slot.
func (f *Front) secureServer(c *Conn) error {
	if err := WaitFirstByte(c.Socket, FirstByteTimeout); err != nil {
		return err
	}
	if !f.handshakes.Acquire(c.Source) {
		return ErrShare
	}
	defer f.handshakes.Release(c.Source)
	cfg, timeout := f.opts.TLS.Server(), f.opts.TLS.HandshakeTimeoutOr(defaultHandshakeTimeout)
	if c.Listener.WebSocket {
		cfg = f.browsers.config(cfg)
	}
	if f.tlsMode == TLSFed {
		s, err := tlsshim.Server(c.Socket, cfg, timeout)
		if err != nil {
			return err
		}
		c.Session = s
		c.Peer = engine.PeerInfo{RelayNames: tlsshim.VerifyRelay(s.State(), f.opts.TLS.RelayRoots)}
		return nil
	}
	tc := tls.Server(c.Socket, cfg)
	if err := handshake(tc, timeout); err != nil {
		return err
	}
	c.Socket = tc
	c.Peer = engine.PeerInfo{RelayNames: tlsshim.VerifyRelay(tc.ConnectionState(), f.opts.TLS.RelayRoots)}
	return nil
}

// secureClient runs the client handshake toward a next hop: the next
// relay proves its name, this relay presents its own certificate
// (RFC 4976 §9.2).
func (f *Front) secureClient(c *Conn, serverName string) error {
	cfg, timeout := f.opts.TLS.Client(serverName), f.opts.TLS.HandshakeTimeoutOr(defaultHandshakeTimeout)
	if f.tlsMode == TLSFed {
		s, err := tlsshim.Client(c.Socket, cfg, timeout)
		if err != nil {
			return err
		}
		c.Session = s
	} else {
		tc := tls.Client(c.Socket, cfg)
		if err := handshake(tc, timeout); err != nil {
			return err
		}
		c.Socket = tc
	}
	c.Peer = engine.PeerInfo{RelayNames: []string{serverName}}
	return nil
}

func handshake(tc *tls.Conn, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return tc.HandshakeContext(ctx)
}

// browserTLS is the server configuration of wss listeners: the msrps one
// without the client-certificate request. Only relays present
// certificates, and no relay connects over WebSocket, while Chromium
// aborts a WebSocket handshake from a page of another origin when the
// server asks for a certificate. The copy is made once per configuration
// (a certificate reload makes a new one).
type browserTLS struct {
	cache atomic.Pointer[[2]*tls.Config] // the msrps configuration, its copy
}

func (b *browserTLS) config(cfg *tls.Config) *tls.Config {
	if cfg.ClientAuth == tls.NoClientCert {
		return cfg
	}
	if c := b.cache.Load(); c != nil && c[0] == cfg {
		return c[1]
	}
	browsers := cfg.Clone()
	browsers.ClientAuth = tls.NoClientCert
	b.cache.Store(&[2]*tls.Config{cfg, browsers})
	return browsers
}
