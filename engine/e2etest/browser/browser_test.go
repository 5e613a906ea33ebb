package browser

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	_ "embed"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/msrprelay/msrprelay/codec"
	"github.com/msrprelay/msrprelay/endpoint"
	"github.com/msrprelay/msrprelay/engine"
	"github.com/msrprelay/msrprelay/engine/e2etest"
	"github.com/msrprelay/msrprelay/engine/gnetdrv"
	"github.com/msrprelay/msrprelay/engine/goroutinedrv"
	"github.com/msrprelay/msrprelay/engine/netdrv"
)

//go:embed page.html
var page []byte

const (
	fileSize = 5 << 20
	// The page sends the file of browserSeed, the TCP client that of sipSeed.
	browserSeed = 0x2545f491
	sipSeed     = 0x9e3779b9
	// Chats carry non-ASCII text: the page sends its chat as a text
	// WebSocket message, whose UTF-8 the relay must pass on unchanged.
	chatFromBrowser = "hello from the browser, grüße ✓"
	chatFromSIP     = "hello from the SIP client, ¡hola! ✓"
	// wsChunk is the relay's default cut toward WebSocket clients
	// (engine.DefaultWSMaxChunk) and the page's chunk size.
	wsChunk = 64 << 10
	// sipURI is the TCP client's own URI; it is never dialled.
	sipURI = "msrp://bob.example.com:9/sip1;tcp"
	// deadline bounds one case: seconds normally, this only on a machine
	// that is starved.
	deadline = 2 * time.Minute
	// tick is the relays' timer interval, short so that a quiet WebSocket
	// is pinged often (see WSPing in runExchange).
	tick = 20 * time.Millisecond
)

// startFunc starts a relay as the e2e suite's drivers do.
type startFunc func(t testing.TB, cfg engine.Config, port int, d e2etest.DriverOptions) (stop func())

// TestBrowser: Chromium, over WebSocket, and a Go client, over TCP or
// TLS, exchange a chat and a 5 MB file each way through the relay.
func TestBrowser(t *testing.T) {
	chromium := findChromium(t)
	cases := []struct {
		name   string
		start  startFunc
		secure bool
		chunk  int // the page's chunk size
	}{
		{"gnet/ws", startGnet, false, wsChunk},
		{"goroutine/ws", startGoroutines, false, wsChunk},
		{"gnet/wss", startGnet, true, wsChunk},
		{"goroutine/wss", startGoroutines, true, wsChunk},
		// The whole file as one chunk, one 5 MiB WebSocket message in.
		{"gnet/ws/one-chunk", startGnet, false, fileSize},
		{"goroutine/ws/one-chunk", startGoroutines, false, fileSize},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { runExchange(t, chromium, c.start, c.secure, c.chunk) })
	}
}

// findChromium returns Debian's Chromium, or skips (fails when CI says a
// browser must be there).
func findChromium(t *testing.T) string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("MSRP_REQUIRE_BROWSER") == "1" {
		t.Fatal("MSRP_REQUIRE_BROWSER=1 but no chromium in PATH (apt-get install chromium)")
	}
	t.Skip("no chromium in PATH (apt-get install chromium); MSRP_REQUIRE_BROWSER=1 makes this a failure")
	return ""
}

func runExchange(t *testing.T, chromium string, start startFunc, secure bool, chunk int) {
	began := time.Now()
	cfg := e2etest.BaseConfig(t)
	// Ping at every timer tick the connection was quiet: pings then go out
	// between, and while, the relay writes the pieces of a chunk.
	cfg.WSPing = time.Nanosecond
	port, wsPort := e2etest.FreePort(t), e2etest.FreePort(t)
	d := e2etest.DriverOptions{WSPort: wsPort}
	var clientTLS *tls.Config
	scheme, wsScheme := "msrp", "ws"
	if secure {
		// The relay's configuration asks for client certificates, as the
		// daemon's does: Chromium aborts a wss:// handshake from a page of
		// another origin that gets asked (ERR_SSL_CLIENT_AUTH_CERT_NEEDED),
		// so this guards that the drivers do not ask on wss.
		d.TLS, clientTLS = e2etest.SelfSignedTLS(t)
		scheme, wsScheme = "msrps", "wss"
	}
	stop := start(t, cfg, port, d)
	t.Cleanup(stop)

	sip, usePath := dialSIP(t, fmt.Sprintf("127.0.0.1:%d", port), clientTLS, fmt.Sprintf("%s://127.0.0.1:%d;tcp", scheme, port))
	reports := serveReports(t)
	q := url.Values{
		"ws":       {fmt.Sprintf("%s://127.0.0.1:%d", wsScheme, wsPort)},
		"relay":    {fmt.Sprintf("%s://127.0.0.1:%d;ws", scheme, wsPort)},
		"user":     {"alice"},
		"password": {e2etest.Password},
		"peer":     {usePath + " " + sipURI},
		"chat":     {chatFromBrowser},
		"size":     {fmt.Sprint(fileSize)},
		"seed":     {fmt.Sprint(browserSeed)},
		"chunk":    {fmt.Sprint(chunk)},
		"close":    {"2"}, // the chat and the file
		"report":   {"/report"},
	}
	launch(t, chromium, reports.url+"/?"+q.Encode())

	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	x := &exchange{t: t, sip: sip, reports: reports.events}
	x.run(ctx)
	t.Logf("exchange done in %v", time.Since(began).Round(time.Millisecond))
}

// exchange is what the test waits for: each side's chat and file, from
// the other, intact, and the page's own sends all answered with 200.
type exchange struct {
	t       *testing.T
	sip     *sipClient
	reports <-chan report

	browserPath                string // the From-Path the browser's chat arrived with
	sipGotChat, sipGotFile     bool
	pageGotChat, pageGotFile   bool
	pageSentChat, pageSentFile bool
	sipChatAcked, sipFileAcked bool
	pageClosed                 bool
	sipSending                 bool
}

func (x *exchange) done() bool {
	return x.sipGotChat && x.sipGotFile && x.pageGotChat && x.pageGotFile &&
		x.pageSentChat && x.pageSentFile && x.sipChatAcked && x.sipFileAcked && x.pageClosed
}

// missing names what has not happened yet.
func (x *exchange) missing() string {
	var m []string
	for _, c := range []struct {
		ok   bool
		what string
	}{
		{x.sipGotChat, "the browser's chat at the SIP client"}, {x.sipGotFile, "the browser's file at the SIP client"},
		{x.pageGotChat, "the SIP client's chat at the browser"}, {x.pageGotFile, "the SIP client's file at the browser"},
		{x.pageSentChat, "200 to the browser's chat"}, {x.pageSentFile, "200s to the browser's file"},
		{x.sipChatAcked, "200 to the SIP client's chat"}, {x.sipFileAcked, "200 to the SIP client's file"},
		{x.pageClosed, "the closing handshake"},
	} {
		if !c.ok {
			m = append(m, c.what)
		}
	}
	return strings.Join(m, "; ")
}

func (x *exchange) run(ctx context.Context) {
	t := x.t
	for !x.done() {
		select {
		case <-ctx.Done():
			t.Fatalf("timed out; still waiting for: %s", x.missing())
		case r := <-x.reports:
			x.pageReport(r)
		case ev := <-x.sip.events:
			x.sipEvent(ev)
		}
	}
}

// pageReport checks what the page says.
func (x *exchange) pageReport(r report) {
	t := x.t
	switch r.Type {
	case "log":
		t.Logf("page: %s", r.Text)
	case "problem":
		t.Fatalf("page: %s", r.Text)
	case "ready":
		if !strings.HasSuffix(r.URI, ";ws") || !strings.Contains(r.UsePath, ";tcp") {
			t.Fatalf("page AUTHed as %s with Use-Path %s", r.URI, r.UsePath)
		}
	case "closed":
		// The page closes once it has everything; the relay must answer
		// its Close frame.
		if r.Code != 1000 || !r.WasClean {
			t.Fatalf("page's WebSocket closed with code %d, clean %v", r.Code, r.WasClean)
		}
		x.pageClosed = true
	case "sent":
		switch r.What {
		case "chat":
			x.pageSentChat = true
		case "file":
			x.pageSentFile = true
		}
	case "received":
		if len(r.Problems) > 0 {
			t.Fatalf("page got a message with problems: %q", r.Problems)
		}
		if r.Text != "" {
			if r.Text != chatFromSIP || r.Pieces != 1 || r.Flags != "$" {
				t.Fatalf("page got chat %q in %d pieces (%s)", r.Text, r.Pieces, r.Flags)
			}
			x.pageGotChat = true
			return
		}
		sum := sha256.Sum256(pattern(sipSeed, fileSize))
		// The relay cuts the one 5 MB chunk toward the WebSocket client:
		// pieces of at most wsChunk, "+" on all but the last.
		wantPieces := (fileSize + wsChunk - 1) / wsChunk
		if r.SHA256 != hex.EncodeToString(sum[:]) || r.Size != fileSize {
			t.Fatalf("page got a %d-byte file with SHA-256 %s, want %d bytes, %x", r.Size, r.SHA256, fileSize, sum)
		}
		if r.MaxPiece > wsChunk || r.Pieces < wantPieces || r.Flags != strings.Repeat("+", r.Pieces-1)+"$" {
			t.Fatalf("page got the file in %d pieces of at most %d bytes, flags %s", r.Pieces, r.MaxPiece, r.Flags)
		}
		t.Logf("page got the file in %d pieces; WebSocket messages so far: %d binary, %d text", r.Pieces, r.Messages.Binary, r.Messages.Text)
		x.pageGotFile = true
	default:
		t.Fatalf("page sent an unknown report %+v", r)
	}
}

// sipEvent checks what the TCP client saw and, once the browser's chat
// has shown it the browser's path, sends its own chat and file.
func (x *exchange) sipEvent(ev sipEvent) {
	t := x.t
	switch {
	case ev.err != nil:
		t.Fatalf("SIP client: %v", ev.err)
	case ev.chat != "":
		if ev.chat != chatFromBrowser {
			t.Fatalf("SIP client got chat %q, want %q", ev.chat, chatFromBrowser)
		}
		x.sipGotChat = true
		x.browserPath = ev.fromPath
		if !x.sipSending {
			x.sipSending = true
			go x.sip.sendBoth(x.browserPath)
		}
	case ev.file != nil:
		if !bytes.Equal(ev.file, pattern(browserSeed, fileSize)) {
			t.Fatalf("SIP client got a %d-byte file that differs from the page's", len(ev.file))
		}
		x.sipGotFile = true
	case ev.acked != "":
		if ev.code != 200 {
			t.Fatalf("SIP client's %s got %d", ev.acked, ev.code)
		}
		switch ev.acked {
		case "chat":
			x.sipChatAcked = true
		case "file":
			x.sipFileAcked = true
		}
	}
}

// pattern is the page's test file: xorshift32 from seed, little-endian.
func pattern(seed uint32, size int) []byte {
	b := make([]byte, size+4)
	x := seed
	for i := 0; i < size; i += 4 {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		binary.LittleEndian.PutUint32(b[i:], x)
	}
	return b[:size]
}

// report is one event the page posts (see report() in page.html).
type report struct {
	Type     string   `json:"type"`
	Text     string   `json:"text"`
	What     string   `json:"what"`
	UsePath  string   `json:"usePath"`
	URI      string   `json:"uri"`
	Size     int      `json:"size"`
	Pieces   int      `json:"pieces"`
	MaxPiece int      `json:"maxPiece"`
	Flags    string   `json:"flags"`
	SHA256   string   `json:"sha256"`
	Problems []string `json:"problems"`
	Code     int      `json:"code"`
	WasClean bool     `json:"wasClean"`
	Messages struct {
		Text   int `json:"text"`
		Binary int `json:"binary"`
	} `json:"messages"`
}

type reportServer struct {
	url    string
	events chan report
}

// serveReports serves the page on loopback and collects its reports.
func serveReports(t *testing.T) *reportServer {
	rs := &reportServer{events: make(chan report, 256)}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write(page)
	})
	mux.HandleFunc("POST /report", func(w http.ResponseWriter, r *http.Request) {
		var rep report
		if err := json.NewDecoder(r.Body).Decode(&rep); err != nil {
			rep = report{Type: "problem", Text: "undecodable report: " + err.Error()}
		}
		select {
		case rs.events <- rep:
		case <-r.Context().Done():
		}
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	rs.url = srv.URL
	return rs
}

// launch starts headless Chromium on pageURL, and kills it and its
// children when the test ends.
func launch(t *testing.T, chromium, pageURL string) {
	profile, err := os.MkdirTemp("", "msrp-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(chromium,
		"--headless=new",
		"--no-sandbox", // CI runs as root, where Chromium's sandbox will not start
		"--disable-gpu",
		"--disable-dev-shm-usage",
		"--no-first-run",
		"--no-default-browser-check",
		"--disable-extensions",
		"--disable-background-networking",
		"--disable-component-update",
		"--ignore-certificate-errors", // the wss listener's certificate is self-signed
		"--user-data-dir="+profile,
		pageURL)
	var stderr lockedBuffer
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	// Its own process group, so the cleanup reaches the renderer and GPU
	// processes too.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Wait()
		_ = os.RemoveAll(profile)
		if t.Failed() {
			t.Logf("chromium output:\n%s", stderr.String())
		}
	})
}

// lockedBuffer collects Chromium's output, written from exec's copying
// goroutine and read at cleanup.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func startGnet(t testing.TB, cfg engine.Config, port int, d e2etest.DriverOptions) func() {
	lis, listen := d.Listeners(port)
	r, err := engine.New(cfg, lis)
	if err != nil {
		t.Fatal(err)
	}
	s := gnetdrv.New(r, gnetdrv.Options{Options: netdrv.Options{Listen: listen, TLS: d.TLS, TickInterval: tick, Logger: cfg.Logger}, Loops: 2})
	return run(t, s.Run, s.Started(), s.Stop)
}

func startGoroutines(t testing.TB, cfg engine.Config, port int, d e2etest.DriverOptions) func() {
	lis, listen := d.Listeners(port)
	r, err := engine.New(cfg, lis)
	if err != nil {
		t.Fatal(err)
	}
	s := goroutinedrv.New(r, goroutinedrv.Options{Options: netdrv.Options{Listen: listen, TLS: d.TLS, TickInterval: tick, Logger: cfg.Logger}})
	return run(t, s.Run, s.Started(), s.Stop)
}

// run runs a driver until the returned stop is called.
func run(t testing.TB, serve func() error, started <-chan struct{}, stop func(context.Context) error) func() {
	done := make(chan error, 1)
	go func() { done <- serve() }()
	select {
	case <-started:
	case err := <-done:
		t.Fatalf("relay: %v", err)
	}
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = stop(ctx)
		<-done
	}
}

// sipClient is the other user: a Go MSRP endpoint on the relay's TCP or
// TLS listener, as a SIP client's MSRP stack would be. It answers every
// chunk with 200 and reassembles what arrives.
type sipClient struct {
	c      *endpoint.Conn
	events chan sipEvent
	quit   chan struct{} // closed when the test ends: nobody reads events
	mu     sync.Mutex
	tids   map[string]string // transaction id -> "chat" or "file"
}

type sipEvent struct {
	err      error
	chat     string // a chat arrived
	fromPath string // ... from this path
	file     []byte // a file arrived
	acked    string // "chat" or "file" got its response
	code     int
}

// dialSIP connects and AUTHs bob, returning the client and its Use-Path.
func dialSIP(t *testing.T, addr string, cfg *tls.Config, relayURI string) (*sipClient, string) {
	c, err := endpoint.Dial(addr, cfg, 20*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(deadline))
	res, err := c.Auth(endpoint.AuthOptions{RelayURI: relayURI, FromURI: sipURI, User: "bob", Password: e2etest.Password})
	if err != nil {
		t.Fatalf("AUTH bob: %v", err)
	}
	s := &sipClient{c: c, events: make(chan sipEvent, 16), quit: make(chan struct{}), tids: map[string]string{}}
	t.Cleanup(func() { close(s.quit) })
	go s.read()
	return s, res.UsePath
}

// read handles every frame until the connection ends.
func (s *sipClient) read() {
	inbox := map[string]*inbound{}
	for {
		f, err := s.c.ReadFrame()
		if err != nil {
			s.emit(sipEvent{err: fmt.Errorf("read: %w", err)})
			return
		}
		if f.Method == "" {
			s.mu.Lock()
			what := s.tids[f.TID]
			s.mu.Unlock()
			if what == "" {
				s.emit(sipEvent{err: fmt.Errorf("response %d to unknown transaction %s", f.Code, f.TID)})
				return
			}
			s.emit(sipEvent{acked: what, code: f.Code})
			continue
		}
		if f.Method != "SEND" {
			s.emit(sipEvent{err: fmt.Errorf("unexpected %s: %+v", f.Method, f.Headers)})
			return
		}
		if err := s.c.Respond(f, 200, "OK"); err != nil {
			s.emit(sipEvent{err: err})
			return
		}
		ev, err := takeChunk(inbox, f)
		if err != nil {
			s.emit(sipEvent{err: err})
			return
		}
		if ev != nil {
			s.emit(*ev)
		}
	}
}

func (s *sipClient) emit(ev sipEvent) {
	select {
	case s.events <- ev:
	case <-s.quit:
	}
}

// inbound is a message being reassembled.
type inbound struct {
	data     []byte
	received int
}

// takeChunk writes a SEND's body where its Byte-Range says and returns
// the event of a message it completes.
func takeChunk(inbox map[string]*inbound, f *endpoint.Frame) (*sipEvent, error) {
	id := f.Header("Message-ID")
	br, err := codec.ParseByteRange([]byte(f.Header("Byte-Range")))
	if err != nil || br.Total < 0 || br.Total > fileSize {
		return nil, fmt.Errorf("message %s: Byte-Range %q", id, f.Header("Byte-Range"))
	}
	m := inbox[id]
	if m == nil {
		m = &inbound{data: make([]byte, br.Total)}
		inbox[id] = m
	}
	if br.Start-1+int64(len(f.Body)) > int64(len(m.data)) || (br.End >= 0 && br.End-br.Start+1 != int64(len(f.Body))) {
		return nil, fmt.Errorf("message %s: Byte-Range %q for %d bytes", id, f.Header("Byte-Range"), len(f.Body))
	}
	copy(m.data[br.Start-1:], f.Body)
	m.received += len(f.Body)
	if f.Flag != '$' {
		return nil, nil
	}
	delete(inbox, id)
	if m.received != len(m.data) {
		return nil, fmt.Errorf("message %s: %d of %d bytes", id, m.received, len(m.data))
	}
	if strings.HasPrefix(f.Header("Content-Type"), "text/") {
		return &sipEvent{chat: string(m.data), fromPath: f.Header("From-Path")}, nil
	}
	return &sipEvent{file: m.data}, nil
}

// sendBoth sends the chat and then the whole file as one chunk, which the
// relay must cut for the browser.
func (s *sipClient) sendBoth(toPath string) {
	file := pattern(sipSeed, fileSize)
	for _, m := range []struct {
		what, contentType string
		body              []byte
	}{
		{"chat", "text/plain;charset=utf-8", []byte(chatFromSIP)},
		{"file", "application/octet-stream", file},
	} {
		req := endpoint.Request{TID: endpoint.NewTIDFor(m.body), Method: "SEND", ToPath: toPath, FromPath: sipURI,
			Headers: [][2]string{
				{"Message-ID", endpoint.NewTID()},
				{"Byte-Range", fmt.Sprintf("1-%d/%d", len(m.body), len(m.body))},
				{"Failure-Report", "yes"},
			},
			ContentType: m.contentType, Body: m.body}
		s.mu.Lock()
		s.tids[req.TID] = m.what
		s.mu.Unlock()
		if err := s.c.Send(&req); err != nil {
			s.emit(sipEvent{err: fmt.Errorf("send %s: %w", m.what, err)})
			return
		}
	}
}
