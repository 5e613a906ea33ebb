package soak

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	msrp "github.com/msrprelay/msrprelay/endpoint"
)

const (
	dialTimeout = 5 * time.Second
	authTimeout = 10 * time.Second // the relay may hold a failed AUTH's answer 1 s
)

// scene is one run of one scenario: its endpoints share one lock, and a
// change to any of them wakes whoever waits on the scene.
type scene struct {
	r        *runner
	kind     string
	deadline time.Time

	mu      sync.Mutex
	changed chan struct{}
	eps     []*endpoint
	began   time.Time
	notes   []string // what happened when, for a failure's details
}

// note records a step with its time since the scene began.
func (s *scene) note(format string, args ...any) {
	s.mu.Lock()
	s.notes = append(s.notes, fmt.Sprintf("%.2fs ", time.Since(s.began).Seconds())+fmt.Sprintf(format, args...))
	s.mu.Unlock()
}

func (r *runner) newScene(kind string, d time.Duration) *scene {
	s := &scene{r: r, kind: kind, began: time.Now(), deadline: time.Now().Add(d), changed: make(chan struct{})}
	r.track(s, true)
	return s
}

func (s *scene) notifyLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// wait waits until pred (called with s.mu held) is true, or until the
// deadline; it returns pred's last value.
func (s *scene) wait(deadline time.Time, pred func() bool) bool {
	if deadline.After(s.deadline) {
		deadline = s.deadline
	}
	t := time.NewTimer(time.Until(deadline))
	defer t.Stop()
	for {
		s.mu.Lock()
		ok := pred()
		ch := s.changed
		s.mu.Unlock()
		if ok {
			return true
		}
		select {
		case <-ch:
		case <-t.C:
			s.mu.Lock()
			defer s.mu.Unlock()
			return pred()
		}
	}
}

// closeAll closes every endpoint and waits for their readers.
func (s *scene) closeAll() {
	s.mu.Lock()
	eps := append([]*endpoint(nil), s.eps...)
	s.mu.Unlock()
	for _, ep := range eps {
		ep.close()
	}
	for _, ep := range eps {
		<-ep.readDone
	}
	s.r.track(s, false)
}

// fail records a failure of this scene.
func (s *scene) fail(kind, format string, args ...any) {
	s.r.fail(kind, s.kind+": "+fmt.Sprintf(format, args...))
}

// txMsg is a message an endpoint sends.
type txMsg struct {
	id       string
	total    int64
	chunks   []*txChunk
	success  bool   // a success REPORT arrived
	failed   spans  // what failure REPORTs covered
	status   string // the first failure REPORT's Status
	reports  int
	refused  int // chunks answered other than 200
	stop     bool
	refusals []int
}

type txChunk struct {
	first, last int64
	code        int // 0 until answered
	sent        time.Time
}

// accepted reports whether every chunk got 200 (the relay took the whole
// message).
func (m *txMsg) accepted() bool {
	if len(m.chunks) == 0 {
		return false
	}
	for _, c := range m.chunks {
		if c.code != 200 {
			return false
		}
	}
	return true
}

func (m *txMsg) unanswered() int {
	n := 0
	for _, c := range m.chunks {
		if c.code == 0 {
			n++
		}
	}
	return n
}

// lostChunk is the first chunk of m the relay accepted (200) that
// neither arrived whole (got: what the receiver got) nor is covered by a
// failure REPORT.
func (m *txMsg) lostChunk(got spans) (*txChunk, bool) {
	for _, c := range m.chunks {
		if c.code == 200 && uncovered(c.first, c.last, got, m.failed) {
			return c, true
		}
	}
	return nil, false
}

// received is what of message id ep has got whole, piece by piece.
func (ep *endpoint) received(id string) spans {
	if rx := ep.rx[id]; rx != nil {
		return rx.got
	}
	return nil
}

// rxMsg is a message an endpoint receives.
type rxMsg struct {
	total    int64
	fromPath string
	got      spans // bytes of pieces that ended '+' or '$'
	seen     spans // every byte received, '#' pieces included
	sawEnd   bool
	complete bool
	aborts   int
	success  bool // asked for a success REPORT
}

// endpoint is one MSRP client connection with a reader goroutine that
// answers SENDs, checks every body byte, records REPORTs and hands
// responses to whoever waits for them.
type endpoint struct {
	s        *scene
	name     string
	raw      net.Conn // tls.Conn or TCPConn
	tcp      *net.TCPConn
	rd       *readConn
	c        *msrp.Conn
	uri      string
	relayURI string // this relay, as AUTH's To-Path names it
	use      string // Use-Path after AUTH
	readDone chan struct{}
	wmu      sync.Mutex

	// under s.mu
	pending  map[string]func(*msrp.Frame)
	tx       map[string]*txMsg
	rx       map[string]*rxMsg
	inbox    []string // completed incoming messages, in order
	closed   bool     // the reader ended
	readErr  error
	dropped  bool // this side dropped the connection on purpose
	closing  bool
	requests int
}

// dial connects to the relay over TLS or TCP. It is bounded by its own
// timeouts, not by the run's end: a scene once started runs to its end.
func (s *scene) dial(name string, secure bool) (*endpoint, error) {
	ctx := context.Background()
	r := s.r
	addr, scheme := r.relay.tcpAddr, "msrp"
	if secure {
		addr, scheme = r.relay.tlsAddr, "msrps"
	}
	d := net.Dialer{Timeout: dialTimeout}
	began := time.Now()
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("%s: dial %s (%v): %w", name, addr, time.Since(began).Round(time.Millisecond), err)
	}
	tcp := nc.(*net.TCPConn)
	_ = tcp.SetNoDelay(true)
	raw := nc
	if secure {
		tc := tls.Client(nc, r.relay.tls)
		hctx, cancel := context.WithTimeout(ctx, dialTimeout)
		err := tc.HandshakeContext(hctx)
		cancel()
		if err != nil {
			nc.Close()
			return nil, fmt.Errorf("%s: TLS handshake (%v): %w", name, time.Since(began).Round(time.Millisecond), err)
		}
		raw = tc
	}
	_ = raw.SetDeadline(s.deadline.Add(10 * time.Second))
	ep := &endpoint{s: s, name: name, raw: raw, tcp: tcp, readDone: make(chan struct{}),
		pending: map[string]func(*msrp.Frame){}, tx: map[string]*txMsg{}, rx: map[string]*rxMsg{}}
	ep.rd = &readConn{Conn: raw, ep: ep}
	ep.c = msrp.New(ep.rd)
	port := tcp.LocalAddr().(*net.TCPAddr).Port
	ep.uri = scheme + "://127.0.0.1:" + strconv.Itoa(port) + "/" + name + strconv.Itoa(port) + ";tcp"
	ep.relayURI = scheme + "://127.0.0.1:" + addr[strings.LastIndexByte(addr, ':')+1:] + ";tcp"
	s.mu.Lock()
	s.eps = append(s.eps, ep)
	s.mu.Unlock()
	go ep.readLoop()
	return ep, nil
}

// close ends the connection from this side, cleanly.
func (ep *endpoint) close() {
	ep.s.mu.Lock()
	ep.closing = true
	ep.s.mu.Unlock()
	_ = ep.raw.Close()
}

// drop ends the connection abruptly: a plain close (FIN, no TLS
// close_notify) or a reset (RST).
func (ep *endpoint) drop(rst bool) {
	ep.s.mu.Lock()
	ep.dropped = true
	ep.closing = true
	ep.s.mu.Unlock()
	if rst {
		_ = ep.tcp.SetLinger(0)
	}
	_ = ep.tcp.Close()
}

func (ep *endpoint) write(b []byte) error {
	_, err := ep.rd.Write(b)
	return err
}

// request writes req; cb (called with s.mu held) gets its response.
func (ep *endpoint) request(req *msrp.Request, cb func(*msrp.Frame)) error {
	return ep.requestPartial(req, cb, -1)
}

// requestPartial writes only the first n bytes of req's frame when n >= 0.
func (ep *endpoint) requestPartial(req *msrp.Request, cb func(*msrp.Frame), n int) error {
	b := req.Append(nil)
	if cb != nil {
		ep.s.mu.Lock()
		ep.pending[req.TID] = cb
		ep.s.mu.Unlock()
	}
	if n >= 0 && n < len(b) {
		b = b[:n]
	}
	return ep.write(b)
}

var errClosed = errors.New("connection closed before the response")

// roundTrip writes req and waits for its response.
func (ep *endpoint) roundTrip(req *msrp.Request, timeout time.Duration) (*msrp.Frame, error) {
	ch := make(chan *msrp.Frame, 1)
	if err := ep.request(req, func(f *msrp.Frame) { ch <- f }); err != nil {
		return nil, err
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case f := <-ch:
		return f, nil
	case <-ep.readDone:
		select {
		case f := <-ch:
			return f, nil
		default:
		}
		return nil, fmt.Errorf("%w (%v)", errClosed, ep.readErrNow())
	case <-t.C:
		return nil, fmt.Errorf("no response to %s in %v", req.Method, timeout)
	}
}

func (ep *endpoint) readErrNow() error {
	ep.s.mu.Lock()
	defer ep.s.mu.Unlock()
	return ep.readErr
}

// authOpts are the AUTH parameters toward to (the relay, or a session URI
// for a refresh).
func (ep *endpoint) authOpts(to, password string, expires int) msrp.AuthOptions {
	return msrp.AuthOptions{RelayURI: to, FromURI: ep.uri, User: user, Password: password, Expires: expires}
}

// challenge sends a bare AUTH and returns the 401.
func (ep *endpoint) challenge(o msrp.AuthOptions) (*msrp.Frame, error) {
	f, err := ep.roundTrip(msrp.AuthRequest(o, ""), authTimeout)
	if err != nil {
		return nil, fmt.Errorf("AUTH: %w", err)
	}
	if f.Code != 401 {
		return f, fmt.Errorf("bare AUTH answered %d %s, want 401", f.Code, f.Comment)
	}
	return f, nil
}

// answer sends the AUTH answering challenge ch and returns the response.
func (ep *endpoint) answer(o msrp.AuthOptions, ch *msrp.Frame) (*msrp.Frame, error) {
	a, err := msrp.Authorization(o, ch, "00000001")
	if err != nil {
		return nil, err
	}
	f, err := ep.roundTrip(msrp.AuthRequest(o, a), authTimeout)
	if err != nil {
		return nil, fmt.Errorf("AUTH: %w", err)
	}
	return f, nil
}

// auth runs the whole AUTH exchange toward to and returns the Use-Path.
func (ep *endpoint) auth(to, password string, expires int) (string, error) {
	o := ep.authOpts(to, password, expires)
	ch, err := ep.challenge(o)
	if err != nil {
		return "", err
	}
	f, err := ep.answer(o, ch)
	if err != nil {
		return "", err
	}
	if f.Code != 200 || f.Header("Use-Path") == "" {
		return "", fmt.Errorf("AUTH answered %d %s (Use-Path %q)", f.Code, f.Comment, f.Header("Use-Path"))
	}
	return f.Header("Use-Path"), nil
}

// readLoop reads every frame until the connection ends.
func (ep *endpoint) readLoop() {
	defer close(ep.readDone)
	for {
		f, err := ep.c.ReadFrame()
		if f != nil {
			if f.Method == "" {
				ep.onResponse(f, err)
			} else {
				ep.onRequest(f, err)
			}
		}
		if err != nil {
			ep.s.mu.Lock()
			ep.closed = true
			ep.readErr = err
			ep.s.notifyLocked()
			ep.s.mu.Unlock()
			return
		}
	}
}

func (ep *endpoint) onResponse(f *msrp.Frame, err error) {
	s := ep.s
	s.mu.Lock()
	defer s.mu.Unlock()
	cb := ep.pending[f.TID]
	delete(ep.pending, f.TID)
	if err != nil {
		if !ep.closing {
			s.fail("protocol", "%s: malformed response %d from the relay: %v", ep.name, f.Code, err)
		}
		return
	}
	if cb == nil {
		s.fail("protocol", "%s: response %d to unknown transaction %s", ep.name, f.Code, f.TID)
		return
	}
	cb(f)
	s.notifyLocked()
}

func (ep *endpoint) onRequest(f *msrp.Frame, err error) {
	switch f.Method {
	case "SEND":
		ep.onSend(f, err)
	case "REPORT":
		if err == nil {
			ep.onReport(f)
		}
	default:
		if err == nil {
			ep.s.fail("protocol", "%s: unexpected request %s from the relay", ep.name, f.Method)
		}
	}
}

func (ep *endpoint) onSend(f *msrp.Frame, rerr error) {
	s := ep.s
	st := &s.r.stats
	id := f.Header("Message-ID")
	br, err := parseByteRange(f.Header("Byte-Range"))
	if err != nil || id == "" {
		s.fail("protocol", "%s: SEND with Message-ID %q, %v", ep.name, id, err)
		return
	}
	body := f.Body
	if i := PatternFor(id).Check(body, br.start-1); i >= 0 {
		s.fail("corrupt", "%s: message %s byte %d (Byte-Range %s, flag %c, %d body bytes) is %q, want %q",
			ep.name, id, br.start+int64(i), f.Header("Byte-Range"), f.Flag, len(body), body[i], patternByte(id, br.start-1+int64(i)))
	}
	st.bytes.Add(int64(len(body)))
	last := br.start + int64(len(body)) - 1
	successReport := false
	var fromPath string
	s.mu.Lock()
	ep.requests++
	m := ep.rx[id]
	if m == nil {
		m = &rxMsg{total: br.total, fromPath: f.Header("From-Path")}
		ep.rx[id] = m
	}
	fromPath = m.fromPath
	if br.total >= 0 && last > br.total {
		s.fail("protocol", "%s: message %s: bytes up to %d of %d", ep.name, id, last, br.total)
	}
	m.seen.add(br.start, last)
	switch {
	case rerr != nil:
		// the connection broke inside this frame: nothing is whole
	case f.Flag == '#':
		m.aborts++
		st.aborts.Add(1)
	default:
		if br.end >= 0 && br.end != last {
			s.fail("protocol", "%s: message %s: Byte-Range %s but %d body bytes", ep.name, id, f.Header("Byte-Range"), len(body))
		}
		m.got.add(br.start, last)
		if f.Flag == '$' {
			m.sawEnd = true
		}
	}
	if !m.complete && m.sawEnd && m.total >= 0 && m.got.covers(1, m.total) {
		m.complete = true
		m.success = f.Header("Success-Report") == "yes"
		successReport = m.success
		ep.inbox = append(ep.inbox, id)
	}
	s.notifyLocked()
	s.mu.Unlock()
	if rerr != nil {
		return
	}
	if !strings.EqualFold(f.Header("Failure-Report"), "no") {
		if err := ep.c.Respond(f, 200, "OK"); err != nil {
			return // the reader sees the connection end
		}
	}
	if successReport {
		rep := &msrp.Request{Method: "REPORT", ToPath: fromPath, FromPath: ep.uri, Headers: [][2]string{
			{"Message-ID", id}, {"Byte-Range", "1-" + strconv.FormatInt(m.total, 10) + "/" + strconv.FormatInt(m.total, 10)},
			{"Status", "000 200 OK"}}}
		_ = ep.request(rep, nil)
	}
}

func patternByte(id string, off int64) byte {
	var b [1]byte
	PatternFor(id).Fill(b[:], off)
	return b[0]
}

func (ep *endpoint) onReport(f *msrp.Frame) {
	s := ep.s
	id := f.Header("Message-ID")
	status := f.Header("Status")
	br, err := parseByteRange(f.Header("Byte-Range"))
	s.mu.Lock()
	defer s.mu.Unlock()
	m := ep.tx[id]
	if m == nil {
		s.fail("protocol", "%s: REPORT %q for a message it never sent (%s)", ep.name, status, id)
		return
	}
	if err != nil {
		s.fail("protocol", "%s: REPORT for %s: %v", ep.name, id, err)
		return
	}
	m.reports++
	if strings.HasPrefix(status, "000 200") {
		if m.unanswered() > 0 {
			s.r.stats.reportFirst.Add(1)
		}
		m.success = true
	} else {
		s.r.stats.failReports.Add(1)
		s.r.noteStatus(status)
		last := br.end
		if last < 0 {
			last = m.total
		}
		m.failed.add(br.start, last)
		if m.status == "" {
			m.status = status
		}
		m.stop = true
	}
	s.notifyLocked()
}

// sendOpts shape one message.
type sendOpts struct {
	toPath        string
	successReport bool
	chunk         int
	// dropChunk >= 0: write that chunk's header and dropBody bytes of its
	// body, then return (the caller drops the connection).
	dropChunk int
	dropBody  int
}

// newTx registers a message of size bytes to send.
func (ep *endpoint) newTx(size int64) *txMsg {
	m := &txMsg{id: ep.s.r.msgID(), total: size}
	ep.s.mu.Lock()
	ep.tx[m.id] = m
	ep.s.mu.Unlock()
	return m
}

// send writes m chunk by chunk, stopping early when a chunk is refused or a
// failure REPORT arrives. The chunks' answers arrive later.
func (ep *endpoint) send(m *txMsg, o sendOpts) error {
	s := ep.s
	pat := PatternFor(m.id)
	sr := "no"
	if o.successReport {
		sr = "yes"
	}
	body := make([]byte, min(int64(o.chunk), m.total))
	for i, off := 0, int64(0); off < m.total; i, off = i+1, off+int64(o.chunk) {
		s.mu.Lock()
		stop := m.stop || ep.closed
		s.mu.Unlock()
		if stop {
			return nil
		}
		n := min(int64(o.chunk), m.total-off)
		b := body[:n]
		pat.Fill(b, off)
		flag := byte('+')
		if off+n == m.total {
			flag = '$'
		}
		c := &txChunk{first: off + 1, last: off + n, sent: time.Now()}
		req := &msrp.Request{Method: "SEND", ToPath: o.toPath, FromPath: ep.uri, Headers: [][2]string{
			{"Message-ID", m.id},
			{"Byte-Range", fmt.Sprintf("%d-%d/%d", c.first, c.last, m.total)},
			{"Success-Report", sr}, {"Failure-Report", "yes"}},
			ContentType: "application/octet-stream", Body: b, Flag: flag}
		cb := func(f *msrp.Frame) {
			c.code = f.Code
			if f.Code != 200 {
				m.refused++
				m.refusals = append(m.refusals, f.Code)
				m.stop = true
			}
		}
		s.mu.Lock()
		m.chunks = append(m.chunks, c)
		s.mu.Unlock()
		if i == o.dropChunk {
			wire := req.Append(nil)
			head := len(wire) - len(b) - len("\r\n-------") - len(req.TID) - 3
			s.mu.Lock()
			m.chunks = m.chunks[:len(m.chunks)-1] // never whole: not the sender's to account
			s.mu.Unlock()
			return ep.write(wire[:head+o.dropBody])
		}
		if err := ep.request(req, cb); err != nil {
			return err
		}
	}
	return nil
}

// readConn is what the msrp.Conn reads from: it may throttle reads to a rate
// and drop the connection once a number of bytes has been read.
type readConn struct {
	net.Conn
	ep *endpoint

	mu      sync.Mutex
	rate    float64 // bytes per second, 0: no limit
	since   time.Time
	n       int64 // bytes read since armed
	dropAt  int64 // > 0: drop once this many bytes were read
	dropRST bool
}

// read is how many bytes were read since the last throttle or dropAfter.
func (r *readConn) read() int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.n
}

var errDropped = errors.New("dropped on purpose")

// throttle limits reads to rate bytes per second from now on.
func (r *readConn) throttle(rate float64) {
	r.mu.Lock()
	r.rate, r.since, r.n = rate, time.Now(), 0
	r.mu.Unlock()
}

// dropAfter drops the connection once n more bytes were read.
func (r *readConn) dropAfter(n int64, rst bool) {
	r.mu.Lock()
	r.since, r.n, r.dropAt, r.dropRST = time.Now(), 0, n, rst
	r.mu.Unlock()
}

// Write serialises with the endpoint's other writes (msrp.Conn.Respond
// writes through here).
func (r *readConn) Write(b []byte) (int, error) {
	r.ep.wmu.Lock()
	defer r.ep.wmu.Unlock()
	return r.Conn.Write(b)
}

func (r *readConn) Read(p []byte) (int, error) {
	r.mu.Lock()
	rate, dropAt, n := r.rate, r.dropAt, r.n
	r.mu.Unlock()
	if dropAt > 0 {
		if n >= dropAt {
			r.ep.drop(r.dropRST)
			return 0, errDropped
		}
		if rem := dropAt - n; int64(len(p)) > rem {
			p = p[:rem]
		}
	}
	if rate > 0 && len(p) > 16<<10 {
		p = p[:16<<10]
	}
	k, err := r.Conn.Read(p)
	r.mu.Lock()
	r.n += int64(k)
	n, since := r.n, r.since
	r.mu.Unlock()
	if rate > 0 && k > 0 {
		due := since.Add(time.Duration(float64(n) / rate * float64(time.Second)))
		if d := time.Until(due); d > 0 {
			time.Sleep(d)
		}
	}
	return k, err
}
