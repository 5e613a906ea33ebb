package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"mime"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/msrprelay/msrprelay/codec"
	"github.com/msrprelay/msrprelay/endpoint"
)

type sendFlags struct {
	conn          connFlags
	toPath        string
	message       string
	file          string
	chunkSize     int
	window        int
	contentType   string
	timeout       time.Duration
	successReport bool
	transportSet  bool // --transport given explicitly
}

func sendFlagSet(f *sendFlags, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("send", flag.ContinueOnError)
	fs.SetOutput(stderr)
	f.conn.register(fs, "relay to connect to, HOST:PORT (default: host and port of the first --to-path URI)")
	fs.StringVar(&f.toPath, "to-path", "", "the receiver's path, URIs separated by spaces, as \"msrpclient receive\" prints it (required)")
	fs.StringVar(&f.message, "message", "", "text to send as one SEND")
	fs.StringVar(&f.file, "file", "", "file to send in chunks")
	fs.IntVar(&f.chunkSize, "chunk-size", 65536, "body bytes per chunk of a file")
	fs.IntVar(&f.window, "window", 8, "chunks that may await their 200 at once")
	fs.StringVar(&f.contentType, "content-type", "", "Content-Type (default text/plain for --message, application/octet-stream for --file)")
	fs.DurationVar(&f.timeout, "timeout", 30*time.Second, "how long to wait for any response or REPORT before failing")
	fs.Lookup("transport").Usage = "tls (msrps), tcp (msrp), ws or wss (WebSocket) (default: with --user tls, the relay's default; " +
		"without, the first --to-path URI's scheme and transport)"
	fs.Lookup("transport").DefValue = ""
	fs.BoolVar(&f.successReport, "success-report", true, "ask for a success REPORT and wait for it: proof the receiver got the whole message, not just the first relay")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `usage: msrpclient send --to-path "URI URI ..." (--message TEXT | --file PATH) [flags]

Without --user, connects to --relay (default: the first --to-path URI's host
and port) and sends along --to-path as given: the first URI is the
receiver's relay session. With --user, logs in at --relay first and puts its
own Use-Path in front of --to-path (sender behind its own relay).

A file goes in chunks of --chunk-size with at most --window unanswered; any
response but 200, or a failure REPORT, fails the send (exit status 1). At
the end it prints
  sent <n> bytes in <duration> (<MB/s>)

flags:
`)
		fs.PrintDefaults()
	}
	return fs
}

// runSend is "msrpclient send".
func runSend(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var f sendFlags
	fs := sendFlagSet(&f, stderr)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	fs.Visit(func(fl *flag.Flag) { f.transportSet = f.transportSet || fl.Name == "transport" })
	if err := f.check(); err != nil {
		return usageError(fs, "%v", err)
	}
	msg, err := f.outMessage()
	if err != nil {
		return err
	}
	defer msg.close()
	s, err := connectSender(ctx, &f, stderr)
	if err != nil {
		return err
	}
	defer s.mc.Close()
	stop := closeOnDone(ctx, s.mc)
	defer stop()
	start := time.Now()
	err = s.transfer(msg)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if err != nil {
		return f.conn.explain(err, s.mc)
	}
	d := time.Since(start)
	fmt.Fprintf(stdout, "sent %d bytes in %v (%s)\n", msg.total, d.Round(time.Millisecond), rate(msg.total, d))
	return nil
}

func (f *sendFlags) check() error {
	if !codec.ValidPath([]byte(f.toPath)) {
		return fmt.Errorf("--to-path %q is not a list of MSRP URIs", f.toPath)
	}
	if (f.message == "") == (f.file == "") {
		return errors.New("give one of --message and --file")
	}
	if f.chunkSize < 1 || f.window < 1 || f.timeout <= 0 {
		return errors.New("--chunk-size, --window and --timeout must be positive")
	}
	if f.conn.user == "" && f.conn.password != "" {
		return errors.New("--password needs --user")
	}
	if f.conn.user != "" && f.conn.relay == "" {
		return errors.New("--user needs --relay: the relay to log in at")
	}
	if !f.transportSet && f.conn.user == "" {
		// Straight to the receiver's relay: its URI says how it listens.
		u, _ := codec.ParseURI([]byte(endpoint.FirstURI(f.toPath)))
		switch ws := strings.EqualFold(string(u.Transport), "ws"); {
		case ws && u.Secure():
			f.conn.transport = "wss"
		case ws:
			f.conn.transport = "ws"
		case !u.Secure():
			f.conn.transport = "tcp"
		}
	}
	return f.conn.check()
}

// relayAddr is where to connect: --relay, or the first To-Path URI's host
// and port (2855 when it has none, RFC 4975 §6).
func (f *sendFlags) relayAddr() string {
	if f.conn.relay != "" {
		return f.conn.relay
	}
	u, _ := codec.ParseURI([]byte(endpoint.FirstURI(f.toPath)))
	port := u.Port
	if port < 0 {
		port = 2855
	}
	return net.JoinHostPort(strings.Trim(string(u.Host), "[]"), strconv.Itoa(port))
}

// outMessage opens what to send. A file is read chunk by chunk as it goes
// out, never whole.
func (f *sendFlags) outMessage() (*outMessage, error) {
	if f.file == "" {
		ct := f.contentType
		if ct == "" {
			ct = "text/plain"
		}
		n := int64(len(f.message))
		return &outMessage{r: strings.NewReader(f.message), total: n, chunk: max(n, 1), ctype: ct}, nil
	}
	fl, err := os.Open(f.file)
	if err != nil {
		return nil, err
	}
	st, err := fl.Stat()
	if err != nil || !st.Mode().IsRegular() {
		fl.Close()
		return nil, fmt.Errorf("%s: not a regular file", f.file)
	}
	ct := f.contentType
	if ct == "" {
		ct = "application/octet-stream"
	}
	disp := mime.FormatMediaType("attachment", map[string]string{"filename": filepath.Base(f.file)})
	return &outMessage{r: fl, closer: fl, total: st.Size(), chunk: int64(f.chunkSize), ctype: ct, disposition: disp, progress: true}, nil
}

// connectSender dials the relay and, with --user, logs in there.
func connectSender(ctx context.Context, f *sendFlags, stderr io.Writer) (*sender, error) {
	addr := f.relayAddr()
	mc, err := f.conn.dial(ctx, addr)
	if err != nil {
		return nil, err
	}
	toPath := f.toPath
	if f.conn.user != "" {
		use, err := f.conn.auth(mc, addr)
		if err != nil {
			mc.Close()
			return nil, f.conn.explain(err, mc)
		}
		toPath = use + " " + toPath
	}
	mc.stall = f.timeout
	fmt.Fprintf(stderr, "connected to %s; To-Path: %s\n", addr, toPath)
	s := &sender{mc: mc, f: f, toPath: toPath, log: stderr, msgID: endpoint.NewTID(),
		events: make(chan *endpoint.Frame, f.window+16), failed: make(chan error, 1), done: make(chan struct{})}
	go s.readLoop()
	return s, nil
}

// outMessage is one message to send, read through r as it goes.
type outMessage struct {
	r           io.ReaderAt
	closer      io.Closer
	total       int64
	chunk       int64
	ctype       string
	disposition string
	progress    bool
}

func (m *outMessage) close() {
	if m.closer != nil {
		m.closer.Close()
	}
}

// rate formats bytes per d in MB/s (10^6 bytes).
func rate(n int64, d time.Duration) string {
	if d <= 0 {
		d = time.Millisecond
	}
	return fmt.Sprintf("%.1f MB/s", float64(n)/d.Seconds()/1e6)
}
