package load

import (
	"context"
	"errors"
	"time"
)

// Handshakes measures the TLS handshakes per second a target completes:
// sc.Pairs clients each connect, complete a full handshake (no session
// resumption) and close, again and again for sc.Duration. The Result
// counts handshakes as messages: MsgsPerSec is handshakes per second,
// Latency the time from connect to a finished handshake, Relay the
// relay's CPU per handshake.
func Handshakes(ctx context.Context, t Target, sc Scenario) (*Result, error) {
	if err := t.validate(); err != nil {
		return nil, err
	}
	if t.TLS == nil {
		return nil, errors.New("handshakes need a TLS target")
	}
	if sc.Pairs <= 0 || sc.Duration <= 0 {
		return nil, errors.New("handshakes need Pairs (parallel clients) and Duration")
	}
	cfg := t.TLS.Clone()
	cfg.ClientSessionCache = nil // every handshake a full one
	t.TLS = cfg
	d := newDialer(&t)
	cnt := newRateCounts("handshake")
	res := measureRate(ctx, &t, sc, "handshake", cnt, func(i int) rateClient {
		return &handshakeClient{d: d, addr: t.Addrs[i%len(t.Addrs)], cnt: cnt}
	})
	return res, ctx.Err()
}

// handshakeClient is one client of a handshake run.
type handshakeClient struct {
	d    *dialer
	addr string
	cnt  *rateCounts
}

// exchange connects, completes a handshake and hangs up.
func (c *handshakeClient) exchange(ctx context.Context) (time.Duration, bool) {
	t0 := time.Now()
	nc, err := c.d.dial(ctx, TransportTLS, c.addr)
	if err != nil {
		if ctx.Err() == nil {
			c.cnt.fail(0, err) // its one kind, "handshake"
		}
		return 0, false
	}
	took := time.Since(t0)
	nc.Close()
	return took, true
}

func (c *handshakeClient) close() {}
