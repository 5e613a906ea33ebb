package tlsshim

import (
	"crypto/tls"
	"crypto/x509"
	"time"
)

// Options configure msrps for a driver: the server side of tls://
// listeners and the client side of msrps next hops.
type Options struct {
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

// HandshakeTimeoutOr is HandshakeTimeout, or def when unset.
func (o *Options) HandshakeTimeoutOr(def time.Duration) time.Duration {
	if o.HandshakeTimeout <= 0 {
		return def
	}
	return o.HandshakeTimeout
}

// VerifyRelay returns the DNS and IP names of a client certificate that
// verifies against the relay roots, or nil: such a peer is a relay.
func VerifyRelay(st tls.ConnectionState, relayRoots func() *x509.CertPool) []string {
	if len(st.PeerCertificates) == 0 || relayRoots == nil {
		return nil
	}
	roots := relayRoots()
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
