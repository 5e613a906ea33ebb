package engine

import (
	"bytes"
	"testing"
	"time"
)

// A held answer goes out before the close it decides, even when the loop
// counts the next failure while the timer goroutine is sending the answer
// to the one before it (a soak under load lost the last 401 this way: the
// timer saw the raised count, found nothing held yet and closed).
func TestHeldAuthAnswerBeforeClose(t *testing.T) {
	r, clk := testRelay(t, func(c *Config) {
		c.MaxAuthFailures = 3
		c.AuthFailureDelay = time.Second
	})
	c, l := open(r)
	var w Worker

	// The second failure's answer is held; the loop then counts the third
	// before the timer has sent the second.
	c.authRefusals.Store(2)
	c.holdAnswer([]byte("401-second"))
	c.closeIfRefusedTooOften()
	clk.t = clk.t.Add(time.Second)
	c.authRefusals.Store(3)
	c.sendDelayed(&w, r.now())
	if c.closing.Load() || c.closed.Load() {
		t.Fatal("closing before the third failure's answer was held")
	}
	if got := l.flush(); !bytes.Equal(got, []byte("401-second")) {
		t.Fatalf("flushed %q, want the second answer", got)
	}

	// The loop holds the third answer: the timer sends it, then closes.
	c.holdAnswer([]byte("401-third"))
	c.closeIfRefusedTooOften()
	if c.closing.Load() {
		t.Fatal("closing while the last answer is still held")
	}
	clk.t = clk.t.Add(time.Second)
	c.sendDelayed(&w, r.now())
	if got := l.flush(); !bytes.Equal(got, []byte("401-third")) {
		t.Fatalf("flushed %q, want the third answer", got)
	}
	if !c.closed.Load() {
		t.Fatal("connection still open after the last allowed failure was answered")
	}
}

// Without held answers the close follows the answer at once.
func TestAuthLimitClosesAfterAnswer(t *testing.T) {
	r, _ := testRelay(t, func(c *Config) { c.MaxAuthFailures = 2 })
	c, l := open(r)
	var w Worker
	c.authRefusals.Store(2)
	c.answer(&w, []byte("401"))
	c.closeIfRefusedTooOften()
	if c.closed.Load() {
		t.Fatal("closed before the answer was flushed")
	}
	if got := l.flush(); !bytes.Equal(got, []byte("401")) {
		t.Fatalf("flushed %q", got)
	}
	if !c.closed.Load() {
		t.Fatal("not closed after the answer")
	}
}

// An AUTH answered off the loop (after a user-store lookup) can create its
// session after the connection closed: the session ends at once instead
// of living on with no owner.
func TestSessionOfClosedConnectionEnds(t *testing.T) {
	r, _ := testRelay(t, nil)
	c, _ := open(r)
	c.Closed(nil)
	c.newSession("alice", "example.com", time.Hour, false)
	if n := r.Sessions(); n != 0 {
		t.Fatalf("%d sessions live on a closed connection", n)
	}
}
