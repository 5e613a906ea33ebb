package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/msrprelay/msrprelay/endpoint"
)

// authTimeout bounds connecting plus the AUTH exchange: a relay that does
// not answer should fail the tool, not hang it.
const authTimeout = 30 * time.Second

// connFlags are the flags both subcommands use to reach and log in to a
// relay.
type connFlags struct {
	relay     string
	user      string
	password  string
	realmHost string
	transport string
	tlsCA     string
	insecure  bool
	authForm  string
}

func (c *connFlags) register(fs *flag.FlagSet, relayHelp string) {
	fs.StringVar(&c.relay, "relay", "", relayHelp)
	fs.StringVar(&c.user, "user", "", "user name for the relay's digest AUTH")
	fs.StringVar(&c.password, "password", "", "password for --user")
	fs.StringVar(&c.realmHost, "realm-host", "", "host for the AUTH To-Path, usually the SIP domain (default: the relay host)")
	// tls, as the relay listens by default: a client on tcp against a TLS
	// listener sees only a closed connection.
	fs.StringVar(&c.transport, "transport", "tls", "tls (msrps, the relay's default), tcp for a plain msrp listener (tcp://), "+
		"or ws or wss for a WebSocket listener (ws://, wss://; RFC 7977)")
	fs.StringVar(&c.tlsCA, "tls-ca", "", "PEM file of CA certificates to trust for tls (default: the system roots)")
	fs.BoolVar(&c.insecure, "insecure", false, "with tls, do not verify the relay's certificate")
	fs.StringVar(&c.authForm, "auth-form", "rfc", "how to write the digest: rfc, msrplib (quoted qop and nc) or uri (with uri=)")
}

// check validates the flags that do not depend on the subcommand.
func (c *connFlags) check() error {
	switch c.transport {
	case "tcp", "tls", "ws", "wss":
	default:
		return fmt.Errorf("--transport must be tcp, tls, ws or wss, not %q", c.transport)
	}
	if _, err := c.form(); err != nil {
		return err
	}
	if c.user != "" && c.password == "" {
		return errors.New("--user needs --password")
	}
	return nil
}

func (c *connFlags) form() (endpoint.AuthForm, error) {
	form, err := endpoint.ParseAuthForm(c.authForm)
	if err != nil {
		return 0, fmt.Errorf("--auth-form must be rfc, msrplib or uri, not %q", c.authForm)
	}
	return form, nil
}

// secure is whether the transport runs over TLS.
func (c *connFlags) secure() bool { return c.transport == "tls" || c.transport == "wss" }

// webSocket is whether MSRP goes over WebSocket (RFC 7977).
func (c *connFlags) webSocket() bool { return c.transport == "ws" || c.transport == "wss" }

func (c *connFlags) scheme() string {
	if c.secure() {
		return "msrps"
	}
	return "msrp"
}

// uriTransport is the transport parameter of MSRP URIs on this connection:
// ws over WebSocket (RFC 7977 §5.2.1), tcp otherwise.
func (c *connFlags) uriTransport() string {
	if c.webSocket() {
		return "ws"
	}
	return "tcp"
}

// tlsConfig builds the client TLS configuration, or nil for plain TCP. The
// server name is the relay's host, so an IP address is checked against the
// certificate's IP SANs and a name against its DNS SANs (RFC 4976 §9.2).
func (c *connFlags) tlsConfig(host string) (*tls.Config, error) {
	if !c.secure() {
		return nil, nil
	}
	cfg := &tls.Config{ServerName: host, InsecureSkipVerify: c.insecure, MinVersion: tls.VersionTLS12}
	if c.tlsCA != "" {
		pem, err := os.ReadFile(c.tlsCA)
		if err != nil {
			return nil, err
		}
		cfg.RootCAs = x509.NewCertPool()
		if !cfg.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%s: no PEM certificates", c.tlsCA)
		}
	}
	return cfg, nil
}

// dial connects to addr (host:port), over TLS when asked, and returns the
// connection with its own URI.
func (c *connFlags) dial(ctx context.Context, addr string) (*msrpConn, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("relay address %q: %w", addr, err)
	}
	cfg, err := c.tlsConfig(host)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, authTimeout)
	defer cancel()
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	if cfg != nil {
		nc, err = handshake(ctx, nc, cfg, addr)
		if err != nil {
			return nil, err
		}
	} else if !c.webSocket() {
		nc = &sniffConn{Conn: nc}
	}
	if c.webSocket() {
		scheme := "ws://"
		if cfg != nil {
			scheme = "wss://"
		}
		wc, err := endpoint.UpgradeWS(ctx, nc, scheme+addr+"/")
		if err != nil {
			nc.Close()
			return nil, explainUpgrade(err, c.transport)
		}
		nc = wc
	}
	return newMsrpConn(nc, c.scheme(), c.uriTransport()), nil
}

// auth logs in at the relay reached by mc (RFC 4976 §5.1) and returns the
// Use-Path: the URIs to put in front of our own in the path we publish.
// The To-Path host is the realm host (the SIP domain), which the relay
// accepts as naming itself; the port is the relay's.
func (c *connFlags) auth(mc *msrpConn, relayAddr string) (string, error) {
	host, port, _ := net.SplitHostPort(relayAddr)
	if c.realmHost != "" {
		host = c.realmHost
	}
	form, _ := c.form()
	opts := endpoint.AuthOptions{
		RelayURI: c.scheme() + "://" + hostForURI(host) + ":" + port + ";" + c.uriTransport(),
		FromURI:  mc.uri,
		User:     c.user,
		Password: c.password,
		Form:     form,
	}
	// endpoint.Conn reads through a buffer of its own. That is safe here:
	// the relay sends nothing on this connection but the answers to our
	// two AUTHs until our URI is in someone's path, which needs the
	// Use-Path that the last answer carries. After Auth the buffer is
	// empty and mc reads the socket itself.
	cc := endpoint.New(mc.nc)
	cc.SetDeadline(time.Now().Add(authTimeout))
	defer cc.SetDeadline(time.Time{})
	res, err := cc.Auth(opts)
	if errors.Is(err, endpoint.ErrAuth) {
		return "", fmt.Errorf("AUTH at %s as %s: %w (check --user, --password and --realm-host)", relayAddr, c.user, err)
	}
	if err != nil {
		return "", fmt.Errorf("AUTH at %s as %s: %w", relayAddr, c.user, err)
	}
	if res.UsePath == "" {
		return "", fmt.Errorf("AUTH at %s: 200 without Use-Path", relayAddr)
	}
	return res.UsePath, nil
}

// hostForURI brackets an IPv6 literal.
func hostForURI(host string) string {
	if ip := net.ParseIP(host); ip != nil && ip.To4() == nil {
		return "[" + host + "]"
	}
	return host
}

// readBufSize holds any header block the codec accepts (64 KiB by default)
// with room to spare, and is what one read asks the kernel for.
const readBufSize = 128 << 10

// msrpConn is one MSRP connection: a frame reader for one goroutine and a
// writer any goroutine may use, plus the URI that names our end of it.
type msrpConn struct {
	nc  net.Conn
	ec  *endpoint.Conn
	rd  *endpoint.Reader // ec's
	uri string           // msrp[s]://<local address>/<random>;tcp, or <random>.invalid and ;ws

	wmu sync.Mutex
	// stall is how long one write may block (the peer not reading)
	// before it fails.
	stall time.Duration
}

func newMsrpConn(nc net.Conn, scheme, transport string) *msrpConn {
	host, port := "127.0.0.1", "0"
	if a, ok := nc.LocalAddr().(*net.TCPAddr); ok {
		host, port = hostForURI(a.IP.String()), strconv.Itoa(a.Port)
	}
	if transport == "ws" {
		// A WebSocket client cannot be reached at an address of its own:
		// its URI names a random host under .invalid (RFC 7977 §5.2.1,
		// §8).
		host = strings.ToLower(endpoint.NewTID()[:12]) + ".invalid"
	}
	ec := endpoint.NewSize(nc, readBufSize)
	return &msrpConn{
		nc:    nc,
		ec:    ec,
		rd:    ec.Reader(),
		uri:   scheme + "://" + host + ":" + port + "/" + endpoint.NewTID() + ";" + transport,
		stall: authTimeout,
	}
}

// write sends b as one write, so frames from several goroutines never
// interleave; over WebSocket it is one message.
func (m *msrpConn) write(b []byte) error {
	m.wmu.Lock()
	defer m.wmu.Unlock()
	_, err := stallWriter{m}.Write(b)
	return err
}

// writeFrame lets fn write one frame in several writes (a streamed chunk)
// with no other frame in between; over WebSocket the writes are fragments
// of one message, since a chunk must be one message (RFC 7977 §5.1).
// Each write may block for m.stall: a relay that pauses us for a slow
// receiver is waited for, one that stops reading for good fails the
// write.
func (m *msrpConn) writeFrame(fn func(w io.Writer) error) error {
	m.wmu.Lock()
	defer m.wmu.Unlock()
	wc, ok := m.nc.(*endpoint.WSConn)
	if !ok {
		return fn(stallWriter{m})
	}
	if err := fn(fragmentWriter{m, wc}); err != nil {
		return err
	}
	_ = m.nc.SetWriteDeadline(time.Now().Add(m.stall))
	return wc.WriteFragment(nil, true)
}

// fragmentWriter writes each piece as a fragment of the open WebSocket
// message, with a fresh write deadline each.
type fragmentWriter struct {
	m  *msrpConn
	wc *endpoint.WSConn
}

func (w fragmentWriter) Write(p []byte) (int, error) {
	_ = w.m.nc.SetWriteDeadline(time.Now().Add(w.m.stall))
	if err := w.wc.WriteFragment(p, false); err != nil {
		return 0, err
	}
	return len(p), nil
}

// stallWriter is the connection with a fresh write deadline per write. It
// hides io.ReaderFrom, so io.Copy writes through it piece by piece.
type stallWriter struct{ m *msrpConn }

func (w stallWriter) Write(p []byte) (int, error) {
	_ = w.m.nc.SetWriteDeadline(time.Now().Add(w.m.stall))
	return w.m.nc.Write(p)
}

func (m *msrpConn) Close() error { return m.nc.Close() }

// closeOnDone closes mc when ctx ends, so that blocked reads and writes
// return; call the returned function to stop watching.
func closeOnDone(ctx context.Context, mc *msrpConn) (stop func() bool) {
	return context.AfterFunc(ctx, func() { mc.Close() })
}
