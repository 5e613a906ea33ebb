package main

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/msrprelay/msrprelay/tlsshim"
)

// tlsState holds the certificate and CA pool, swapped on SIGHUP.
type tlsState struct {
	o     *options
	cert  atomic.Pointer[tls.Certificate]
	roots atomic.Pointer[x509.CertPool] // --tls-ca: relays' and next hops' CA
	log   zerolog.Logger
	// Without --tls-cert: the ephemeral certificate, written once the
	// listeners are up.
	ephemeralPEM  []byte
	ephemeralPath string
}

// newTLSState loads --tls-cert/--tls-key, or makes an ephemeral
// self-signed certificate for --hostname and the listen addresses, writes
// it to --tls-ephemeral-cert for clients to trust, and logs its fingerprint.
// It returns the hostname to use when --hostname was not given: the
// certificate's first DNS name.
func newTLSState(o *options, listens []listen, host string, log zerolog.Logger) (*tlsState, string, error) {
	t := &tlsState{o: o, log: log}
	if err := t.loadCA(); err != nil {
		return nil, "", err
	}
	if o.tlsCert != "" || o.tlsKey != "" {
		cert, err := t.loadCert()
		if err != nil {
			return nil, "", err
		}
		if o.hostname == "" && len(cert.Leaf.DNSNames) > 0 {
			host = cert.Leaf.DNSNames[0]
		}
		return t, host, nil
	}
	secure := false
	for _, l := range listens {
		secure = secure || l.secure
	}
	if !secure {
		return t, host, nil // msrps next hops only: no certificate to show
	}
	var ips []net.IP
	for _, l := range listens {
		if a := l.addr.Addr(); !a.IsUnspecified() {
			ips = append(ips, net.IP(a.AsSlice()))
		}
	}
	var names []string
	if ip := net.ParseIP(host); ip != nil {
		ips = append(ips, ip)
	} else {
		names = []string{host}
	}
	cert, certPEM, _, err := tlsshim.SelfSigned(names, ips, 365*24*time.Hour)
	if err != nil {
		return nil, "", err
	}
	t.cert.Store(&cert)
	t.ephemeralPEM = certPEM
	t.ephemeralPath = o.tlsEphemeralCert
	if t.ephemeralPath == "" {
		port := 0
		for _, l := range listens {
			if l.secure {
				port = int(l.addr.Port())
				break
			}
		}
		t.ephemeralPath = filepath.Join(o.stateDir, fmt.Sprintf("ephemeral-%d.pem", port))
	}
	return t, host, nil
}

// writeEphemeral writes the ephemeral certificate for clients to trust.
// The daemon calls it once its listeners are up: a relay that fails to
// start (its port taken by a running one) must not replace the file that
// running relay's clients trust. The write is atomic.
func (t *tlsState) writeEphemeral() error {
	if t.ephemeralPEM == nil {
		return nil
	}
	path := t.ephemeralPath
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("--state-dir: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".ephemeral-*.pem")
	if err != nil {
		return fmt.Errorf("writing the ephemeral certificate: %w", err)
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.Write(t.ephemeralPEM)
	if err == nil {
		err = tmp.Chmod(0o644)
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("writing the ephemeral certificate: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("writing the ephemeral certificate: %w", err)
	}
	cert := t.cert.Load()
	t.log.Warn().Str("path", path).Str("sha256", tlsshim.Fingerprint(cert.Certificate[0])).
		Msg("no --tls-cert: using an ephemeral self-signed certificate; clients must trust the file at path")
	return nil
}

func (t *tlsState) loadCert() (*tls.Certificate, error) {
	if t.o.tlsCert == "" || t.o.tlsKey == "" {
		return nil, errors.New("--tls-cert and --tls-key go together")
	}
	cert, err := tls.LoadX509KeyPair(t.o.tlsCert, t.o.tlsKey)
	if err != nil {
		return nil, err
	}
	if cert.Leaf == nil {
		if cert.Leaf, err = x509.ParseCertificate(cert.Certificate[0]); err != nil {
			return nil, err
		}
	}
	t.cert.Store(&cert)
	return &cert, nil
}

func (t *tlsState) loadCA() error {
	if t.o.tlsCA == "" {
		return nil
	}
	pem, err := os.ReadFile(t.o.tlsCA)
	if err != nil {
		return err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return fmt.Errorf("--tls-ca %s: no certificates", t.o.tlsCA)
	}
	t.roots.Store(pool)
	return nil
}

// reload re-reads the certificate and CA files (SIGHUP); sessions and
// connections stay, new handshakes use the new files.
func (t *tlsState) reload() {
	if t.o.tlsCert != "" {
		if _, err := t.loadCert(); err != nil {
			t.log.Error().Err(err).Msg("TLS certificate not reloaded; keeping the old one")
			return
		}
	}
	if err := t.loadCA(); err != nil {
		t.log.Error().Err(err).Msg("--tls-ca not reloaded; keeping the old one")
		return
	}
	t.log.Info().Msg("TLS certificate reloaded")
}

func (t *tlsState) cipherSuites() []uint16 {
	if !t.o.tlsRSAKex {
		return nil // Go's defaults: ECDHE with AES-GCM or ChaCha20
	}
	// RFC 4976 §9.2 names TLS_RSA_WITH_AES_128_CBC_SHA as mandatory; Go
	// no longer offers RSA key exchange unless it is listed (and it needs
	// an RSA certificate).
	var ids []uint16
	for _, s := range tls.CipherSuites() {
		ids = append(ids, s.ID)
	}
	return append(ids, tls.TLS_RSA_WITH_AES_128_CBC_SHA)
}

func (t *tlsState) options() *tlsshim.Options {
	getCert := func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return t.cert.Load(), nil }
	getClientCert := func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
		if c := t.cert.Load(); c != nil {
			return c, nil
		}
		return &tls.Certificate{}, nil // none: the next hop sees an endpoint
	}
	// One server configuration for every handshake: the certificate comes
	// from getCert (reloads included), and a configuration made per
	// handshake would also make its own session-ticket keys, so no client
	// could ever resume a session.
	server := &tls.Config{
		GetCertificate: getCert,
		ClientAuth:     tls.RequestClientCert, // relays show one; endpoints need not
		MinVersion:     tls.VersionTLS12,
		CipherSuites:   t.cipherSuites(),
	}
	return &tlsshim.Options{
		Server: func() *tls.Config { return server },
		Client: func(serverName string) *tls.Config {
			return &tls.Config{
				ServerName:           serverName,
				RootCAs:              t.roots.Load(), // nil: the system roots
				GetClientCertificate: getClientCert,
				MinVersion:           tls.VersionTLS12,
				CipherSuites:         t.cipherSuites(),
			}
		},
		RelayRoots: func() *x509.CertPool { return t.roots.Load() },
	}
}
