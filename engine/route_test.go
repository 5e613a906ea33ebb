package engine

import (
	"fmt"
	"testing"
	"time"
)

func TestPathRevisits(t *testing.T) {
	const (
		a1 = "msrps://a.example.com:2855/s1;tcp"
		a2 = "msrps://A.example.com:2855/s2;tcp"
		a3 = "msrps://a.example.com:2855/s3;tcp"
		b1 = "msrps://b.example.com:2855/t1;tcp"
		b2 = "msrps://b.example.com:2855/t2;tcp"
		ap = "msrps://a.example.com:2856/s4;tcp" // another port: another relay
		e  = "msrp://bob.example.com:9/x;tcp"
	)
	tests := []struct {
		path string
		want bool
	}{
		{a1 + " " + e, false},
		{a1 + " " + b1 + " " + e, false},
		{a1 + " " + a2 + " " + e, false}, // shared topology: two hops in process
		{a1 + " " + ap + " " + e, false},
		{a1 + " " + a2 + " " + a3 + " " + e, true},
		{a1 + " " + b1 + " " + a2 + " " + e, true},
		{a1 + " " + b1 + " " + a2 + " " + b2 + " " + a3 + " " + e, true},
		{a1 + " " + b1 + " " + b2 + " " + e, false},
	}
	for _, tc := range tests {
		if got := pathRevisits([]byte(tc.path)); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.path, got, tc.want)
		}
	}
}

// TestLoopingPathRefused: a request whose To-Path leaves this relay and
// comes back is refused at once, not forwarded.
func TestLoopingPathRefused(t *testing.T) {
	r, _ := testRelay(t, nil)
	alice, _, la, lb, to := setup(t, r)
	var w Worker
	sid := to[:len(to)-len(" "+bobURI)]
	loop := sid + " msrps://b.example.com:2855/t1;tcp " + sid + " " + bobURI
	receive(t, &w, alice, sendFrame("tid00001", loop, aliceURI, "1-2/2", []byte("hi")))
	got := decode(t, la.flush())
	if len(got) != 1 || got[0].f.Code() != 403 {
		t.Fatalf("want one 403, got %d frames", len(got))
	}
	if out := lb.flush(); len(out) != 0 {
		t.Fatalf("forwarded: %q", out)
	}
}

// fakeDialer records dials and fails each at once.
type fakeDialer struct{ dials []string }

func (d *fakeDialer) Dial(c *Conn, hostport string, secure bool, serverName string) {
	d.dials = append(d.dials, hostport)
	c.DialFailed(errDialTest)
}

var errDialTest = errConfig("test: connection refused")

// TestDialsBounded: a next hop whose dial failed is not dialed again for
// DialBackoff, and one session cannot make the relay dial more than
// MaxDialsPerSession next hops a minute.
func TestDialsBounded(t *testing.T) {
	r, clk := testRelay(t, func(c *Config) { c.MaxDialsPerSession = 3 })
	d := &fakeDialer{}
	r.SetDialer(d)
	bob, _ := open(r)
	s := bob.newSession("bob", "example.com", time.Hour, true)
	bob.succeeded.Store(true)
	var w Worker
	sendTo := func(tid, host string) string {
		to := string(s.uri) + " msrp://" + host + ":2855/x;tcp"
		receive(t, &w, bob, sendFrame(tid, to, bobURI, "1-1/1", []byte("x")))
		return to
	}
	for i := range 5 {
		sendTo(fmt.Sprintf("tidsame%d", i), "closed.example.com")
	}
	if len(d.dials) != 1 {
		t.Fatalf("%d dials to one failing hop, want 1", len(d.dials))
	}
	clk.t = clk.t.Add(r.cfg.DialBackoff)
	r.Tick(&w)
	sendTo("tidagain", "closed.example.com")
	if len(d.dials) != 2 {
		t.Fatalf("%d dials after the backoff, want 2", len(d.dials))
	}
	for i := range 5 {
		sendTo(fmt.Sprintf("tidmany%d", i), fmt.Sprintf("h%d.example.com", i))
	}
	if len(d.dials) != 3 {
		t.Fatalf("%d dials in a minute from one session, want its cap of 3", len(d.dials))
	}
}

// hangUpDialer is a next hop that accepts and closes at once, before the
// request that made the relay dial it is queued.
type hangUpDialer struct{}

func (hangUpDialer) Dial(c *Conn, hostport string, secure bool, serverName string) { c.Closed(nil) }

// A request for a next hop that closed before it could be queued fails as
// the hop's fault (408), not as a missing session (481).
func TestNextHopGoneBeforeQueued(t *testing.T) {
	r, _ := testRelay(t, nil)
	r.SetDialer(hangUpDialer{})
	bob, lb := open(r)
	s := bob.newSession("bob", "example.com", time.Hour, true)
	bob.succeeded.Store(true)
	var w Worker
	receive(t, &w, bob, sendFrame("tid00009", string(s.uri)+" msrp://carol.example.com:9/c;tcp", bobURI, "1-5/5", []byte("hello")))
	var report *decodedFrame
	for _, f := range decode(t, lb.flush()) {
		if string(f.f.Method()) == "REPORT" {
			report = f
		}
	}
	if report == nil || header(report, "Status") != "000 408 Next Hop Closed" {
		t.Fatalf("REPORT %+v, want status 000 408", report)
	}
}
