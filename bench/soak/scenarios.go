package soak

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Kind is a scenario.
type Kind int

const (
	Chat Kind = iota
	File
	Slow
	SenderDrop
	ReceiverDrop
	AuthFail
	numKinds
)

var kindNames = [numKinds]string{"chat", "file", "slow", "sender-drop", "receiver-drop", "auth-fail"}

func (k Kind) String() string { return kindNames[k] }

// Mix is how often actors pick each scenario (relative weights).
type Mix [numKinds]int

// DefaultMix is the mix of a soak run.
var DefaultMix = Mix{Chat: 30, File: 15, Slow: 10, SenderDrop: 15, ReceiverDrop: 15, AuthFail: 15}

// ParseMix reads "chat=3,file=1,...": the scenarios named, with these
// weights; the others are left out.
func ParseMix(v string) (Mix, error) {
	var m Mix
	tot := 0
	for _, f := range strings.Split(v, ",") {
		name, w, ok := strings.Cut(strings.TrimSpace(f), "=")
		n, err := strconv.Atoi(w)
		if !ok || err != nil || n < 0 {
			return m, fmt.Errorf("mix %q: want name=weight,...", v)
		}
		k := slices.Index(kindNames[:], name)
		if k < 0 {
			return m, fmt.Errorf("mix: unknown scenario %q (want %s)", name, strings.Join(kindNames[:], ", "))
		}
		m[k] = n
		tot += n
	}
	if tot == 0 {
		return m, fmt.Errorf("mix %q: no scenario", v)
	}
	return m, nil
}

func (m *Mix) pick(rng *rand.Rand) Kind {
	tot := 0
	for _, w := range m {
		tot += w
	}
	x := rng.IntN(tot)
	for k, w := range m {
		if x < w {
			return Kind(k)
		}
		x -= w
	}
	return Chat
}

const (
	fileChunk    = 64 << 10
	sceneTimeout = 90 * time.Second
	// drainTimeout bounds every wait for answers and REPORTs: longer than
	// the relay's 30 s transaction timeout, so a missing answer is the
	// relay's, not a timer's.
	drainTimeout = 40 * time.Second
)

// runScenario runs one scenario; a panic in it is a bug of the soak tool,
// recorded as a failure.
func (r *runner) runScenario(ctx context.Context, k Kind, rng *rand.Rand) {
	defer func() {
		if p := recover(); p != nil {
			r.fail("soak-bug", fmt.Sprintf("%s: panic: %v", k, p))
		}
	}()
	r.stats.scen[k].Add(1)
	timeout := sceneTimeout
	if k == AuthFail {
		timeout = 30 * time.Second
	}
	s := r.newScene(k.String(), timeout)
	began := time.Now()
	defer func() {
		d := int64(time.Since(began))
		for {
			old := r.stats.longest[k].Load()
			if d <= old || r.stats.longest[k].CompareAndSwap(old, d) {
				break
			}
		}
		if os.Getenv("SOAK_DEBUG") != "" && d > int64(10*time.Second) {
			s.mu.Lock()
			fmt.Fprintf(r.cfg.Out, "debug: %s took %v: %s\n", k, time.Duration(d), strings.Join(s.notes, "; "))
			s.mu.Unlock()
		}
	}()
	defer func() {
		s.closeAll()
		s.note("closed")
	}()
	switch k {
	case Chat:
		s.chat(ctx, rng)
	case File, Slow:
		s.file(ctx, rng, k == Slow)
	case SenderDrop:
		s.senderDrop(ctx, rng)
	case ReceiverDrop:
		s.receiverDrop(ctx, rng)
	case AuthFail:
		s.authFail(ctx, rng)
	}
}

// setupFail records a failure to connect or authenticate.
func (s *scene) setupFail(err error) {
	s.fail("setup", "%v", err)
}

// pair sets up bob (AUTHed: the session's client) and alice; with shared,
// alice AUTHs as well and her To-Path goes through both sessions. Each
// connection is TLS or TCP at random.
func (s *scene) pair(rng *rand.Rand) (alice, bob *endpoint, toPath string, err error) {
	pw := s.r.relay.password
	if bob, err = s.dial("bob", rng.IntN(2) == 0); err != nil {
		return
	}
	expires := 0
	if rng.IntN(2) == 0 {
		expires = 300 // a hard limit, well beyond the scene
	}
	if bob.use, err = bob.auth(bob.relayURI, pw, expires); err != nil {
		err = fmt.Errorf("bob: %w", err)
		return
	}
	s.note("bob ready")
	if alice, err = s.dial("alice", rng.IntN(2) == 0); err != nil {
		return
	}
	toPath = bob.use + " " + bob.uri
	if rng.IntN(2) == 0 {
		if alice.use, err = alice.auth(alice.relayURI, pw, 0); err != nil {
			err = fmt.Errorf("alice: %w", err)
			return
		}
		toPath = alice.use + " " + toPath
	}
	return
}

// settled: every chunk is answered and the message's fate is known (with
// s.mu held). A success REPORT may overtake its SEND's 200: both are
// awaited.
func (m *txMsg) settled() bool {
	return m.unanswered() == 0 && (m.success || len(m.failed) > 0 || m.refused > 0)
}

// check accounts for message m sent by from to to once everything
// settled (s.mu held). healthy: both ends stayed up, so any refusal or
// failure REPORT is a failure. It returns whether m arrived whole.
func (s *scene) checkMsg(m *txMsg, from, to *endpoint, wantSuccess, healthy bool) bool {
	if n := m.unanswered(); n > 0 {
		s.fail("unanswered", "%s: %d of %d chunks of %s (%d bytes) never answered (success REPORT %v); steps: %s; state: %s",
			from.name, n, len(m.chunks), m.id, m.total, m.success, strings.Join(s.notes, "; "), s.stateAll())
	}
	if healthy && m.refused > 0 {
		s.fail("refused", "%s: chunks of %s answered %v", from.name, m.id, m.refusals)
	}
	if healthy && len(m.failed) > 0 {
		s.fail("report", "%s: failure REPORT %q for %s (%d bytes) between healthy endpoints", from.name, m.status, m.id, m.total)
	}
	got := to.received(m.id)
	if c, lost := m.lostChunk(got); lost {
		s.fail("lost", "%s -> %s: %s bytes %d-%d of %d accepted (200) but never arrived whole, no failure REPORT (received %v, reported %v)",
			from.name, to.name, m.id, c.first, c.last, m.total, got, m.failed)
	}
	rx := to.rx[m.id]
	delivered := rx != nil && rx.complete
	if delivered && wantSuccess && !m.success {
		s.fail("report-lost", "%s: %s arrived whole but its success REPORT never came back", from.name, m.id)
	}
	return delivered
}

// writeFail records a sender that could not write its message: the relay
// stopped reading it (a write times out at the scene's deadline) or closed
// it (then unexpectedClose says so too).
func (s *scene) writeFail(ep *endpoint, err error) {
	s.fail("write", "%s: writing: %v (steps: %s)", ep.name, err, strings.Join(s.notes, "; "))
}

// unexpectedClose flags an endpoint the relay closed although this side
// never closed it.
func (s *scene) unexpectedClose(eps ...*endpoint) {
	for _, ep := range eps {
		if ep.closed && !ep.closing {
			s.fail("closed", "%s: the relay closed the connection: %v", ep.name, ep.readErr)
		}
	}
}

// refresh AUTHs to ep's own session URI: 200 with the same Use-Path.
func (s *scene) refresh(ep *endpoint, rng *rand.Rand) {
	expires := 0
	if rng.IntN(2) == 0 {
		expires = 600
	}
	use, err := ep.auth(ep.use, s.r.relay.password, expires)
	switch {
	case err != nil:
		s.fail("refresh", "%s: refresh AUTH: %v", ep.name, err)
	case use != ep.use:
		s.fail("refresh", "%s: refresh gave Use-Path %q, want %q", ep.name, use, ep.use)
	default:
		s.r.stats.refreshes.Add(1)
	}
}

// chat: alice sends small messages with Success-Report yes, a window of
// them in flight; bob answers each arrival with one of his own; half the
// chats refresh their sessions half-way.
func (s *scene) chat(ctx context.Context, rng *rand.Rand) {
	alice, bob, toPath, err := s.pair(rng)
	if err != nil {
		s.setupFail(err)
		return
	}
	n := 10 + rng.IntN(41)
	window := 1 + rng.IntN(4)
	refreshAt := -1
	if rng.IntN(2) == 0 {
		refreshAt = n / 2
	}
	stopped := false
	replied := 0
	repDone := make(chan struct{})
	rrng := rand.New(rand.NewPCG(rng.Uint64(), 1))
	s.note("chat n=%d window=%d refresh=%v", n, window, refreshAt >= 0)
	go func() { // bob's replies
		defer close(repDone)
		for {
			var id, from string
			s.wait(s.deadline, func() bool { return stopped || bob.closed || len(bob.inbox) > 0 })
			s.mu.Lock()
			if len(bob.inbox) > 0 && !stopped {
				id, bob.inbox = bob.inbox[0], bob.inbox[1:]
				from = bob.rx[id].fromPath
			}
			s.mu.Unlock()
			if id == "" {
				return
			}
			m := bob.newTx(20 + rrng.Int64N(1981))
			if err := bob.send(m, sendOpts{toPath: from, successReport: true, chunk: 1 << 20, dropChunk: -1}); err != nil {
				return
			}
			s.mu.Lock()
			replied++
			s.notifyLocked()
			s.mu.Unlock()
		}
	}()
	var sent []*txMsg
	for i := 0; i < n && ctx.Err() == nil; i++ {
		open := s.wait(time.Now().Add(drainTimeout), func() bool {
			busy := 0
			for _, m := range sent {
				if !m.settled() {
					busy++
				}
			}
			return alice.closed || busy < window
		})
		if !open {
			s.fail("stall", "alice: no success REPORT for %d messages in %v", window, drainTimeout)
			break
		}
		m := alice.newTx(20 + rng.Int64N(1981))
		if err := alice.send(m, sendOpts{toPath: toPath, successReport: true, chunk: 1 << 20, dropChunk: -1}); err != nil {
			break // the accounting below tells what went wrong
		}
		s.mu.Lock()
		sent = append(sent, m)
		s.mu.Unlock()
		if i == refreshAt {
			s.note("refresh after %s", m.id)
			s.refresh(bob, rng)
			if alice.use != "" {
				s.refresh(alice, rng)
			}
		}
	}
	s.note("sent %d", len(sent))
	drained := s.wait(time.Now().Add(drainTimeout), func() bool {
		for _, m := range sent {
			if !m.settled() {
				return false
			}
		}
		if replied < len(sent) && !bob.closed {
			return false
		}
		for _, m := range bob.tx {
			if !m.settled() {
				return false
			}
		}
		return true
	})
	s.note("drained %v", drained)
	s.mu.Lock()
	stopped = true
	s.notifyLocked()
	s.mu.Unlock()
	<-repDone
	s.note("replier done")
	s.mu.Lock()
	defer s.mu.Unlock()
	if !drained {
		s.fail("stall", "not settled %v after the last send (%d sent, %d replied): %s", drainTimeout, len(sent), replied, s.state())
	}
	for _, m := range sent {
		if s.checkMsg(m, alice, bob, true, true) {
			s.r.stats.messages.Add(1)
		}
	}
	for _, m := range bob.tx {
		if s.checkMsg(m, bob, alice, true, true) {
			s.r.stats.messages.Add(1)
		}
	}
	s.unexpectedClose(alice, bob)
}

// file: one message of 1-4 MB in 64 KiB chunks with a success REPORT at
// the end; slow: 0.5-2 MB into a receiver reading 256 KiB/s - 1 MiB/s.
func (s *scene) file(ctx context.Context, rng *rand.Rand, slow bool) {
	alice, bob, toPath, err := s.pair(rng)
	if err != nil {
		s.setupFail(err)
		return
	}
	size := int64(1<<20) + rng.Int64N(3<<20)
	if slow {
		size = int64(512<<10) + rng.Int64N(3<<19)
		bob.rd.throttle(float64(256<<10) + float64(rng.IntN(768<<10)))
	}
	m := alice.newTx(size)
	if err := alice.send(m, sendOpts{toPath: toPath, successReport: true, chunk: fileChunk, dropChunk: -1}); err != nil {
		s.writeFail(alice, err)
	}
	done := s.wait(time.Now().Add(drainTimeout), func() bool { return m.settled() || alice.closed || bob.closed })
	s.mu.Lock()
	defer s.mu.Unlock()
	if !done {
		s.fail("stall", "file not settled %v after the last chunk: %s", drainTimeout, s.state())
	}
	if s.checkMsg(m, alice, bob, true, true) {
		s.r.stats.files.Add(1)
	}
	s.unexpectedClose(alice, bob)
}

// senderDrop: alice sends a 1-4 MB file and, in the middle of a chunk,
// closes or resets her connection. Bob must get every chunk the relay
// accepted whole, and a chunk of which he got any byte must end with '#'.
func (s *scene) senderDrop(ctx context.Context, rng *rand.Rand) {
	alice, bob, toPath, err := s.pair(rng)
	if err != nil {
		s.setupFail(err)
		return
	}
	size := int64(1<<20) + rng.Int64N(3<<20)
	chunks := int((size + fileChunk - 1) / fileChunk)
	cut := rng.IntN(chunks)
	cutFirst := int64(cut)*fileChunk + 1
	cutLast := min(cutFirst+fileChunk-1, size)
	if cutLast == cutFirst { // a one-byte last chunk cannot be cut
		cut--
		cutFirst, cutLast = cutFirst-fileChunk, cutFirst-1
	}
	o := sendOpts{toPath: toPath, chunk: fileChunk, dropChunk: cut, dropBody: 1 + rng.IntN(int(cutLast-cutFirst))}
	m := alice.newTx(size)
	if err := alice.send(m, o); err != nil {
		s.writeFail(alice, err)
	}
	time.Sleep(time.Duration(rng.IntN(50)) * time.Millisecond)
	rst := rng.IntN(2) == 0
	alice.drop(rst)
	s.r.stats.senderDrops.Add(1)
	intact := func() (lost []*txChunk, open bool) {
		rx := bob.rx[m.id]
		for _, c := range m.chunks {
			if c.code == 200 && (rx == nil || !rx.got.covers(c.first, c.last)) {
				lost = append(lost, c)
			}
		}
		if rx != nil && rx.aborts == 0 && overlaps(rx.seen, cutFirst, cutLast) {
			open = true
		}
		return
	}
	done := s.wait(time.Now().Add(drainTimeout), func() bool {
		lost, open := intact()
		return len(lost) == 0 && !open || bob.closed
	})
	s.mu.Lock()
	defer s.mu.Unlock()
	if !done {
		s.fail("stall", "bob's side not settled %v after alice dropped: %s", drainTimeout, s.state())
	}
	lost, open := intact()
	how := map[bool]string{true: "reset", false: "close"}[rst]
	if len(lost) > 0 {
		s.fail("lost", "alice %s mid-chunk %d-%d: %d chunks accepted (200) never arrived whole at bob (first %d-%d)",
			how, cutFirst, cutLast, len(lost), lost[0].first, lost[0].last)
	}
	if open {
		s.fail("abort", "alice %s mid-chunk %d-%d: bob got bytes of it but no '#' ending", how, cutFirst, cutLast)
	} else if rx := bob.rx[m.id]; rx != nil && overlaps(rx.seen, cutFirst, cutLast) {
		s.r.stats.cutForwarded.Add(1)
	}
	if os.Getenv("SOAK_DEBUG") != "" {
		var seen spans
		if rx := bob.rx[m.id]; rx != nil {
			seen = rx.seen
		}
		fmt.Fprintf(s.r.cfg.Out, "debug: sender-drop %s tls=%v cut %d-%d +%d, accepted %d chunks, bob saw %v\n", how, alice.raw != net.Conn(alice.tcp), cutFirst, cutLast, o.dropBody, len(m.chunks), seen)
	}
	if rx := bob.rx[m.id]; rx != nil && rx.complete {
		s.fail("protocol", "alice %s mid-chunk: bob got the whole message", how)
	}
	s.unexpectedClose(bob)
}

// state describes every endpoint of the scene and its unsettled
// messages, for a failure (s.mu held).
func (s *scene) state() string { return s.describe(false) }

// stateAll is state with every message sent.
func (s *scene) stateAll() string { return s.describe(true) }

func (s *scene) describe(all bool) string {
	var b strings.Builder
	now := time.Now()
	for _, ep := range s.eps {
		tr := "tcp"
		if ep.raw != net.Conn(ep.tcp) {
			tr = "tls"
		}
		fmt.Fprintf(&b, "[%s %s %s closed=%v closing=%v err=%v pending=%d inbox=%d requests=%d",
			ep.name, tr, ep.tcp.LocalAddr(), ep.closed, ep.closing, ep.readErr, len(ep.pending), len(ep.inbox), ep.requests)
		for id, m := range ep.tx {
			if m.success && !all {
				continue
			}
			fmt.Fprintf(&b, "; tx %s %dB chunks", id, m.total)
			for _, c := range m.chunks {
				fmt.Fprintf(&b, " %d-%d:%d@%.1fs", c.first, c.last, c.code, now.Sub(c.sent).Seconds())
			}
			fmt.Fprintf(&b, " reports=%d success=%v failed=%v refused=%v", m.reports, m.success, m.failed, m.refusals)
		}
		for id, m := range ep.rx {
			if !m.complete {
				fmt.Fprintf(&b, "; rx %s of %d got %v seen %v aborts %d", id, m.total, m.got, m.seen, m.aborts)
			}
		}
		b.WriteString("]")
	}
	return b.String()
}

func overlaps(s spans, first, last int64) bool {
	for _, x := range s {
		if x.first <= last && x.last >= first {
			return true
		}
	}
	return false
}

// receiverDrop: bob reads part of a 1-4 MB file and closes or resets his
// connection in the middle of it. Alice must get, for every chunk the relay
// accepted and bob did not get whole, a failure REPORT, and some sign of
// the failure (a REPORT or an error answer).
func (s *scene) receiverDrop(ctx context.Context, rng *rand.Rand) {
	alice, bob, toPath, err := s.pair(rng)
	if err != nil {
		s.setupFail(err)
		return
	}
	size := int64(1<<20) + rng.Int64N(3<<20)
	rst := rng.IntN(2) == 0
	bob.rd.dropAfter(1+rng.Int64N(size-1), rst)
	m := alice.newTx(size)
	if err := alice.send(m, sendOpts{toPath: toPath, chunk: fileChunk, dropChunk: -1}); err != nil {
		s.writeFail(alice, err)
	}
	s.r.stats.receiverDrops.Add(1)
	explained := func() bool {
		_, lost := m.lostChunk(bob.received(m.id))
		return !lost
	}
	done := s.wait(time.Now().Add(drainTimeout), func() bool {
		return alice.closed || bob.closed && m.unanswered() == 0 && explained() && (len(m.failed) > 0 || m.refused > 0)
	})
	s.mu.Lock()
	defer s.mu.Unlock()
	if !done {
		s.fail("stall", "alice's side not settled %v after bob's drop: %s", drainTimeout, s.state())
	}
	how := map[bool]string{true: "reset", false: "close"}[rst]
	if !bob.closed {
		s.fail("soak-bug", "bob never dropped (%d of %d bytes read)", bob.rd.read(), size)
		return
	}
	s.checkMsg(m, alice, bob, false, false)
	if len(m.failed) == 0 && m.refused == 0 {
		s.fail("no-report", "bob %s mid-file: alice got neither a failure REPORT nor an error answer (%d chunks sent)", how, len(m.chunks))
	}
	s.unexpectedClose(alice)
}

// authFail: AUTHs with a wrong password, each answered 401; after the
// third the relay closes the connection; after fewer, sometimes the right
// password, answered 200.
func (s *scene) authFail(ctx context.Context, rng *rand.Rand) {
	ep, err := s.dial("mallory", rng.IntN(2) == 0)
	if err != nil {
		s.setupFail(err)
		return
	}
	o := ep.authOpts(ep.relayURI, "wrong-"+s.r.relay.password, 0)
	ch, err := ep.challenge(o)
	if err != nil {
		s.setupFail(err)
		return
	}
	attempts := 1 + rng.IntN(3)
	for i := 1; i <= attempts; i++ {
		f, err := ep.answer(o, ch)
		if err != nil {
			s.fail("auth", "wrong password, attempt %d: %v", i, err)
			return
		}
		s.r.stats.authFails.Add(1)
		if f.Code != 401 || f.Header("WWW-Authenticate") == "" {
			s.fail("auth", "wrong password, attempt %d: answered %d %s", i, f.Code, f.Comment)
			return
		}
		ch = f
	}
	if attempts >= 3 {
		if !s.wait(time.Now().Add(10*time.Second), func() bool { return ep.closed }) {
			s.fail("auth", "connection still open 10 s after 3 failed AUTHs")
		}
		return
	}
	if rng.IntN(2) == 0 {
		good := ep.authOpts(ep.relayURI, s.r.relay.password, 0)
		f, err := ep.answer(good, ch)
		switch {
		case err != nil:
			s.fail("auth", "right password after %d wrong: %v", attempts, err)
		case f.Code != 200 || f.Header("Use-Path") == "":
			s.fail("auth", "right password after %d wrong: answered %d %s", attempts, f.Code, f.Comment)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.unexpectedClose(ep)
}
