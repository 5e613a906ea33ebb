package compare

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/msrprelay/msrprelay/digest"
	"github.com/msrprelay/msrprelay/tlsshim"
)

// child is a relay (or forwarder) process this package started.
type child struct {
	name    string
	addr    string
	tlsAddr string // its msrps listener, if any
	cmd     *exec.Cmd
	done    chan error
}

func (c *child) pid() int { return c.cmd.Process.Pid }

// freePort asks the kernel for a free port on 127.0.0.1.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// writeCredentials writes an htdigest file for user in dir.
func writeCredentials(dir, user, realm, password string) (string, error) {
	p := filepath.Join(dir, "credentials.htdigest")
	if err := os.WriteFile(p, digest.AppendEntry(nil, user, realm, password), 0o600); err != nil {
		return "", fmt.Errorf("credentials: %w", err)
	}
	return p, nil
}

// startChild runs bin with args and waits until addr accepts.
func startChild(name, addr, bin string, args ...string) (*child, error) {
	cmd := exec.Command(bin, args...)
	cmd.Stdout = os.Stderr
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	c := &child{name: name, addr: addr, cmd: cmd, done: make(chan error, 1)}
	go func() { c.done <- cmd.Wait() }()
	if err := c.waitListening(); err != nil {
		c.stop()
		return nil, err
	}
	return c, nil
}

// waitListening waits until the child's port accepts a connection.
func (c *child) waitListening() error {
	deadline := time.Now().Add(10 * time.Second)
	for {
		nc, err := net.DialTimeout("tcp", c.addr, time.Second)
		if err == nil {
			nc.Close()
			return nil
		}
		select {
		case werr := <-c.done:
			c.done <- werr
			return fmt.Errorf("%s exited before listening: %v", c.name, werr)
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not listening on %s: %w", c.name, c.addr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stop asks the process to end, then kills it.
func (c *child) stop() {
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.done:
	case <-time.After(3 * time.Second):
		_ = c.cmd.Process.Kill()
		<-c.done
	}
}

// startMsrprelay starts the daemon with one engine on free ports: plain
// TCP, and TLS with cert unless it is nil. Extra arguments go after the defaults.
func startMsrprelay(bin, engine, creds, realm string, cert *benchCert, extra ...string) (*child, error) {
	if _, err := os.Stat(bin); err != nil {
		return nil, fmt.Errorf("msrprelay binary (run make build): %w", err)
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	args := []string{"--listen", "tcp://" + addr}
	var tlsAddr string
	if cert != nil {
		tlsPort, err := freePort()
		if err != nil {
			return nil, err
		}
		tlsAddr = "127.0.0.1:" + strconv.Itoa(tlsPort)
		args = append(args, "--listen", "tls://"+tlsAddr, "--tls-cert", cert.certFile, "--tls-key", cert.keyFile)
	}
	args = append(args, "--hostname", "127.0.0.1", "--realm", realm,
		"--credentials", creds, "--engine", engine, "--log-level", "warn",
		"--shutdown-grace", "1s")
	c, err := startChild(engine, addr, bin, append(args, extra...)...)
	if err != nil {
		return nil, err
	}
	c.tlsAddr = tlsAddr
	return c, nil
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
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	// A probe connection would become the forwarder's first bob and pair
	// with the first real one, so readiness is its own line on stderr.
	cmd := exec.Command(self, "forward", "--listen", addr)
	cmd.Stdout = os.Stderr
	out, err := cmd.StderrPipe()
	if err != nil {
		return nil, fmt.Errorf("forwarder: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start forwarder: %w", err)
	}
	c := &child{name: "forwarder", addr: addr, cmd: cmd, done: make(chan error, 1)}
	ready := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(out)
		signalled := false
		for sc.Scan() {
			if !signalled && strings.HasPrefix(sc.Text(), ForwardReadyLine) {
				ready <- true
				signalled = true
				continue
			}
			fmt.Fprintln(os.Stderr, sc.Text())
		}
		if !signalled {
			ready <- false
		}
		c.done <- cmd.Wait()
	}()
	select {
	case ok := <-ready:
		if ok {
			return c, nil
		}
	case <-time.After(10 * time.Second):
	}
	c.stop()
	return nil, errors.New("forwarder did not start (it needs the msrpbench binary)")
}
