package gnetdrv

import (
	"crypto/tls"
	"crypto/x509"
	"net"
	"time"

	"github.com/msrprelay/msrprelay/engine"
	"github.com/msrprelay/msrprelay/tlsshim"
)

// TLSOptions configure msrps: the server side of tls:// listeners and the
// client side of msrps next hops.
type TLSOptions struct {
	// Server returns the configuration for an accepted connection; it is
	// called per handshake, so a certificate reload takes effect at once.
	// It should request (not require) a client certificate: relays present
	// one, endpoints do not (RFC 4976 §6.1).
	Server func() *tls.Config
	// Client returns the configuration for dialing a next-hop relay named
	// serverName (SNI, verification, this relay's certificate).
	Client func(serverName string) *tls.Config
	// RelayRoots verifies a client certificate as a relay's (RFC 4976 §9.2).
	// A certificate that does not verify is ignored: the peer is then an
	// endpoint authenticating with digest.
	RelayRoots func() *x509.CertPool
	// HandshakeTimeout bounds a handshake. Default 10 s.
	HandshakeTimeout time.Duration
}

func (o *TLSOptions) timeout() time.Duration {
	if o.HandshakeTimeout <= 0 {
		return 10 * time.Second
	}
	return o.HandshakeTimeout
}

// handshake runs a server handshake off the loops, then enrolls the
// connection. At most cap(s.handshakes) run at once, so a storm of
// handshakes queues here instead of starving forwarding of CPU.
func (s *Server) handshake(nc net.Conn, l *link) {
	s.handshakes <- struct{}{}
	sess, err := tlsshim.Server(nc, s.opts.TLS.Server(), s.opts.TLS.timeout())
	<-s.handshakes
	if err != nil {
		s.log.Debug().Err(err).Str("remote", nc.RemoteAddr().String()).Msg("TLS handshake failed")
		_ = nc.Close()
		s.release(l.src)
		return
	}
	l.tls = sess
	l.peer = engine.PeerInfo{RelayNames: s.relayNames(sess.State())}
	s.enroll(nc, l)
}

// relayNames returns the DNS names of a client certificate that verifies
// against the relay roots, or nil.
func (s *Server) relayNames(st tls.ConnectionState) []string {
	if len(st.PeerCertificates) == 0 || s.opts.TLS.RelayRoots == nil {
		return nil
	}
	roots := s.opts.TLS.RelayRoots()
	if roots == nil {
		return nil
	}
	leaf := st.PeerCertificates[0]
	inter := x509.NewCertPool()
	for _, c := range st.PeerCertificates[1:] {
		inter.AddCert(c)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		return nil
	}
	names := append([]string(nil), leaf.DNSNames...)
	for _, ip := range leaf.IPAddresses {
		names = append(names, ip.String())
	}
	return names
}
