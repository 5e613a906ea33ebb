package main

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/msrprelay/msrprelay/digest"
	"github.com/msrprelay/msrprelay/endpoint"
	"github.com/msrprelay/msrprelay/tlsshim"
)

func TestConfigFileAndFlags(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "c.yaml")
	os.WriteFile(cfg, []byte("listen:\n  - tcp://127.0.0.1:2855\n  - tls://127.0.0.1:2856\nrealm: fromfile\nmax-connections: 77\ntransaction-timeout: 5s\n"), 0o644)
	o, err := parseOptions([]string{"--config", cfg, "--realm", "fromflag"})
	if err != nil {
		t.Fatal(err)
	}
	if o.realm != "fromflag" || o.maxConnections != 77 || o.txnTimeout != 5*time.Second || len(o.listen) != 2 {
		t.Fatalf("%+v", o)
	}
	os.WriteFile(cfg, []byte("no-such-flag: 1\n"), 0o644)
	if _, err := parseOptions([]string{"--config", cfg}); err == nil || !strings.Contains(err.Error(), "no-such-flag") {
		t.Fatalf("unknown key accepted: %v", err)
	}
	ls, err := parseListens([]string{"127.0.0.1:1", "tls://[::1]:2", "tcp://:3"}, "tcp")
	if err != nil || ls[0].secure || !ls[1].secure || ls[1].addr.Port() != 2 || !ls[2].addr.Addr().IsUnspecified() {
		t.Fatalf("%+v %v", ls, err)
	}
	ls, err = parseListens([]string{"ws://127.0.0.1:80", "wss://127.0.0.1:443"}, "tls")
	if err != nil || ls[0].secure || !ls[0].websocket || !ls[1].secure || !ls[1].websocket ||
		driverListens(ls)[0] != "ws://127.0.0.1:80" || driverListens(ls)[1] != "wss://127.0.0.1:443" || !engineListeners(ls)[1].WebSocket {
		t.Fatalf("%+v %v", ls, err)
	}
	for _, bad := range []string{"udp://1.2.3.4:5", "nohost", "example.com:80", "http://127.0.0.1:80"} {
		if _, err := parseListens([]string{bad}, "tcp"); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestPasswd(t *testing.T) {
	path := filepath.Join(t.TempDir(), "users")
	var out bytes.Buffer
	if err := runPasswd([]string{path, "alice", "example.com"}, strings.NewReader("1234\n"), &out); err != nil {
		t.Fatal(err)
	}
	c, err := digest.LoadCredentials(path)
	if err != nil {
		t.Fatal(err)
	}
	ha1, ok := c.Lookup([]byte("alice"), []byte("example.com"))
	if !ok || string(ha1[:]) != "fd7cab2287702c763e7b318b7fb2451a" {
		t.Fatalf("HA1 %s", ha1)
	}
	if err := runPasswd([]string{path, "bob", "example.com"}, strings.NewReader(""), &out); err == nil {
		t.Fatal("empty stdin accepted")
	}
}

// TestConnectionCapUnderLowFileLimit runs the daemon with 100 open files and
// throws 150 connections at it. gnet stops its whole engine when accept
// fails with EMFILE; the relay must refuse over its cap instead and keep
// serving.
func TestConnectionCapUnderLowFileLimit(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the daemon")
	}
	dir := t.TempDir()
	bin := buildDaemon(t)
	creds := filepath.Join(dir, "users")
	os.WriteFile(creds, digest.AppendEntry(nil, "alice", "example.com", "pw"), 0o600)
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	cmd := exec.Command("sh", "-c", fmt.Sprintf("ulimit -Sn 100 && ulimit -Hn 100 && exec %s --listen tcp://%s --hostname 127.0.0.1 --realm example.com --credentials %s --log-level warn", bin, addr, creds))
	logs := &syncBuffer{}
	cmd.Stderr = logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	waitListening(t, addr, logs)
	var conns []net.Conn
	for i := 0; i < 150; i++ {
		c, err := net.DialTimeout("tcp", addr, 2*time.Second)
		if err != nil {
			t.Fatalf("dial %d: %v\n%s", i, err, logs.String())
		}
		conns = append(conns, c)
	}
	time.Sleep(300 * time.Millisecond)
	open := 0
	for _, c := range conns {
		c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
		if _, err := c.Read(make([]byte, 1)); err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				open++
			}
		}
	}
	if open == 0 || open > 100 {
		t.Fatalf("%d of 150 connections stayed open under a 100-file limit\n%s", open, logs.String())
	}
	for _, c := range conns {
		c.Close()
	}
	time.Sleep(300 * time.Millisecond)
	c, err := endpoint.Dial(addr, nil, 2*time.Second)
	if err != nil {
		t.Fatalf("relay gone after the storm: %v\n%s", err, logs.String())
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Auth(endpoint.AuthOptions{RelayURI: "msrp://example.com:" + fmt.Sprint(port) + ";tcp", FromURI: "msrp://a.example.com:9/a;tcp", User: "alice", Password: "pw"}); err != nil {
		t.Fatalf("AUTH after the storm: %v\n%s", err, logs.String())
	}
	t.Logf("%d of 150 connections accepted under a 100-file limit", open)
}

func waitListening(t *testing.T, addr string, logs *syncBuffer) {
	for i := 0; i < 100; i++ {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("daemon did not start:\n%s", logs.String())
}

var (
	buildOnce sync.Once
	builtBin  string
	buildErr  error
)

// buildDaemon builds the daemon once per test run.
func buildDaemon(t *testing.T) string {
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "msrprelay-test")
		if err != nil {
			buildErr = err
			return
		}
		builtBin = filepath.Join(dir, "msrprelay")
		if out, err := exec.Command("go", "build", "-o", builtBin, ".").CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return builtBin
}

// daemon starts the built relay with args and returns its address.
func daemon(t *testing.T, args ...string) (addr string, port int, cmd *exec.Cmd, logs *syncBuffer) {
	bin := buildDaemon(t)
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	port = l.Addr().(*net.TCPAddr).Port
	l.Close()
	addr = fmt.Sprintf("127.0.0.1:%d", port)
	cmd = exec.Command(bin, append([]string{"--listen", "tls://" + addr, "--hostname", "127.0.0.1", "--realm", "example.com", "--log-level", "info"}, args...)...)
	logs = &syncBuffer{}
	cmd.Stderr = logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	waitListening(t, addr, logs)
	return addr, port, cmd, logs
}

func users(t *testing.T) string {
	p := filepath.Join(t.TempDir(), "users")
	os.WriteFile(p, digest.AppendEntry(nil, "alice", "example.com", "pw"), 0o600)
	return p
}

func tlsAuth(t *testing.T, addr string, port int, roots *x509.CertPool) (*endpoint.Conn, tls.ConnectionState) {
	return tlsAuthWith(t, addr, port, &tls.Config{RootCAs: roots, ServerName: "127.0.0.1"})
}

func tlsAuthWith(t *testing.T, addr string, port int, cfg *tls.Config) (*endpoint.Conn, tls.ConnectionState) {
	c, err := endpoint.Dial(addr, cfg, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Auth(endpoint.AuthOptions{RelayURI: fmt.Sprintf("msrps://example.com:%d;tcp", port), FromURI: "msrps://a.example.com:9/a;tcp", User: "alice", Password: "pw"}); err != nil {
		t.Fatal(err)
	}
	return c, c.Raw().(*tls.Conn).ConnectionState()
}

// ephemeralDaemon starts the daemon without --tls-cert and returns a pool
// trusting the self-signed certificate it wrote for clients.
func ephemeralDaemon(t *testing.T) (addr string, port int, roots *x509.CertPool, logs *syncBuffer) {
	certPath := filepath.Join(t.TempDir(), "eph.pem")
	addr, port, _, logs = daemon(t, "--credentials", users(t), "--tls-ephemeral-cert", certPath)
	pem := waitFile(t, certPath, logs)
	roots = x509.NewCertPool()
	roots.AppendCertsFromPEM(pem)
	return addr, port, roots, logs
}

// waitFile reads path once the daemon has written it (after its
// listeners are up, a moment after they accept).
func waitFile(t *testing.T, path string, logs *syncBuffer) []byte {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, err := os.ReadFile(path)
		if err == nil && len(b) > 0 {
			return b
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never written: %v\n%s", path, err, logs)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestSecondRelayKeepsTheFirstsCertificate: a relay started on a port a
// running one holds fails, and leaves the certificate file the running
// relay's clients trust as it was.
func TestSecondRelayKeepsTheFirstsCertificate(t *testing.T) {
	certPath := filepath.Join(t.TempDir(), "eph.pem")
	addr, _, _, logs := daemon(t, "--credentials", users(t), "--tls-ephemeral-cert", certPath)
	first := waitFile(t, certPath, logs)
	out, err := exec.Command(buildDaemon(t), "--listen", "tls://"+addr, "--hostname", "127.0.0.1", "--tls-ephemeral-cert", certPath).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "address already in use") {
		t.Fatalf("second relay: %v\n%s", err, out)
	}
	if now, _ := os.ReadFile(certPath); !bytes.Equal(now, first) {
		t.Fatal("the second relay replaced the running relay's certificate")
	}
}

// TestEphemeralCertificate: without --tls-cert the daemon serves msrps with
// a self-signed certificate written where a client can trust it.
func TestEphemeralCertificate(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the daemon")
	}
	addr, port, roots, logs := ephemeralDaemon(t)
	c, st := tlsAuth(t, addr, port, roots)
	defer c.Close()
	fp := tlsshim.Fingerprint(st.PeerCertificates[0].Raw)
	if !strings.Contains(logs.String(), fp) {
		t.Fatalf("fingerprint %s not logged:\n%s", fp, logs)
	}
}

// TestSessionResumption: a client that reconnects resumes its TLS session
// instead of a full handshake (the daemon keeps one server configuration,
// and with it one set of session-ticket keys).
func TestSessionResumption(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the daemon")
	}
	addr, port, roots, _ := ephemeralDaemon(t)
	cfg := &tls.Config{RootCAs: roots, ServerName: "127.0.0.1", ClientSessionCache: tls.NewLRUClientSessionCache(4)}
	first, st := tlsAuthWith(t, addr, port, cfg)
	first.Close()
	if st.DidResume {
		t.Fatal("the first connection cannot resume")
	}
	second, st := tlsAuthWith(t, addr, port, cfg)
	defer second.Close()
	if !st.DidResume {
		t.Fatal("the second connection did a full handshake instead of resuming")
	}
}

// TestCertificateReload: SIGHUP swaps the certificate for new handshakes
// and keeps the sessions of existing connections.
func TestCertificateReload(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the daemon")
	}
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "c.pem"), filepath.Join(dir, "k.pem")
	write := func() *x509.CertPool {
		_, cp, kp, err := tlsshim.SelfSigned(nil, []net.IP{net.IPv4(127, 0, 0, 1)}, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(certFile, cp, 0o600)
		os.WriteFile(keyFile, kp, 0o600)
		p := x509.NewCertPool()
		p.AppendCertsFromPEM(cp)
		return p
	}
	first := write()
	addr, port, cmd, logs := daemon(t, "--credentials", users(t), "--tls-cert", certFile, "--tls-key", keyFile)
	old, st1 := tlsAuth(t, addr, port, first)
	defer old.Close()
	second := write()
	cmd.Process.Signal(syscall.SIGHUP)
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(logs.String(), "TLS certificate reloaded") {
		if time.Now().After(deadline) {
			t.Fatalf("no reload:\n%s", logs)
		}
		time.Sleep(20 * time.Millisecond)
	}
	c, st2 := tlsAuth(t, addr, port, second)
	defer c.Close()
	if bytes.Equal(st1.PeerCertificates[0].Raw, st2.PeerCertificates[0].Raw) {
		t.Fatal("same certificate after reload")
	}
	// The first connection still works: its next AUTH is answered.
	req := endpoint.Request{Method: "AUTH", ToPath: fmt.Sprintf("msrps://example.com:%d;tcp", port), FromPath: "msrps://a.example.com:9/a;tcp"}
	old.Send(&req)
	if f, err := old.ReadFrame(); err != nil || f.Code != 401 {
		t.Fatalf("old connection after reload: %v %+v", err, f)
	}
}

func TestMain(m *testing.M) {
	code := m.Run()
	if builtBin != "" {
		os.RemoveAll(filepath.Dir(builtBin))
	}
	os.Exit(code)
}

// syncBuffer collects a child's stderr, written by exec's copying goroutine
// while the test reads it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestStartupFailuresSay: every failure to start prints one line on
// stderr naming the problem and exits non-zero (under systemd an empty
// journal and a restart loop otherwise).
func TestStartupFailuresSay(t *testing.T) {
	bin := buildDaemon(t)
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"port in use", []string{"--listen", "tcp://" + busy.Addr().String()}, "address already in use"},
		{"admin port in use", []string{"--listen", "tcp://127.0.0.1:0", "--admin-listen", busy.Addr().String()}, "address already in use"},
		{"missing credentials", []string{"--listen", "tcp://127.0.0.1:0", "--credentials", "/nonexistent/users"}, "/nonexistent/users"},
		{"bad engine", []string{"--listen", "tcp://127.0.0.1:0", "--engine", "warp"}, "warp"},
		{"udp listen", []string{"--listen", "udp://127.0.0.1:2855"}, "udp"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			stderr := failedStart(t, bin, append([]string{"--hostname", "127.0.0.1", "--shutdown-grace", "1s"}, tc.args...))
			if !strings.Contains(stderr, tc.want) || !strings.Contains(stderr, "msrprelay:") {
				t.Fatalf("stderr does not say %q:\n%s", tc.want, stderr)
			}
		})
	}
}

// TestHelpAndVersion: --help is not an error, and names the subcommands;
// --version says which build this is.
func TestHelpAndVersion(t *testing.T) {
	bin := buildDaemon(t)
	out, err := exec.Command(bin, "--help").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "passwd FILE USER REALM") || !strings.Contains(string(out), "-listen") {
		t.Fatalf("--help: %v\n%s", err, out)
	}
	out, err = exec.Command(bin, "--version").CombinedOutput()
	if err != nil || !strings.HasPrefix(string(out), "msrprelay ") || !strings.Contains(string(out), "commit ") {
		t.Fatalf("--version: %v\n%s", err, out)
	}
}

// TestConfigMistakesNamed: impossible settings are refused at start with
// the flag or key they concern and the form expected.
func TestConfigMistakesNamed(t *testing.T) {
	dir := t.TempDir()
	yml := filepath.Join(dir, "relay.yaml")
	os.WriteFile(yml, []byte("expires-default: 30\n"), 0o600)
	tests := []struct {
		args []string
		want []string
	}{
		{[]string{"--low-water", "2000000", "--high-water", "1000000"}, []string{"--low-water", "--high-water"}},
		{[]string{"--relay-window", "100"}, []string{"--relay-window", "8192"}},
		{[]string{"--ws-max-chunk", "1000"}, []string{"--ws-max-chunk", "2048"}},
		{[]string{"--ws-max-message", "4096", "--ws-max-chunk", "8192"}, []string{"--ws-max-message", "--ws-max-chunk"}},
		{[]string{"--expires-min", "1h", "--expires-default", "30m"}, []string{"--expires-min", "--expires-default"}},
		{[]string{"--config", yml}, []string{"expires-default", "duration with its unit"}},
	}
	for _, tc := range tests {
		_, err := parseOptions(tc.args)
		if err == nil {
			t.Errorf("%v accepted", tc.args)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%v: %q does not say %q", tc.args, err, w)
			}
		}
	}
}

// TestPasswdOnTerminal: on a terminal, passwd prompts and does not echo
// the password (run under script(1), which gives it a pseudo-terminal).
func TestPasswdOnTerminal(t *testing.T) {
	script, err := exec.LookPath("script")
	if err != nil {
		t.Skip("script(1) not installed")
	}
	bin := buildDaemon(t)
	path := filepath.Join(t.TempDir(), "users")
	cmd := exec.Command(script, "-q", "-e", "-c", bin+" passwd "+path+" alice example.com", "/dev/null")
	in, _ := cmd.StdinPipe()
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	// Type each answer only once its prompt is shown, as a person would:
	// what is typed earlier the terminal echoes before the relay can
	// turn echo off.
	for _, prompt := range []string{"Password:", "Again:"} {
		deadline := time.Now().Add(20 * time.Second)
		for !strings.Contains(out.String(), prompt) {
			if time.Now().After(deadline) {
				t.Fatalf("no %q prompt:\n%q", prompt, out.String())
			}
			time.Sleep(20 * time.Millisecond)
		}
		time.Sleep(300 * time.Millisecond)
		in.Write([]byte("s3cr3t-pw\n"))
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if strings.Contains(out.String(), "s3cr3t-pw") {
		t.Fatalf("password echoed:\n%q", out.String())
	}
	b, _ := os.ReadFile(path)
	if !bytes.HasPrefix(b, []byte("alice:example.com:")) {
		t.Fatalf("file: %q", b)
	}
}

// failedStart runs the daemon with args, expects it to exit non-zero
// within 30 s, and returns what it printed on stderr.
func failedStart(t *testing.T, bin string, args []string) string {
	t.Helper()
	cmd := exec.Command(bin, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err == nil {
			t.Fatalf("exit 0; stderr:\n%s", stderr.String())
		}
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("still running; stderr:\n%s", stderr.String())
	}
	return stderr.String()
}
