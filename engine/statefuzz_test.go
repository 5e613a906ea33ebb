package engine

// A stateful fuzzer for the relay core. The fuzz input is a program for a
// small byte-coded interpreter (sfModel.step): open connections, write
// AUTH, SEND, REPORT, NICKNAME and unknown requests into their sockets,
// let the "driver" read them in slices of any size (keeping the rest, as
// drivers do), flush with partial writes and bytes held in a fake kernel,
// answer forwarded requests in any order or never, tick a fake clock,
// dial next hops, close connections at any point. After every step the
// model checks what it can check at once (every frame on every wire
// decodes, answers go to requests that were made and only once, every
// body byte delivered is the sender's byte at that offset, backlogs never
// go negative, Receive never leaves a frame it could handle unread); at
// the end it lets everything settle (all bytes read and written, timers
// past every transaction timeout) and checks that every request owed an
// answer got exactly one, that every byte of a SEND that asked for
// failure reports was delivered or reported failed, that nothing stays
// paused or queued, and, once every connection is closed, that no
// session, transaction, queued byte or connection is left.
//
// Everything runs on the test's goroutine: a program is deterministic
// (transaction ids come from a counter, so bodies can carry the end-line
// the relay will write, to make it cut), except for session ids and the
// order of map iteration inside the relay.

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"runtime/debug"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/msrprelay/msrprelay/codec"
	"github.com/msrprelay/msrprelay/digest"
)

// sfKnownBugs switches off the checks that relay bugs found by this fuzzer
// fail, while they are not fixed, so that the fuzzer goes on finding
// others and `go test` stays green. Each one names the bug (see the
// report in the commit that added it); set MSRP_SF_STRICT=1 to check
// everything.
var sfKnownBugs = map[string]bool{}

// sfStats counts what the programs did, for tuning the interpreter
// (MSRP_SF_STATS=1 prints them after TestRelayRandom).
var sfStats = map[string]int{}

func sfCount(what string) { sfStats[what]++ }

// Fixed since (b51ced9), checked unconditionally now: empty-to-path,
// collect-collision, bodyless-report-range, collision-at-start,
// stalled-chunk-blocks, unroutable-answer-drops-txn,
// collision-while-queued, paused-sender-deadlock.

// sfTolerate says whether the model lets the named known bug pass.
// MSRP_SF_STRICT=1 (or all) checks every one; a comma-separated list of
// names checks those.
func sfTolerate(bug string) bool {
	if !sfKnownBugs[bug] {
		return false
	}
	switch strict := os.Getenv("MSRP_SF_STRICT"); strict {
	case "":
		return true
	case "1", "all":
		return false
	default:
		return !slices.Contains(strings.Split(strict, ","), bug)
	}
}

const (
	sfRealm    = "relay.example.com"
	sfRelayURI = "msrp://relay.example.com:2855;tcp"
	sfMaxConns = 8
	sfMaxOps   = 400
	// sfMaxBytes bounds what one program writes in all, so that a fuzz
	// input cannot take seconds.
	sfMaxBytes = 1 << 20
	sfReadBuf  = 256 << 10
)

// sfProg is the program: the fuzz input read a byte at a time; past its
// end every read is zero.
type sfProg struct {
	b []byte
	i int
}

func (p *sfProg) byte() byte {
	if p.i >= len(p.b) {
		return 0
	}
	c := p.b[p.i]
	p.i++
	return c
}

func (p *sfProg) done() bool { return p.i >= len(p.b) }

func (p *sfProg) u16() int { return int(p.byte())<<8 | int(p.byte()) }

// intn is a number in [0, n).
func (p *sfProg) intn(n int) int {
	switch {
	case n <= 1:
		return 0
	case n <= 256:
		return int(p.byte()) % n
	default:
		return p.u16() % n
	}
}

type sfOwed uint8

const (
	owedMust sfOwed = iota // exactly one answer once things settle
	owedMay                // at most one
	owedNot                // none
)

var owedNames = [...]string{"must", "may", "not"}

// sfReq is a request a model connection wrote.
type sfReq struct {
	from    *sfConn
	tid     string
	method  string
	msgID   string
	owed    sfOwed
	end     int64 // offset in the connection's input just past the frame
	answers int
	codes   []int
	fr      codec.Report // as the relay reads Failure-Report (unknown = no)
	ack200  bool         // a 200 is a valid answer
	// want200: a right AUTH for this connection; the nonce is fresh
	// until nonceAt+NonceTTL.
	want200   bool
	nonceAt   time.Time
	authRelay bool // an AUTH to this relay (a 200 makes or refreshes a session)
	toPath    string
	fromPath  string
	malformed bool
	rangeLie  bool // its Byte-Range does not match its body
	kind      string

	// For every request with a body, and every SEND.
	body     []byte
	hasBody  bool
	flag     byte
	start    int64 // Byte-Range start as the relay reads it
	delivers int   // deliveries of a request other than SEND
	// SEND pieces delivered so far, in order.
	delivered int64
	lastFlag  byte
	pieces    int
	to        *sfConn
	reported  [][2]int64 // body offsets [from, to) failure REPORTs named
}

// sfIn is a request a model connection received and may answer.
type sfIn struct {
	tid, method, to, from, msgID string
}

type sfLink struct {
	sc                     *sfConn
	wake, resume, closeReq bool
	wakes, resumes         int
}

func (l *sfLink) Wake(*Worker) { l.wake = true; l.wakes++ }
func (l *sfLink) Resume()      { l.resume = true; l.resumes++ }
func (l *sfLink) Close()       { l.closeReq = true }

// sfConn is one connection as its peer and its driver see it.
type sfConn struct {
	m     *sfModel
	n     int
	c     *Conn
	l     *sfLink
	uri   string // the peer's own URI
	from  string // the From-Path it sends
	relay bool   // a connection the relay dialed: the peer is a next hop
	ws    bool   // from the WebSocket listener: one frame per message
	// taken counts the bytes the driver took; ends are the offsets in that
	// stream where the relay said a frame (a WebSocket message) ends, not
	// yet matched by the decoder.
	taken int64
	ends  []int64
	host  string // for relay: host:port it was dialed at

	sock     []byte // written by the peer, not yet read by the driver
	tail     []byte // the rest of a frame the peer stalls in
	rbuf     []byte // read by the driver, not yet consumed by Receive
	written  int64
	consumed int64
	kernel   []byte // taken by the driver, not yet on the wire
	again    bool   // Flush asked to be called again
	dec      sfDecoder
	closed   bool // Closed was called
	doomed   bool // its byte stream is broken on purpose
	errored  bool // Receive returned an error

	reqs     map[string]*sfReq // by tid
	order    []*sfReq
	inbox    []*sfIn
	tidN     int
	nc       int
	lastAuth struct {
		nonce, nc string
	}
	sessions int // sessions granted to it (not counting refreshes)
}

// sfDecoder reads the relay's output to one peer.
type sfDecoder struct {
	pos    int64 // offset in the wire stream of buf[0]
	buf    []byte
	inBody bool
	hdr    []byte
	f      codec.Frame
	scan   codec.BodyScanner
	body   []byte
}

type sfSess struct {
	uri   string
	owner *sfConn
	peers []*sfConn // connections that sent to it inward
}

type sfDialer struct{ m *sfModel }

func (d *sfDialer) Dial(c *Conn, hostport string, secure bool, serverName string) {
	d.m.dials = append(d.m.dials, sfDial{c: c, host: hostport})
	d.m.allConns = append(d.m.allConns, c)
}

type sfDial struct {
	c    *Conn
	host string
}

type sfModel struct {
	t        testing.TB
	r        *Relay
	clk      *fakeClock
	w        Worker
	conns    []*sfConn
	allConns []*Conn
	dials    []sfDial
	sess     []*sfSess
	sessBy   map[string]*sfSess
	reqs     map[string]*sfReq // by Message-ID
	msgN     int
	tidN     uint64
	written  int
	trace    []string
	// config
	hw, lw    int64
	maxTxns   int
	maxSess   int
	ws        bool // some connections come from a WebSocket listener
	nonceTTL  time.Duration
	txTimeout time.Duration
}

var sfLimits = codec.Limits{MaxLine: 1 << 20, MaxHeaderBlock: 1 << 20}.WithDefaults()

func (m *sfModel) logf(format string, args ...any) {
	m.trace = append(m.trace, fmt.Sprintf(format, args...))
}

func (m *sfModel) fail(format string, args ...any) {
	m.t.Helper()
	tr := m.trace
	if f := os.Getenv("MSRP_SF_TRACEFILE"); f != "" {
		_ = os.WriteFile(f, []byte(strings.Join(tr, "\n")+"\n"), 0o644)
	}
	if len(tr) > 400 {
		tr = tr[len(tr)-400:]
	}
	m.t.Fatalf("%s\n--- trace (last %d steps):\n%s", fmt.Sprintf(format, args...), len(tr), strings.Join(tr, "\n"))
}

// sfRun interprets one program.
func sfRun(t testing.TB, prog []byte) {
	p := &sfProg{b: prog}
	m := newSFModel(t, p)
	prev := tidRandom
	tidRandom = func() uint64 {
		m.tidN++
		x := m.tidN * 0x9e3779b97f4a7c15
		x ^= x >> 31
		x *= 0xbf58476d1ce4e5b9
		return x ^ x>>29
	}
	defer func() { tidRandom = prev }()
	defer func() {
		if v := recover(); v != nil {
			m.fail("panic: %v\n%s", v, debug.Stack())
		}
	}()
	for ops := 0; !p.done() && ops < sfMaxOps && m.written < sfMaxBytes; ops++ {
		m.step(p)
		m.endStep()
	}
	m.logf("== settle")
	m.settle()
	m.checkSettled()
	m.logf("== teardown")
	m.teardown()
}

func newSFModel(t testing.TB, p *sfProg) *sfModel {
	m := &sfModel{t: t, sessBy: map[string]*sfSess{}, reqs: map[string]*sfReq{}}
	c0 := p.byte()
	m.hw = []int64{1 << 20, 64 << 10, 8 << 10, 3 << 10}[c0&3]
	m.lw = m.hw / 4
	m.maxTxns = []int{4096, 8, 2, 1}[(c0>>2)&3]
	m.maxSess = 64
	if c0&16 != 0 {
		m.maxSess = 2
	}
	allow := c0&32 != 0
	m.ws = c0&64 != 0
	m.nonceTTL = 5 * time.Minute
	m.txTimeout = 30 * time.Second
	var htd []byte
	htd = digest.AppendEntry(htd, "alice", sfRealm, "alice-pw")
	htd = digest.AppendEntry(htd, "bob", sfRealm, "bob-pw")
	creds, err := digest.ParseCredentials(bytes.NewReader(htd))
	if err != nil {
		t.Fatal(err)
	}
	m.r, m.clk = testRelay(t, func(c *Config) {
		c.Credentials = creds
		c.HighWater, c.LowWater = m.hw, m.lw
		c.MaxPendingTransactions = m.maxTxns
		c.MaxSessionsPerConn = m.maxSess
		c.NonceTTL = m.nonceTTL
		c.TransactionTimeout = m.txTimeout
		if allow {
			c.AllowMethods = []string{"SEND", "REPORT", "AUTH", "NICKNAME"}
		}
		if m.ws {
			c.WSMaxChunk = minChunk // cuts as often as the RFC allows
		}
	})
	m.r.SetDialer(&sfDialer{m})
	m.logf("config: highwater %d maxtxns %d maxsess %d allow %v websocket %v", m.hw, m.maxTxns, m.maxSess, allow, m.ws)
	return m
}

// ---- the interpreter

// sfOps weighs the operations: a program byte picks one of 32 slots.
var sfOps = [32]func(m *sfModel, p *sfProg){
	(*sfModel).opOpen,
	(*sfModel).opAuth, (*sfModel).opAuth, (*sfModel).opAuth,
	(*sfModel).opSend, (*sfModel).opSend, (*sfModel).opSend, (*sfModel).opSend, (*sfModel).opSend, (*sfModel).opSend,
	func(m *sfModel, p *sfProg) { m.opOther(p, "REPORT") },
	func(m *sfModel, p *sfProg) { m.opOther(p, []string{"NICKNAME", "FILE_OFFSET", "FOO"}[p.intn(3)]) },
	(*sfModel).opFeed, (*sfModel).opFeed, (*sfModel).opFeed, (*sfModel).opFeed, (*sfModel).opFeed, (*sfModel).opFeed,
	(*sfModel).opFlush, (*sfModel).opFlush, (*sfModel).opFlush,
	(*sfModel).opKernel,
	(*sfModel).opRespond, (*sfModel).opRespond, (*sfModel).opRespond,
	(*sfModel).opTick,
	(*sfModel).opClose,
	(*sfModel).opPump, (*sfModel).opPump,
	(*sfModel).opDial,
	(*sfModel).opMisc,
	(*sfModel).opSend,
}

func (m *sfModel) step(p *sfProg) {
	sfOps[p.byte()%32](m, p)
}

// pickConn is an open connection, or nil.
func (m *sfModel) pickConn(p *sfProg) *sfConn {
	var live []*sfConn
	for _, sc := range m.conns {
		if !sc.closed {
			live = append(live, sc)
		}
	}
	if len(live) == 0 {
		return nil
	}
	return live[p.intn(len(live))]
}

// pickWriter is an open connection whose peer may write a new frame.
func (m *sfModel) pickWriter(p *sfProg) *sfConn {
	sc := m.pickConn(p)
	if sc == nil || sc.doomed || sc.l.closeReq || len(sc.tail) > 0 {
		// (A peer stalled in a frame writes nothing until it goes on.)
		return nil
	}
	return sc
}

// pickSess is a session this model saw created: mostly one whose owner
// is still connected.
func (m *sfModel) pickSess(p *sfProg) *sfSess {
	if len(m.sess) == 0 {
		return nil
	}
	var live []*sfSess
	for _, s := range m.sess {
		if !s.owner.closed {
			live = append(live, s)
		}
	}
	if len(live) == 0 || p.byte()%8 == 0 {
		return m.sess[p.intn(len(m.sess))]
	}
	return live[p.intn(len(live))]
}

func (m *sfModel) ownedSess(p *sfProg, sc *sfConn) *sfSess {
	var own []*sfSess
	for _, s := range m.sess {
		if s.owner == sc {
			own = append(own, s)
		}
	}
	if len(own) == 0 {
		return nil
	}
	return own[p.intn(len(own))]
}

func (m *sfModel) open(relayNames []string) *sfConn {
	n := len(m.conns)
	sc := &sfConn{m: m, n: n, reqs: map[string]*sfReq{}}
	sc.uri = fmt.Sprintf("msrp://c%d.example.com:9/s%d;tcp", n, n)
	sc.from = sc.uri
	sc.l = &sfLink{sc: sc}
	port := uint16(40000 + n)
	lis := Listener{Port: 2855}
	if m.ws && relayNames == nil && n%2 == 1 {
		lis, sc.ws = Listener{Port: 2856, WebSocket: true}, true
	}
	sc.c = m.r.Open(sc.l, netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), port), lis, PeerInfo{RelayNames: relayNames})
	m.conns = append(m.conns, sc)
	m.allConns = append(m.allConns, sc.c)
	return sc
}

func (m *sfModel) opOpen(p *sfProg) {
	live := 0
	for _, sc := range m.conns {
		if !sc.closed {
			live++
		}
	}
	if live >= sfMaxConns || len(m.conns) >= 4*sfMaxConns {
		return
	}
	var names []string
	if p.byte()%8 == 7 {
		// A relay that showed a certificate: it binds no session.
		names = []string{"far9.example.net"}
	}
	sc := m.open(names)
	m.logf("open c%d (relay names %v)", sc.n, names)
}

// write appends a frame to what sc's peer sends; split > 0 holds back
// frame[split:] (the peer stalls in the middle of it).
func (m *sfModel) write(sc *sfConn, frame []byte, split int) {
	m.resumeTail(sc)
	if split > 0 && split < len(frame) {
		sc.tail = append(sc.tail[:0], frame[split:]...)
		frame = frame[:split]
	}
	sc.sock = append(sc.sock, frame...)
	sc.written += int64(len(frame))
	m.written += len(frame)
}

func (m *sfModel) resumeTail(sc *sfConn) {
	if len(sc.tail) > 0 {
		sc.sock = append(sc.sock, sc.tail...)
		sc.written += int64(len(sc.tail))
		m.written += len(sc.tail)
		sc.tail = sc.tail[:0]
	}
}

func (sc *sfConn) newTID(p *sfProg) string {
	sc.tidN++
	if p.byte()%16 == 0 {
		// The longest tid the codec takes, with its odd characters.
		pre, num := fmt.Sprintf("c%dx.-+%%=", sc.n), strconv.Itoa(sc.tidN)
		return pre + strings.Repeat("0", 32-len(pre)-len(num)) + num
	}
	return fmt.Sprintf("c%dt%04d", sc.n, sc.tidN)
}

func (m *sfModel) newMsgID(sc *sfConn) string {
	m.msgN++
	return fmt.Sprintf("m%d-%d", sc.n, m.msgN)
}

// record notes a request sc's peer is about to write; end is set by
// write's caller through finishReq.
func (m *sfModel) record(sc *sfConn, r *sfReq) {
	r.from = sc
	if _, dup := sc.reqs[r.tid]; dup {
		m.fail("model: tid %s reused", r.tid)
	}
	sc.reqs[r.tid] = r
	sc.order = append(sc.order, r)
	if r.msgID != "" {
		m.reqs[r.msgID] = r
	}
}

// ---- paths

// paths picks a To-Path and From-Path for a request from sc: to a
// session of this relay outward or inward, through two sessions here, to
// a next hop, or to URIs that are not (or no longer) sessions.
func (m *sfModel) paths(p *sfProg, sc *sfConn) (to, from string, kind string) {
	from = sc.from
	s := m.pickSess(p)
	peer := m.conns[p.intn(len(m.conns))]
	k := byte(0)
	x := p.byte()
	if x >= 128 {
		k = x % 14
	}
	if s == nil && k < 12 {
		k = 12
	}
	switch k {
	case 0, 1, 2, 3:
		if own := m.ownedSess(p, sc); own != nil && x%2 == 0 {
			s = own
		} else if s.owner == sc {
			for _, o := range m.sess {
				if o.owner != sc && !o.owner.closed {
					s = o
					break
				}
			}
		}
		if s.owner == sc {
			// Outward, mostly to a peer that reached the session (the
			// first of them is bound to it).
			if len(s.peers) > 0 && p.byte()%4 != 0 {
				peer = s.peers[p.intn(len(s.peers))]
			}
			return s.uri + " " + peer.uri, from, "out"
		}
		if !slices.Contains(s.peers, sc) {
			s.peers = append(s.peers, sc)
		}
		return s.uri + " " + s.owner.uri, from, "in"
	case 4, 5:
		// Outward from a session of sc through another session here.
		s1 := m.ownedSess(p, sc)
		if s1 == nil {
			s1 = m.pickSess(p)
		}
		return s1.uri + " " + s.uri + " " + s.owner.uri, from, "twohop"
	case 6:
		// Inward from behind another relay: not bound.
		return s.uri + " " + s.owner.uri, "msrp://far5.example.net:2855/xy;tcp " + sc.uri, "in-via-relay"
	case 7:
		return s.uri, from, "one-uri"
	case 8:
		// Inward, naming this relay again after the session: 403.
		s2 := m.pickSess(p)
		return s.uri + " " + s2.uri + " " + s.owner.uri, from, "loop"
	case 9:
		return strings.Replace(s.uri, ";tcp", ";udp", 1) + " " + peer.uri, from, "udp"
	case 10:
		// Outward to a next-hop relay (dialed).
		s1 := m.ownedSess(p, sc)
		if s1 == nil {
			s1 = s
		}
		far := []string{"msrp://far1.example.net:2855/q1;tcp", "msrp://far2.example.net:2855/q2;tcp", "msrps://far1.example.net:2856/q3;tcp", "msrp://FAR1.example.net:2855/q4;tcp"}[p.intn(4)]
		return s1.uri + " " + far + " msrp://z.example.net:9/z;tcp", from, "hop"
	case 11:
		// Outward to the peer, with a From-Path of two URIs.
		return s.uri + " " + peer.uri, "msrp://far6.example.net:2855/ab;tcp " + sc.uri, "two-from"
	case 12:
		return "msrp://relay.example.com:2855/" + strings.Repeat("a", sessionIDLen) + ";tcp " + peer.uri, from, "no-such-session"
	default:
		if p.byte()%2 == 0 {
			return "msrp://other.example.org:2855/abc;tcp " + peer.uri, from, "foreign"
		}
		return "msrp://relay.example.com:2855/%zz;tcp " + peer.uri, from, "bad-uri"
	}
}

// ---- AUTH

func (m *sfModel) opAuth(p *sfProg) {
	sc := m.pickWriter(p)
	if sc == nil {
		return
	}
	v := p.byte() % 26
	if v >= 13 {
		v = 1 // the right password, most of the time
	}
	r := &sfReq{tid: sc.newTID(p), method: "AUTH", owed: owedMust, authRelay: true}
	to := sfRelayURI
	user, pw := "alice", "alice-pw"
	if p.byte()%2 == 0 {
		user, pw = "bob", "bob-pw"
	}
	switch v {
	case 5:
		if s := m.ownedSess(p, sc); s != nil {
			to = s.uri
		}
	case 6:
		if s := m.pickSess(p); s != nil {
			to = s.uri
		}
	case 9:
		s := m.ownedSess(p, sc)
		if s == nil {
			s = m.pickSess(p)
		}
		if s != nil {
			to = s.uri + " " + []string{"msrp://far1.example.net:2855;tcp", sfRelayURI}[p.intn(2)]
		}
	case 11:
		to = "msrp://relay.example.com:2855/%zz;tcp"
	case 12:
		to = "msrp://elsewhere.example.org:2855;tcp"
	}
	r.authRelay = codec.PathLen([]byte(to)) == 1
	var h strings.Builder
	r.msgID = m.newMsgID(sc)
	r.flag = '$'
	fmt.Fprintf(&h, "MSRP %s AUTH\r\nTo-Path: %s\r\nFrom-Path: %s\r\nMessage-ID: %s\r\n", r.tid, to, sc.from, r.msgID)
	expOK := true
	switch p.byte() % 16 {
	case 1:
		h.WriteString("Expires: 600\r\n")
	case 2:
		h.WriteString("Expires: 30\r\n")
		expOK = false
	case 3:
		h.WriteString("Expires: 99999\r\n")
		expOK = false
	case 4:
		h.WriteString("Expires: soon\r\n")
		expOK = false
	case 5:
		h.WriteString("Expires: 123456789012345678901234\r\n")
		expOK = false
	}
	now := m.clk.now()
	issued := now
	connID := sc.c.id
	uri := to
	if v != 0 {
		sc.nc++
		nc := fmt.Sprintf("%08x", sc.nc)
		switch v {
		case 2:
			pw = "wrong"
		case 3:
			issued = now.Add(-m.nonceTTL - 2*time.Minute)
		case 4:
			connID += 1000
		case 10:
			user = "mallory"
		}
		nonce := string(m.r.nonces.Append(nil, connID, []byte(sfRealm), issued))
		if v == 7 && sc.lastAuth.nonce != "" {
			nonce, nc = sc.lastAuth.nonce, sc.lastAuth.nc
		}
		sc.lastAuth.nonce, sc.lastAuth.nc = nonce, nc
		resp := digest.ClientResponse(user, sfRealm, pw, uri, nonce, nc, "cn"+strconv.Itoa(sc.nc))
		if v == 8 {
			h.WriteString("Authorization: Digest garbage\r\n")
		} else {
			fmt.Fprintf(&h, "Authorization: Digest username=\"%s\", realm=\"%s\", nonce=\"%s\", qop=auth, nc=%s, cnonce=\"cn%d\", response=\"%s\"\r\n",
				user, sfRealm, nonce, nc, sc.nc, resp)
		}
		r.want200 = v == 1 && expOK && to == sfRelayURI
		r.nonceAt = issued
	}
	r.toPath, r.fromPath = to, sc.from
	fr := append([]byte(h.String()), "-------"+r.tid+"$\r\n"...)
	m.record(sc, r)
	m.write(sc, fr, 0)
	r.end = sc.written
	m.logf("c%d AUTH %s variant %d to %q want200 %v", sc.n, r.tid, v, to, r.want200)
}

// ---- SEND

// sfBody is a SEND's body: byte i is a function of the Message-ID and
// start+i, so a piece at the wrong offset shows. Some bodies carry
// end-lines: of other transactions (the scanner must not stop at them)
// and the ones the relay is about to write (it must cut before them).
func (m *sfModel) sfBody(p *sfProg, msgID string, start int64, n int, kind byte, collected bool) []byte {
	var h uint64 = 14695981039346656037
	for i := 0; i < len(msgID); i++ {
		h = (h ^ uint64(msgID[i])) * 1099511628211
	}
	b := make([]byte, n)
	for i := range b {
		x := h ^ uint64(start+int64(i))*0x9e3779b97f4a7c15
		x ^= x >> 29
		x *= 0xbf58476d1ce4e5b9
		x ^= x >> 32
		if kind%4 == 1 {
			b[i] = byte(x)
		} else {
			b[i] = 'a' + byte(x%26)
		}
	}
	if kind%4 >= 2 && n > 0 {
		// Embed end-lines at a few places.
		relayTIDs := 0
		for k := 0; k < 1+p.intn(4); k++ {
			var pat []byte
			switch c := p.byte() % 4; {
			case c < 2 && !(relayTIDs > 0 && sfTolerate("rename-collides-again")):
				relayTIDs++
				// The relay's next tids: a forward's prefix is drawn
				// when its header is read.
				save := m.tidN
				m.tidN += uint64(2 * p.intn(4))
				var t tid
				newTIDPrefix(&t)
				m.tidN = save
				pat = append([]byte("\r\n-------"), t.bytes()...)
			case c == 2:
				pat = []byte("\r\n-------zz0other$\r\n") // no peer uses this tid
			default:
				pat = []byte("\r\n-------")
			}
			if p.byte()%2 == 0 {
				pat = append(pat, "$\r\n"[:1+p.intn(3)]...)
			}
			at := p.intn(n)
			copy(b[at:], pat)
		}
	}
	return b
}

var sfFR = []struct {
	hdr string
	fr  codec.Report
}{
	{"", codec.ReportYes}, {"yes", codec.ReportYes}, {"no", codec.ReportNo}, {"partial", codec.ReportPartial},
	{"maybe", codec.ReportNo}, {"No", codec.ReportNo}, {"YES", codec.ReportYes},
}

func (m *sfModel) bodySize(p *sfProg) int {
	switch p.byte() % 16 {
	case 0:
		return 0
	case 1, 2, 3, 4:
		return 1 + p.intn(100)
	case 5, 6, 7, 8:
		return 1 + p.intn(3000)
	case 9, 10, 11:
		return 2000 + p.intn(20000)
	case 12, 13:
		return 20000 + p.intn(60000)
	case 14:
		return 60000 + p.intn(20000) // around maxAtomic
	default:
		return 80000 + p.intn(200000)
	}
}

func (m *sfModel) opSend(p *sfProg) {
	sc := m.pickWriter(p)
	if sc == nil {
		return
	}
	to, from, kind := m.paths(p, sc)
	r := &sfReq{tid: sc.newTID(p), method: "SEND", msgID: m.newMsgID(sc), toPath: to, fromPath: from}
	n := m.bodySize(p)
	frc := sfFR[p.intn(len(sfFR))]
	r.fr = frc.fr
	switch frc.fr {
	case codec.ReportYes:
		r.owed, r.ack200 = owedMust, true
	case codec.ReportNo:
		r.owed = owedNot
	default:
		r.owed = owedMay
	}
	start := int64(1)
	var rng string
	rk := p.byte() % 24
	switch {
	case rk >= 12 && rk < 18:
		rk = 1
	case rk >= 18 && rk < 21:
		rk = 3
	case rk >= 21:
		rk = 0
	}
	switch rk {
	case 1, 2:
		rng = fmt.Sprintf("1-%d/%d", n, n)
	case 3:
		rng = "1-*/*"
	case 4:
		start = 1 + int64(p.intn(100))
		rng = fmt.Sprintf("%d-*/%d", start, start+int64(n)-1+int64(p.intn(50)))
	case 5:
		start = 1 + int64(p.intn(1000))
		rng = fmt.Sprintf("%d-%d/*", start, start+int64(n)-1)
	case 6:
		rng = "5-*/100"
		start = 5
	case 7:
		rng = "*"
	case 8:
		rng = fmt.Sprintf("1-%d/%d", 1+p.intn(10), 10) // an end the body does not match
	case 9:
		rng = "0-5/5"
	case 10:
		rng = fmt.Sprintf("1-%d/%d", n+5000, n) // end past total
	}
	collected := false
	if rng != "" {
		br, err := codec.ParseByteRange([]byte(rng))
		start = br.Start
		collected = br.End != codec.Unknown && br.End-br.Start+1 <= minChunk
		// A range the body does not match is the sender's fault: what
		// the relay reports about it need not parse.
		r.rangeLie = err != nil || br.End != codec.Unknown && br.End != start+int64(n)-1 ||
			br.Total != codec.Unknown && br.Total < start+int64(n)-1
	}
	r.start = start
	bodyKind := p.byte()
	r.body = m.sfBody(p, r.msgID, start, n, bodyKind, collected)
	r.flag = "$$$$$+#"[p.intn(7)]
	bodyless := n == 0 && p.byte()%2 == 0
	r.hasBody = !bodyless

	var h []byte
	h = fmt.Appendf(h, "MSRP %s SEND\r\n", r.tid)
	hdrs := []string{"To-Path: " + to, "From-Path: " + from, "Message-ID: " + r.msgID}
	if rng != "" {
		hdrs = append(hdrs, "Byte-Range: "+rng)
	}
	if frc.hdr != "" {
		hdrs = append(hdrs, "Failure-Report: "+frc.hdr)
	}
	if sr := p.byte() % 4; sr > 0 {
		hdrs = append(hdrs, "Success-Report: "+[]string{"", "yes", "no", "sometimes"}[sr])
	}
	if r.hasBody && n > 0 {
		hdrs = append(hdrs, "Content-Type: application/octet-stream")
	}
	if p.byte()%8 == 0 {
		hdrs = append(hdrs, "X-Fuzz: "+strings.Repeat("h", p.intn(200)))
	}
	if p.byte()%32 == 0 {
		// A header line the codec refuses: the frame is answered 400
		// (whatever its Failure-Report) and not forwarded.
		hdrs = append(hdrs, "Bad Header Line")
		r.malformed = true
		r.owed = owedMay
	}
	// Shuffle the headers after From-Path now and then (Byte-Range
	// anywhere).
	if len(hdrs) > 3 && p.byte()%2 == 0 {
		i, j := 2+p.intn(len(hdrs)-2), 2+p.intn(len(hdrs)-2)
		hdrs[i], hdrs[j] = hdrs[j], hdrs[i]
	}
	if p.byte()%16 == 0 {
		hdrs[0], hdrs[1] = hdrs[1], hdrs[0]
	}
	if rng != "" && p.byte()%16 == 0 {
		// A second Byte-Range: the codec reads the first.
		hdrs = append(hdrs, "Byte-Range: 1-1/1")
	}
	style := p.byte()
	for _, x := range hdrs {
		h = sfHeaderLine(h, x, style)
	}
	if r.hasBody {
		h = append(h, "\r\n"...)
		h = append(h, r.body...)
		h = append(h, "\r\n"...)
	}
	h = append(h, "-------"+r.tid...)
	h = append(h, r.flag, '\r', '\n')
	split := 0
	if p.byte()%8 == 0 {
		split = 1 + p.intn(len(h)-1)
	}
	m.record(sc, r)
	m.write(sc, h, split)
	r.end = sc.written + int64(len(sc.tail))
	m.logf("c%d SEND %s %s to=%q from=%q body=%d range=%q fr=%q flag=%c bodyless=%v kind=%d split=%d end=%d",
		sc.n, r.tid, r.msgID, to, from, n, rng, frc.hdr, r.flag, bodyless, bodyKind%4, split, r.end)
	r.kind = kind
}

// sfHeaderLine writes one header line in one of the spellings the codec
// takes: names in any case, blanks around the value, a tab between URIs.
func sfHeaderLine(dst []byte, line string, style byte) []byte {
	name, value, _ := strings.Cut(line, ": ")
	if style%8 == 1 {
		name = strings.ToLower(name)
	}
	if style%8 == 2 {
		value = " \t" + value + " "
	}
	if style%8 == 3 && (name == "To-Path" || name == "From-Path") {
		value = strings.ReplaceAll(value, " ", "\t")
	}
	dst = append(dst, name...)
	dst = append(dst, ": "...)
	dst = append(dst, value...)
	return append(dst, "\r\n"...)
}

// opOther writes a request other than SEND and AUTH.
func (m *sfModel) opOther(p *sfProg, method string) {
	sc := m.pickWriter(p)
	if sc == nil {
		return
	}
	to, from, _ := m.paths(p, sc)
	r := &sfReq{tid: sc.newTID(p), method: method, msgID: m.newMsgID(sc), toPath: to, fromPath: from, owed: owedMust}
	if method == "REPORT" {
		r.owed = owedNot
	}
	var h []byte
	h = fmt.Appendf(h, "MSRP %s %s\r\nTo-Path: %s\r\nFrom-Path: %s\r\nMessage-ID: %s\r\n", r.tid, method, to, from, r.msgID)
	if method == "REPORT" {
		h = append(h, "Byte-Range: 1-10/10\r\nStatus: 000 200 OK\r\n"...)
	}
	r.flag = '$'
	switch p.byte() % 4 {
	case 1:
		n := p.intn(300)
		if p.byte()%8 == 0 {
			n = 10000 + p.intn(400) // around MaxNonSendBody
		}
		r.body = m.sfBody(p, r.msgID, 1, n, p.byte()%2*2, true)
		r.hasBody = true
		h = append(h, "Content-Type: text/plain\r\n\r\n"...)
		h = append(h, r.body...)
		h = append(h, "\r\n"...)
		if n > codec.DefaultMaxNonSendBody {
			// Too large: the relay closes the connection.
			r.owed = owedMay
			sc.doomed = true
		}
	}
	h = append(h, "-------"+r.tid+"$\r\n"...)
	m.record(sc, r)
	m.write(sc, h, 0)
	r.end = sc.written
	m.logf("c%d %s %s %s to=%q from=%q body=%d", sc.n, method, r.tid, r.msgID, to, from, len(r.body))
}

// opMisc writes frames that break the stream or the rules.
func (m *sfModel) opMisc(p *sfProg) {
	sc := m.pickWriter(p)
	if sc == nil {
		return
	}
	switch p.byte() % 6 {
	case 0:
		// A lower-case method: the stream cannot be trusted; closed.
		m.write(sc, []byte("MSRP x1y2 send\r\nTo-Path: a\r\nFrom-Path: b\r\n-------x1y2$\r\n"), 0)
		sc.doomed = true
		m.logf("c%d garbage start line", sc.n)
	case 1:
		// Missing From-Path: delimited, nobody to answer.
		r := &sfReq{tid: sc.newTID(p), method: "NICKNAME", owed: owedMay, malformed: true}
		m.record(sc, r)
		m.write(sc, fmt.Appendf(nil, "MSRP %s NICKNAME\r\nTo-Path: %s\r\n-------%s$\r\n", r.tid, sfRelayURI, r.tid), 0)
		r.end = sc.written
		m.logf("c%d NICKNAME %s without From-Path", sc.n, r.tid)
	case 2:
		// A response to nothing.
		m.write(sc, []byte("MSRP zz99zz 200 OK\r\nTo-Path: "+sfRelayURI+"\r\nFrom-Path: "+sc.uri+"\r\n-------zz99zz$\r\n"), 0)
		m.logf("c%d response to nothing", sc.n)
	case 3:
		// A stalled frame goes on.
		for _, x := range m.conns {
			if len(x.tail) > 0 && !x.closed {
				m.resumeTail(x)
				m.logf("c%d resumes its stalled frame", x.n)
				break
			}
		}
	case 4:
		// The peer dies in the middle of a frame header.
		m.write(sc, []byte("MSRP abcd SEND\r\nTo-Pa"), 0)
		sc.doomed = true
		m.logf("c%d truncated header", sc.n)
	default:
		// A frame whose body never ends (the peer stops writing).
		r := &sfReq{tid: sc.newTID(p), method: "SEND", owed: owedMay, malformed: true, fromPath: sc.from, end: 1 << 62}
		m.record(sc, r)
		m.write(sc, []byte("MSRP "+r.tid+" SEND\r\nTo-Path: "+sfRelayURI+"\r\nFrom-Path: "+sc.from+"\r\n\r\nxyz"), 0)
		sc.doomed = true
		m.logf("c%d unterminated body", sc.n)
	}
}

// ---- the driver

func (m *sfModel) feedSize(p *sfProg) int {
	switch p.byte() % 6 {
	case 0:
		return 1 + p.intn(16)
	case 1:
		return 1 + p.intn(512)
	case 2:
		return 1 + p.intn(8192)
	case 3:
		return 1 + p.intn(65536)
	case 4:
		return 256 << 10
	default:
		return 1 << 30
	}
}

func (m *sfModel) opFeed(p *sfProg) {
	sc := m.pickConn(p)
	if sc == nil {
		return
	}
	k := m.feedSize(p)
	m.logf("c%d feed %d (sock %d rbuf %d paused %v)", sc.n, k, len(sc.sock), len(sc.rbuf), sc.c.Paused())
	m.feed(sc, k)
}

// feed reads up to k bytes into the driver's buffer and hands it to
// Receive, as a driver does on a read event.
func (m *sfModel) feed(sc *sfConn, k int) bool {
	if sc.closed || sc.l.closeReq || sc.c.Paused() {
		return false
	}
	// The driver's read buffer is 256 KiB (gnet's).
	k = min(k, len(sc.sock), max(sfReadBuf-len(sc.rbuf), 0))
	sc.rbuf = append(sc.rbuf, sc.sock[:k]...)
	sc.sock = sc.sock[k:]
	if len(sc.sock) == 0 {
		sc.sock = nil
	}
	if len(sc.rbuf) == 0 {
		return false
	}
	return m.receive(sc)
}

// receive calls Receive with the driver's unconsumed bytes. It reports
// whether any were consumed.
func (m *sfModel) receive(sc *sfConn) bool {
	if sc.c.Paused() {
		m.fail("c%d: the driver would call Receive on a paused connection", sc.n)
	}
	sc.l.resume = false
	buf := append([]byte(nil), sc.rbuf...)
	n, err := sc.c.Receive(&m.w, buf)
	// The buffer is the driver's again: the relay must keep nothing of it.
	for i := range buf {
		buf[i] = 'Z'
	}
	if n < 0 || n > len(buf) {
		m.fail("c%d: Receive consumed %d of %d", sc.n, n, len(buf))
	}
	sc.consumed += int64(n)
	sc.rbuf = append(sc.rbuf[:0], sc.rbuf[n:]...)
	m.logf("  c%d Receive %d of %d, paused %v err %v", sc.n, n, len(buf), sc.c.Paused(), err)
	if sc.c.Paused() {
		sfCount("receive paused")
	}
	if err != nil {
		sfCount("receive error")
	}
	if err != nil {
		sc.errored = true
		sc.l.closeReq = true
		return n > 0
	}
	if n < len(buf) && !sc.c.Paused() && !sc.l.closeReq && !sc.c.closed.Load() {
		// What is left must be the start of a frame that needs more
		// bytes: a driver now waits for the socket, and a frame the
		// relay could have handled would wait with it (forever, if
		// the peer waits for its answer).
		again := append([]byte(nil), sc.rbuf...)
		rest := string(again[:min(len(again), 300)])
		var mode inMode
		if sc.c.in != nil {
			mode = sc.c.in.cur.mode
		}
		n2, err2 := sc.c.Receive(&m.w, again)
		for i := range again {
			again[i] = 'Z'
		}
		if n2 > 0 {
			m.fail("c%d: Receive returned %d of %d bytes unconsumed, not paused, but a second call consumed %d (err %v): a driver would stall\ninbound mode %d, rest %q",
				sc.n, len(buf)-n, len(buf), n2, err2, mode, rest)
		}
	}
	return n > 0
}

// flushMode says how much of each Flush the fake socket takes.
func (m *sfModel) flush(sc *sfConn, take, send byte) bool {
	if sc.closed || sc.l.closeReq || sc.c.link.Load() == nil {
		return false
	}
	sc.l.wake = false
	var out []byte
	moved := false
	again := sc.c.FlushMessages(func(b []byte, ends []int) (int, int) {
		if !sc.ws && ends != nil {
			m.fail("c%d: frame ends for a connection that is not WebSocket", sc.n)
		}
		n := len(b)
		switch take % 4 {
		case 1:
			n = int(uint(take) * 131 % uint(len(b)+1))
		case 2:
			n = min(n, 1)
		case 3:
			n = 0
		}
		sc.kernel = append(sc.kernel, b[:n]...)
		for _, e := range ends {
			if e <= n {
				sc.ends = append(sc.ends, sc.taken+int64(e))
			}
		}
		sc.taken += int64(n)
		s := len(sc.kernel)
		switch send % 3 {
		case 1:
			s /= 2
		case 2:
			s = 0
		}
		out = append(out, sc.kernel[:s]...)
		sc.kernel = append(sc.kernel[:0], sc.kernel[s:]...)
		moved = n > 0 || s > 0
		return n, len(sc.kernel)
	})
	sc.again = again
	m.logf("  c%d Flush take %d send %d: wire %d kernel %d again %v", sc.n, take%4, send%3, len(out), len(sc.kernel), again)
	m.toPeer(sc, out)
	return moved
}

func (m *sfModel) opFlush(p *sfProg) {
	sc := m.pickConn(p)
	if sc == nil {
		return
	}
	take, send := p.byte(), p.byte()
	m.logf("c%d flush", sc.n)
	m.flush(sc, take, send)
}

// drainKernel puts what the driver holds on the wire and tells the relay.
func (m *sfModel) drainKernel(sc *sfConn, all bool) bool {
	if sc.closed || sc.l.closeReq || sc.c.link.Load() == nil {
		return false
	}
	s := len(sc.kernel)
	if !all {
		s = (s + 1) / 2
	}
	out := append([]byte(nil), sc.kernel[:s]...)
	sc.kernel = append(sc.kernel[:0], sc.kernel[s:]...)
	waiting := sc.c.Drained(len(sc.kernel))
	if waiting {
		sc.again = true
	}
	m.toPeer(sc, out)
	return s > 0
}

func (m *sfModel) opKernel(p *sfProg) {
	sc := m.pickConn(p)
	if sc == nil {
		return
	}
	all := p.byte()%2 == 0
	m.logf("c%d kernel drains (all %v, %d held)", sc.n, all, len(sc.kernel))
	m.drainKernel(sc, all)
}

// opPump is the driver's event loop for one round: closes, resumes,
// wakes and re-checks.
func (m *sfModel) opPump(p *sfProg) {
	m.logf("pump")
	mode := p.byte()
	for _, sc := range m.conns {
		m.pumpOne(sc, mode, false)
	}
}

func (m *sfModel) pumpOne(sc *sfConn, mode byte, full bool) bool {
	progress := false
	if sc.closed {
		return false
	}
	if sc.l.closeReq {
		m.processCloses()
		return true
	}
	if sc.l.resume && !sc.c.Paused() && len(sc.rbuf) > 0 {
		progress = m.receive(sc) || progress
	}
	if sc.l.wake || sc.again || full {
		if full {
			progress = m.flush(sc, 0, 0) || progress
		} else {
			progress = m.flush(sc, mode, mode>>2) || progress
		}
	}
	if full && len(sc.kernel) > 0 {
		progress = m.drainKernel(sc, true) || progress
	}
	if full && !sc.c.Paused() && (len(sc.sock) > 0 || len(sc.rbuf) > 0) {
		before := sc.consumed
		m.feed(sc, 1<<30)
		progress = progress || sc.consumed != before
	}
	return progress
}

func (m *sfModel) opTick(p *sfProg) {
	d := []time.Duration{0, time.Second, time.Second, 5 * time.Second, 5 * time.Second, 10 * time.Second,
		29 * time.Second, 31 * time.Second, 61 * time.Second, 31 * time.Minute, 2*time.Hour + time.Minute}[p.byte()%11]
	m.clk.t = m.clk.t.Add(d)
	m.logf("tick +%v", d)
	m.r.Tick(&m.w)
}

func (m *sfModel) opClose(p *sfProg) {
	sc := m.pickConn(p)
	if sc == nil || p.byte()%2 == 0 {
		return
	}
	m.logf("c%d closed by its peer (paused %v, rbuf %d)", sc.n, sc.c.Paused(), len(sc.rbuf))
	m.closeConn(sc)
}

func (m *sfModel) closeConn(sc *sfConn) {
	if sc.closed {
		return
	}
	sc.closed = true
	sc.c.Closed(&m.w)
}

// processCloses closes what the relay asked to close (drivers close on
// their own loop, after the call that asked).
// It reports whether it closed any: a close queues answers and REPORTs
// for others, which must then be pumped.
func (m *sfModel) processCloses() (closed bool) {
	for again := true; again; {
		again = false
		for _, sc := range m.conns {
			if sc.l.closeReq && !sc.closed {
				m.logf("  c%d closed as the relay asked", sc.n)
				sfCount("closed by relay")
				m.closeConn(sc)
				again, closed = true, true
			}
		}
	}
	return closed
}

func (m *sfModel) opDial(p *sfProg) {
	if len(m.dials) == 0 {
		return
	}
	m.dialDone(p.intn(len(m.dials)), p.byte()%4 == 0)
}

// dialDone ends the i-th pending dial: it fails or its connection opens.
func (m *sfModel) dialDone(i int, fail bool) {
	d := m.dials[i]
	m.dials = append(m.dials[:i], m.dials[i+1:]...)
	if fail {
		m.logf("dial %s fails", d.host)
		d.c.DialFailed(fmt.Errorf("refused"))
		return
	}
	n := len(m.conns)
	sc := &sfConn{m: m, n: n, c: d.c, reqs: map[string]*sfReq{}, relay: true, host: d.host}
	sc.uri = fmt.Sprintf("msrp://%s/r%d;tcp", d.host, n)
	sc.from = sc.uri + " msrp://farclient.example.net:9/fc;tcp"
	sc.l = &sfLink{sc: sc}
	m.conns = append(m.conns, sc)
	if d.c.closed.Load() {
		sc.closed = true
		m.logf("dial %s done, but its conn is closed already", d.host)
		return
	}
	m.logf("dial %s attached as c%d", d.host, n)
	sfCount("dial attached")
	d.c.Attach(sc.l, PeerInfo{RelayNames: []string{strings.Split(d.host, ":")[0]}})
}

// opRespond answers a request the peer received, or forgets it.
func (m *sfModel) opRespond(p *sfProg) {
	sc := m.pickWriter(p)
	if sc == nil || len(sc.inbox) == 0 {
		return
	}
	i := p.intn(len(sc.inbox))
	in := sc.inbox[i]
	sc.inbox = append(sc.inbox[:i], sc.inbox[i+1:]...)
	v := p.byte() % 16
	if v == 15 {
		m.logf("c%d forgets %s %s", sc.n, in.method, in.tid)
		return
	}
	code := []int{200, 200, 200, 200, 200, 200, 400, 403, 408, 413, 415, 481, 501, 506, 200}[v]
	to := in.from
	if in.method == "SEND" {
		to, _ = sfNext(in.from)
	}
	if p.byte()%8 == 0 {
		// A response the relay cannot route back.
		to = "msrp://nowhere.example.org:9/x;tcp"

	}
	var h []byte
	h = fmt.Appendf(h, "MSRP %s %d %s\r\nTo-Path: %s\r\nFrom-Path: %s\r\n-------%s$\r\n", in.tid, code, "Whatever", to, sc.uri, in.tid)
	m.write(sc, h, 0)
	m.logf("c%d answers %s %s with %d (to %q)", sc.n, in.method, in.tid, code, to)
}

func sfNext(path string) (string, string) {
	f, r := codec.NextURI([]byte(path))
	return string(f), string(r)
}

// ---- after every step

func (m *sfModel) endStep() {
	m.processCloses()
	for _, c := range m.allConns {
		if c.closed.Load() {
			continue
		}
		if s, h := c.out.size.Load(), c.out.held.Load(); s < 0 || h < 0 {
			m.fail("conn %d: negative backlog: size %d held %d", c.id, s, h)
		}
	}
	// A driver flushes when woken or when its last Flush asked to be
	// called again, and at no other time: bytes queued or senders
	// waiting without either would wait forever.
	for _, sc := range m.conns {
		if sc.closed || sc.l.closeReq || sc.c.link.Load() == nil || sc.l.wake || sc.again {
			continue
		}
		o := &sc.c.out
		o.mu.Lock()
		pending, waiters := o.pending != nil && len(o.pending.B) > 0, len(o.waiters)
		o.mu.Unlock()
		if pending {
			m.fail("c%d: %d bytes queued, but no Wake since the last Flush (which did not ask to be called again)\n%s", sc.n, len(o.pending.B), m.dump())
		}
		if waiters > 0 {
			m.fail("c%d: %d senders wait for it to drain, but no Wake since the last Flush (which did not ask to be called again)\n%s", sc.n, waiters, m.dump())
		}
	}
}

// ---- the end

// needsTime reports whether a timer must run for things to settle.
func (m *sfModel) needsTime() bool {
	for _, c := range m.allConns {
		if c.closed.Load() {
			continue
		}
		c.sessMu.Lock()
		delayed := len(c.delayed)
		c.sessMu.Unlock()
		c.out.mu.Lock()
		behind := c.out.open != nil && len(c.out.queue) > 0
		behind = behind || len(c.out.acks) > 0
		c.out.mu.Unlock()
		if c.out.txns.len() > 0 || delayed > 0 || c.Paused() || behind {
			return true
		}
	}
	return false
}

// settle reads and writes everything there is, then lets time pass until
// no transaction is left waiting.
func (m *sfModel) settle() {
	for round := 0; round < 30; round++ {
		// Dials end: the dialer's own timeout at the latest.
		for len(m.dials) > 0 {
			m.dialDone(0, false)
		}
		for i := 0; i < 1000; i++ {
			progress := false
			for _, sc := range m.conns {
				progress = m.pumpOne(sc, 0, true) || progress
			}
			progress = m.processCloses() || progress
			if !progress {
				break
			}
		}
		if !m.needsTime() {
			return
		}
		m.clk.t = m.clk.t.Add(m.txTimeout + 2*time.Second)
		m.logf("settle: tick +%v", m.txTimeout+2*time.Second)
		m.r.Tick(&m.w)
		m.processCloses()
	}
}

// dump describes every connection's outbound side, for failures.
func (m *sfModel) dump() string {
	var b strings.Builder
	name := map[*Conn]string{}
	for _, sc := range m.conns {
		name[sc.c] = "c" + strconv.Itoa(sc.n)
	}
	for _, c := range m.allConns {
		o := &c.out
		o.mu.Lock()
		var ws []string
		for _, w := range o.waiters {
			ws = append(ws, name[w.(*Conn)])
		}
		fmt.Fprintf(&b, "%s (conn %d): closed %v paused %v size %d held %d txns %d queue %d open %v waiters %v\n",
			name[c], c.id, c.closed.Load(), c.Paused(), o.size.Load(), o.held.Load(), o.txns.len(), len(o.queue), o.open != nil, ws)
		for i, it := range append([]outItem{{st: o.open}}, o.queue...) {
			if st := it.st; st != nil {
				var f codec.Frame
				msg := "?"
				if st.hdr != nil {
					if _, err := f.Parse(st.hdr.B, &sfLimits, nil); err == nil || err != codec.ErrNeedMore {
						msg = string(f.MessageID())
					}
				}
				fmt.Fprintf(&b, "    stream %d (%s): tid %s pieces %d chunkBody %d sentDone %d received %d headerOut %v queued %v ended %v done %v wait %d\n",
					i, msg, st.tid.bytes(), st.pieces, st.chunkBody, st.sentDone, st.received, st.headerOut, st.queued, st.ended, st.done, len(st.wait.B))
			} else if it.buf != nil {
				fmt.Fprintf(&b, "    frame %d: %d bytes\n", i, len(it.buf.B))
			}
		}
		o.mu.Unlock()
	}
	return b.String()
}

func (m *sfModel) stalled() bool {
	for _, sc := range m.conns {
		if !sc.closed && (len(sc.tail) > 0 || sc.doomed) {
			return true
		}
	}
	return false
}

func (m *sfModel) checkSettled() {
	stalled := m.stalled()
	for _, sc := range m.conns {
		if sc.closed {
			continue
		}
		c := sc.c
		if c.Paused() {
			m.fail("c%d still paused after everything drained\n%s", sc.n, m.dump())
		}
		if !stalled && c.out.backlog() != 0 {
			m.fail("c%d: backlog %d after everything was written\n%s", sc.n, c.out.backlog(), m.dump())
		}
		if !stalled && c.out.txns.len() != 0 {
			m.fail("c%d: %d transactions left after every timeout", sc.n, c.out.txns.len())
		}
		if !stalled && c.window.inflight.Load() != 0 {
			m.fail("c%d: %d window bytes still counted after every transaction ended", sc.n, c.window.inflight.Load())
		}
		c.out.mu.Lock()
		acks := len(c.out.acks)
		c.out.mu.Unlock()
		if !stalled && acks != 0 {
			m.fail("c%d: %d hop-by-hop 200s still held after everything drained", sc.n, acks)
		}
		if len(sc.sock) > 0 {
			m.fail("c%d: %d bytes never read", sc.n, len(sc.sock))
		}
		for _, r := range sc.order {
			m.checkAnswered(sc, r)
		}
	}
	for _, r := range m.reqs {
		if r.method == "SEND" {
			m.checkDelivered(r)
		}
	}
}

func (m *sfModel) checkAnswered(sc *sfConn, r *sfReq) {
	if sc.consumed < r.end {
		return
	}
	switch r.owed {
	case owedMust:
		if r.answers != 1 {
			m.fail("c%d: %s %s (%s) got %d answers %v, want exactly one (to %q)", sc.n, r.method, r.tid, r.msgID, r.answers, r.codes, r.toPath)
		}
	case owedNot:
		if r.answers != 0 {
			m.fail("c%d: %s %s got %d answers %v, want none", sc.n, r.method, r.tid, r.answers, r.codes)
		}
	}
}

// checkDelivered: a SEND whose sender asked for failure reports (yes)
// and saw its end-line consumed has each byte delivered or reported
// failed; one whose pieces reached a connection still open arrived
// whole, with the sender's flag (or '#' if the sender went away).
func (m *sfModel) checkDelivered(r *sfReq) {
	n := int64(len(r.body))
	done := r.from.consumed >= r.end
	if r.malformed || r.rangeLie {
		return
	}
	if r.fr == codec.ReportYes && done && !r.from.closed && r.answers == 1 && r.codes[0] == 200 {
		covered := make([]bool, n)
		for i := int64(0); i < r.delivered; i++ {
			covered[i] = true
		}
		for _, x := range r.reported {
			for i := max(x[0], 0); i < min(x[1], n); i++ {
				covered[i] = true
			}
		}
		for i, ok := range covered {
			if !ok {
				m.fail("c%d: SEND %s (%s, %d bytes, fr yes): byte %d neither delivered (%d in %d pieces to %s) nor reported failed (%v)\n%s",
					r.from.n, r.tid, r.msgID, n, i, r.delivered, r.pieces, r.toName(), r.reported, m.dump())
			}
		}
		if n == 0 && r.pieces == 0 && len(r.reported) == 0 && !r.hasReportFor() {
			m.fail("c%d: empty SEND %s (%s, fr yes) acknowledged but neither delivered nor reported", r.from.n, r.tid, r.msgID)
		}
	}
	if r.to != nil && !r.to.closed && !m.stalled() {
		switch {
		case done && !r.from.closed || done && r.from.closed && r.lastFlag != '#':
			if r.delivered != n || r.lastFlag != r.flag {
				m.fail("c%d: SEND %s (%s) to c%d: %d of %d bytes delivered, last flag %q, sender's %q",
					r.from.n, r.tid, r.msgID, r.to.n, r.delivered, n, r.lastFlag, r.flag)
			}
		case r.from.closed:
			if r.lastFlag != '#' {
				m.fail("c%d: SEND %s (%s) to c%d: sender closed mid-chunk, last piece flag %q, want '#'",
					r.from.n, r.tid, r.msgID, r.to.n, r.lastFlag)
			}
		}
	}
}

func (r *sfReq) toName() string {
	if r.to == nil {
		return "nobody"
	}
	return "c" + strconv.Itoa(r.to.n)
}

func (r *sfReq) hasReportFor() bool { return len(r.reported) > 0 }

func (m *sfModel) teardown() {
	for len(m.dials) > 0 {
		d := m.dials[0]
		m.dials = m.dials[1:]
		d.c.DialFailed(fmt.Errorf("teardown"))
	}
	for _, sc := range m.conns {
		m.closeConn(sc)
	}
	m.processCloses()
	r := m.r
	if n := r.Sessions(); n != 0 {
		m.fail("%d sessions left after every connection closed", n)
	}
	if n := r.Conns(); n != 0 {
		m.fail("%d connections left in the relay's table", n)
	}
	r.hopsMu.Lock()
	hops := len(r.hops)
	r.hopsMu.Unlock()
	if hops != 0 {
		m.fail("%d next hops left", hops)
	}
	for _, c := range m.allConns {
		if !c.closed.Load() {
			m.fail("conn %d never closed", c.id)
		}
		o := &c.out
		o.mu.Lock()
		pending, queue, open, waiters := o.pending != nil, len(o.queue), o.open != nil, len(o.waiters)
		o.mu.Unlock()
		if o.txns.len() != 0 || o.size.Load() != 0 || pending || queue != 0 || open || waiters != 0 {
			m.fail("conn %d left: %d txns, size %d, pending %v, queue %d, open stream %v, waiters %d",
				c.id, o.txns.len(), o.size.Load(), pending, queue, open, waiters)
		}
		if c.in != nil || c.midFrame.Load() {
			m.fail("conn %d keeps inbound state after Closed", c.id)
		}
		c.sessMu.Lock()
		owned, bound := len(c.owned), len(c.bound)
		c.sessMu.Unlock()
		if owned != 0 || bound != 0 {
			m.fail("conn %d keeps %d owned and %d bound sessions", c.id, owned, bound)
		}
	}
}

// ---- entry points

// sfRandomProgram is a program for TestRelayRandom and the seed corpus.
func sfRandomProgram(seed uint64, n int) []byte {
	rng := rand.New(rand.NewPCG(seed, seed^0x5f5f))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	// Open three connections and AUTH each (right password), then read
	// and flush, so that most programs have sessions to talk through.
	// (Slots: 0 open, 1 AUTH, 12 feed, 18 flush; see sfOps.)
	head := []byte{b[0], 0, 1, 0, 1, 0, 1}
	for i := byte(0); i < 3; i++ {
		head = append(head, 1, i, 1, 1, i%2, 0)
	}
	for i := byte(0); i < 3; i++ {
		head = append(head, 12, i, 5, 18, i, 0, 0)
	}
	return append(head, b[1:]...)
}

// TestRelayRandom runs random programs with fixed seeds (about 3 s with
// -race); MSRP_SF_SEEDS=n runs n of them.
func TestRelayRandom(t *testing.T) {
	n := 30
	if testing.Short() {
		n = 10
	}
	if s, err := strconv.Atoi(os.Getenv("MSRP_SF_SEEDS")); err == nil {
		n = s
	}
	for seed := uint64(1); seed <= uint64(n); seed++ {
		prog := sfRandomProgram(seed, 1500)
		ok := t.Run(fmt.Sprintf("seed%d", seed), func(t *testing.T) { sfRun(t, prog) })
		if !ok {
			break
		}
	}
	if os.Getenv("MSRP_SF_STATS") != "" {
		keys := make([]string, 0, len(sfStats))
		for k := range sfStats {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			t.Logf("%-30s %d", k, sfStats[k])
		}
	}
}

func FuzzRelay(f *testing.F) {
	for seed := uint64(100); seed < 116; seed++ {
		f.Add(sfRandomProgram(seed, 600))
	}
	f.Fuzz(func(t *testing.T, prog []byte) {
		if len(prog) > 8<<10 {
			return
		}
		sfRun(t, prog)
	})
}
