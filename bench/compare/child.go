package compare

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/msrprelay/msrprelay/bench/load"
	"github.com/msrprelay/msrprelay/bench/proc"
	"github.com/msrprelay/msrprelay/digest"
	"github.com/msrprelay/msrprelay/tlsshim"
)

// child is a relay (or forwarder) process this package started.
type child struct {
	*proc.Child
	addr string // its plain TCP listener
	// addrs are all its listeners by transport (tcp always).
	addrs map[load.Transport]string
}

// stopGrace is how long a child has to end after SIGTERM before it is
// killed: the relays run with --shutdown-grace 1s.
const stopGrace = 3 * time.Second

func (c *child) stop() { _ = c.Stop(stopGrace) }

// writeCredentials writes an htdigest file for user in dir.
func writeCredentials(dir, user, realm, password string) (string, error) {
	p := filepath.Join(dir, "credentials.htdigest")
	if err := os.WriteFile(p, digest.AppendEntry(nil, user, realm, password), 0o600); err != nil {
		return "", fmt.Errorf("credentials: %w", err)
	}
	return p, nil
}

// startMsrprelay starts the daemon with one engine on free ports: plain
// TCP, and with cert (unless it is nil) also TLS, WebSocket and secure
// WebSocket; sessions AUTHed over WebSocket get a URI of the TCP or TLS
// listener. Extra arguments go after the defaults.
func startMsrprelay(bin, engine, creds, realm string, cert *benchCert, extra ...string) (*child, error) {
	transports := []load.Transport{load.TransportTCP}
	if cert != nil {
		transports = append(transports, load.TransportTLS, load.TransportWS, load.TransportWSS)
	}
	addrs := map[load.Transport]string{}
	var args []string
	for _, tr := range transports {
		addr, err := proc.FreeAddr()
		if err != nil {
			return nil, err
		}
		addrs[tr] = addr
		args = append(args, "--listen", string(tr)+"://"+addr)
	}
	if cert != nil {
		args = append(args, "--tls-cert", cert.certFile, "--tls-key", cert.keyFile)
	}
	addr := addrs[load.TransportTCP]
	args = append(args, "--hostname", "127.0.0.1", "--realm", realm,
		"--credentials", creds, "--engine", engine, "--log-level", "warn",
		"--shutdown-grace", "1s")
	c, err := proc.Start(proc.Options{Name: engine, Path: bin, Args: append(args, extra...),
		Probe: proc.Dials(addr), ReadyWithin: 10 * time.Second})
	if err != nil {
		return nil, err
	}
	return &child{Child: c, addr: addr, addrs: addrs}, nil
}

// benchCert is the relays' TLS certificate and a client configuration
// that trusts it.
type benchCert struct {
	certFile, keyFile string
	client            *tls.Config
}

// writeCertificate makes a self-signed certificate for 127.0.0.1 in dir.
func writeCertificate(dir string) (*benchCert, error) {
	_, certPEM, keyPEM, err := tlsshim.SelfSigned(nil, []net.IP{net.IPv4(127, 0, 0, 1)}, 24*time.Hour)
	if err != nil {
		return nil, fmt.Errorf("certificate: %w", err)
	}
	c := &benchCert{certFile: filepath.Join(dir, "cert.pem"), keyFile: filepath.Join(dir, "key.pem")}
	if err := os.WriteFile(c.certFile, certPEM, 0o600); err != nil {
		return nil, fmt.Errorf("certificate: %w", err)
	}
	if err := os.WriteFile(c.keyFile, keyPEM, 0o600); err != nil {
		return nil, fmt.Errorf("certificate: %w", err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(certPEM)
	c.client = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	return c, nil
}

// ForwardReadyLine is what "msrpbench forward" prints on stderr once it
// listens, followed by the address.
const ForwardReadyLine = "forwarding on"

// startForwarder runs the forwarder as a child process of this very
// binary (msrpbench forward), so that its CPU is measured apart from the
// load generator's, as a relay's is.
func startForwarder() (*child, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("forwarder: %w", err)
	}
	addr, err := proc.FreeAddr()
	if err != nil {
		return nil, err
	}
	// A probe connection would become the forwarder's first bob and pair
	// with the first real one, so readiness is its own line on stderr.
	c, err := proc.Start(proc.Options{Name: "forwarder", Path: self, Args: []string{"forward", "--listen", addr},
		ReadyLine: ForwardReadyLine, ReadyWithin: 10 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("%w (it needs the msrpbench binary)", err)
	}
	return &child{Child: c, addr: addr}, nil
}
