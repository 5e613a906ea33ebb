package e2etest

import (
	"bytes"
	"cmp"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/msrprelay/msrprelay/digest"
	"github.com/msrprelay/msrprelay/endpoint"
	"github.com/msrprelay/msrprelay/engine"
	"github.com/msrprelay/msrprelay/tlsshim"
	"github.com/msrprelay/msrprelay/wsshim"
)

// Start starts a relay with cfg listening on 127.0.0.1:port (msrps when
// d.TLS is set) and returns a function that stops it. cfg.Hostname is
// "127.0.0.1".
type Start func(t testing.TB, cfg engine.Config, port int, d DriverOptions) (stop func())

// DriverOptions are the transport settings a test sets.
type DriverOptions struct {
	MaxConns int
	// TLS, when set, makes the relay listen on tls:// with these options.
	TLS *tlsshim.Options
	// WSPort, when set, adds a WebSocket listener on it (wss:// when TLS
	// is set) beside the TCP or TLS one; WebSocket is what it accepts.
	WSPort    int
	WebSocket wsshim.Config
}

// Listeners is what a driver starting a relay on 127.0.0.1:port under d
// needs: the engine's listeners and the addresses to listen on (tls://
// when d.TLS is set, and ws:// or wss:// on d.WSPort).
func (d DriverOptions) Listeners(port int) ([]engine.Listener, []string) {
	scheme, secure := "tcp", d.TLS != nil
	if secure {
		scheme = "tls"
	}
	lis := []engine.Listener{{Port: port, Secure: secure}}
	addrs := []string{fmt.Sprintf("%s://127.0.0.1:%d", scheme, port)}
	if d.WSPort != 0 {
		scheme = "ws"
		if secure {
			scheme = "wss"
		}
		lis = append(lis, engine.Listener{Port: d.WSPort, Secure: secure, WebSocket: true})
		addrs = append(addrs, fmt.Sprintf("%s://127.0.0.1:%d", scheme, d.WSPort))
	}
	return lis, addrs
}

// suite is how the cases start relays: the driver's Start and, for
// RunTLS, the certificate the relays serve and a client configuration
// that trusts it.
type suite struct {
	start  Start
	server *tlsshim.Options
	client *tls.Config
	// ws: the clients of e.dial and e.auth connect over WebSocket to a
	// listener of its own (RunWS); relays still reach each other over TCP
	// or TLS.
	ws bool
}

func plainSuite(start Start) *suite { return &suite{start: start} }

// tlsSuite makes a certificate for 127.0.0.1 that the relays serve and
// the test clients and the relays trust.
func tlsSuite(t testing.TB, start Start) *suite {
	server, client := SelfSignedTLS(t)
	return &suite{start: start, server: server, client: client}
}

// SelfSignedTLS is the TLS setup of a relay on 127.0.0.1 in a test: the
// relay's options (a self-signed certificate, asking for client
// certificates as the daemon does, presented to and trusted from other
// relays: mutual TLS between relays) and a client configuration that
// trusts it.
func SelfSignedTLS(t testing.TB) (*tlsshim.Options, *tls.Config) {
	cert, pem, _, err := tlsshim.SelfSigned(nil, []net.IP{net.IPv4(127, 0, 0, 1)}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pem)
	server := &tls.Config{Certificates: []tls.Certificate{cert}, ClientAuth: tls.RequestClientCert, MinVersion: tls.VersionTLS12}
	return &tlsshim.Options{
		Server: func() *tls.Config { return server },
		Client: func(name string) *tls.Config {
			return &tls.Config{ServerName: name, RootCAs: roots, Certificates: []tls.Certificate{cert}}
		},
		RelayRoots: func() *x509.CertPool { return roots },
		// Long enough for a busy machine under -race: a server
		// handshake cut short closes a client that thinks it is in.
		HandshakeTimeout: 10 * time.Second,
	}, &tls.Config{RootCAs: roots, ServerName: "127.0.0.1"}
}

// Password is every test user's password; users are alice, bob, carol.
const Password = "secret"

// Realm of the test credentials.
const Realm = "example.com"

// Credentials for the test users.
func Credentials(t testing.TB) *digest.Credentials {
	var b []byte
	for _, u := range []string{"alice", "bob", "carol"} {
		b = digest.AppendEntry(b, u, Realm, Password)
	}
	c, err := digest.ParseCredentials(strings.NewReader(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// FreePort finds a free TCP port on 127.0.0.1 for a relay to listen on,
// never the same one twice in a test process. It picks at random below
// the kernel's ephemeral range: a port from bind(0) is one the kernel
// hands out again, to another test binary running beside this one or to
// an outgoing connection, before the relay that was meant to get it binds
// it (make stress saw "address already in use").
func FreePort(t testing.TB) int {
	t.Helper()
	portsMu.Lock()
	defer portsMu.Unlock()
	for range 1000 {
		port := freePortLow + rand.IntN(freePortHigh-freePortLow)
		if portsGiven[port] {
			continue
		}
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			continue
		}
		l.Close()
		portsGiven[port] = true
		return port
	}
	t.Fatal("no free port")
	return 0
}

// The range FreePort picks from: below Linux's default ephemeral ports
// (32768 and up), above the well-known and registered ones tests might meet.
const freePortLow, freePortHigh = 20000, 32000

var (
	portsMu    sync.Mutex
	portsGiven = map[int]bool{}
)

// hangUpPort is a port, held for the test's lifetime, whose listener
// closes every connection at once: a next hop that fails. (A port merely
// found free may be taken meanwhile by a relay of a parallel test.)
func hangUpPort(t testing.TB) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	return l.Addr().(*net.TCPAddr).Port
}

// env is one running relay in a test.
type env struct {
	t      testing.TB
	port   int
	addr   string
	wsAddr string      // the WebSocket listener clients use; empty without
	uri    string      // the AUTH To-Path
	tls    *tls.Config // nil: plain TCP
	logs   *logSink
	stop   func() // stops the relay, once (the test's cleanup calls it too)
	mu     sync.Mutex
	sids   []string // session ids handed out: bearer secrets
}

// scheme is the URI scheme of the relay's listener: msrps over TLS.
func (e *env) scheme() string {
	if e.tls != nil {
		return "msrps"
	}
	return "msrp"
}

// logSink keeps the relay's log lines.
type logSink struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logSink) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

// levelWriter passes on lines at or above a level (the test log).
type levelWriter struct {
	w     io.Writer
	level zerolog.Level
}

func (l levelWriter) Write(p []byte) (int, error) { return l.w.Write(p) }
func (l levelWriter) WriteLevel(lv zerolog.Level, p []byte) (int, error) {
	if lv < l.level {
		return len(p), nil
	}
	return l.w.Write(p)
}

// noteUsePath records the session ids of a Use-Path.
func (e *env) noteUsePath(use string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, u := range strings.Fields(use) {
		if i := strings.LastIndexByte(u, '/'); i >= 0 {
			e.sids = append(e.sids, strings.TrimSuffix(u[i+1:], ";tcp"))
		}
	}
}

// checkSecrets fails the test if the relay logged a whole session id or a
// digest response (RFC 4976 §3.1: session URIs are bearer secrets).
func (e *env) checkSecrets() {
	e.logs.mu.Lock()
	logs := e.logs.buf.String()
	e.logs.mu.Unlock()
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, sid := range e.sids {
		if len(sid) >= 16 && strings.Contains(logs, sid) {
			e.t.Errorf("the relay logged a whole session id %s...", sid[:6])
		}
	}
	if strings.Contains(logs, "response=") || strings.Contains(logs, "Digest username") {
		e.t.Error("the relay logged an Authorization header")
	}
}

// BaseConfig is the configuration tests start from. Its timers are long
// enough for a busy machine running the race detector: a case that tests
// a timer sets it short itself.
func BaseConfig(t testing.TB) engine.Config {
	return engine.Config{
		Hostname:           "127.0.0.1",
		Realm:              Realm,
		Credentials:        Credentials(t),
		TransactionTimeout: 10 * time.Second,
		ProbationTimeout:   20 * time.Second,
		Logger:             zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel),
	}
}

func startEnv(t testing.TB, start *suite, mod func(*engine.Config)) *env {
	return startEnvOpts(t, start, mod, DriverOptions{})
}

func startEnvOpts(t testing.TB, start *suite, mod func(*engine.Config), d DriverOptions) *env {
	cfg := BaseConfig(t)
	logs := &logSink{}
	// Everything the relay logs, at every level, is checked for secrets
	// when the test ends (see checkSecrets).
	cfg.Logger = zerolog.New(zerolog.MultiLevelWriter(logs, levelWriter{zerolog.NewTestWriter(t), zerolog.WarnLevel})).Level(zerolog.DebugLevel)
	if mod != nil {
		mod(&cfg)
	}
	port := FreePort(t)
	d.TLS = start.server
	if start.ws {
		d.WSPort = FreePort(t)
	}
	stop := start.start(t, cfg, port, d)
	e := &env{t: t, port: port, addr: fmt.Sprintf("127.0.0.1:%d", port), uri: fmt.Sprintf("%s://%s:%d;tcp", "msrp", Realm, port),
		logs: logs, tls: start.client}
	if e.tls != nil {
		e.uri = fmt.Sprintf("msrps://%s:%d;tcp", Realm, port)
	}
	if start.ws {
		e.wsAddr = fmt.Sprintf("127.0.0.1:%d", d.WSPort)
		e.uri = fmt.Sprintf("%s://%s:%d;ws", e.scheme(), Realm, d.WSPort)
	}
	e.stop = sync.OnceFunc(stop)
	t.Cleanup(func() {
		e.stop()
		e.checkSecrets()
	})
	// Wait for the listener.
	for i := 0; ; i++ {
		c, err := net.DialTimeout("tcp", e.addr, time.Second)
		if err == nil {
			c.Close()
			break
		}
		if i > 100 {
			t.Fatalf("relay did not start: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return e
}

// dialTCP connects a client to the relay's TCP or TLS listener, whatever
// the suite's clients use.
func (e *env) dialTCP() *endpoint.Conn {
	e.t.Helper()
	c, err := endpoint.Dial(e.addr, e.tls, 20*time.Second)
	if err != nil {
		e.t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(20 * time.Second))
	e.t.Cleanup(func() { c.Close() })
	return c
}

func (e *env) dial() *endpoint.Conn {
	e.t.Helper()
	dial := endpoint.Dial
	if e.wsAddr != "" {
		dial = endpoint.DialWS
	}
	c, err := dial(cmp.Or(e.wsAddr, e.addr), e.tls, 20*time.Second)
	if err != nil {
		e.t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(20 * time.Second))
	e.t.Cleanup(func() { c.Close() })
	return c
}

// auth dials and AUTHs user, returning the connection and its Use-Path.
func (e *env) auth(user string, form endpoint.AuthForm) (*endpoint.Conn, string) {
	e.t.Helper()
	c := e.dial()
	res, err := c.Auth(endpoint.AuthOptions{RelayURI: e.uri, FromURI: "msrp://" + user + ".example.com:9/" + user + ";tcp", User: user, Password: Password, Form: form})
	if err != nil {
		e.t.Fatalf("AUTH %s: %v", user, err)
	}
	e.noteUsePath(res.UsePath)
	return c, res.UsePath
}

func readFrame(t testing.TB, c *endpoint.Conn) *endpoint.Frame {
	t.Helper()
	f, err := c.ReadFrame()
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return f
}

func expectResponse(t testing.TB, c *endpoint.Conn, tid string, code int) *endpoint.Frame {
	t.Helper()
	f := readFrame(t, c)
	if f.Method != "" || f.TID != tid || f.Code != code {
		t.Fatalf("want %d for %s, got tid=%s method=%q code=%d %s", code, tid, f.TID, f.Method, f.Code, f.Comment)
	}
	return f
}

func expectRequest(t testing.TB, c *endpoint.Conn, method string) *endpoint.Frame {
	t.Helper()
	f := readFrame(t, c)
	if f.Method != method {
		t.Fatalf("want %s, got tid=%s method=%q code=%d %s", method, f.TID, f.Method, f.Code, f.Comment)
	}
	return f
}
