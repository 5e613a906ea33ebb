package load

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/msrprelay/msrprelay/bench/proc"
	"github.com/msrprelay/msrprelay/codec"
	"github.com/msrprelay/msrprelay/endpoint"
)

// DensityOptions configure an idle-density measurement.
type DensityOptions struct {
	// Sessions is how many idle sessions to open.
	Sessions int
	// Parallel is how many sessions set up at once; 0 means 64.
	Parallel int
	// Settle is how long to wait once every session is open before the
	// relay's memory is read; 0 means 2 s.
	Settle time.Duration
	// Active, when not nil, is a load run while the idle sessions stay open.
	Active *Scenario
	// Baseline runs Active once more after the idle sessions are closed,
	// on the same relay: the same load's figures without them.
	Baseline bool
}

// DensityResult is what an idle-density measurement found.
type DensityResult struct {
	Target   string `json:"target"`
	Sessions int    `json:"sessions"` // asked for
	Opened   int    `json:"opened"`   // bound and idle
	Errors   int    `json:"errors"`
	// FirstError is the first setup failure, if any.
	FirstError   string  `json:"first_error,omitempty"`
	SetupSeconds float64 `json:"setup_seconds"`
	SetupPerSec  float64 `json:"setup_per_sec"`
	// RSS of the relay (0 without a PID): alone before any session, and
	// Settle after the last one opened.
	RSSBeforeKB int64 `json:"rss_before_kb,omitempty"`
	RSSAfterKB  int64 `json:"rss_after_kb,omitempty"`
	// BytesPerSession is (after-before)/Opened.
	BytesPerSession float64 `json:"bytes_per_session,omitempty"`
	// Active is the load run alongside the idle sessions, when asked for.
	Active      *Result `json:"active,omitempty"`
	ActiveError string  `json:"active_error,omitempty"`
	// Baseline is Active run again once the idle sessions were closed.
	Baseline      *Result `json:"baseline,omitempty"`
	BaselineError string  `json:"baseline_error,omitempty"`
}

// idleSession is one bound, idle session's two connections.
type idleSession struct {
	bob, alice *link
}

// densityTimeout bounds one session's SEND and its answers.
const densityTimeout = 10 * time.Second

// Density opens o.Sessions idle sessions on the relay t (each: bob AUTHs,
// alice sends one SEND through bob's session, bob answers 200), measures
// the relay's resident memory before and after, optionally runs o.Active
// while they stay open, then closes them. Setup failures are counted, not
// fatal; an error is returned only when nothing could be measured.
func Density(ctx context.Context, t Target, o DensityOptions) (*DensityResult, error) {
	if err := t.validate(); err != nil {
		return nil, err
	}
	if t.Kind != KindRelay {
		return nil, errors.New("density needs a relay target")
	}
	if o.Sessions <= 0 {
		return nil, errors.New("density needs at least one session")
	}
	if o.Parallel <= 0 {
		o.Parallel = 64
	}
	if o.Settle <= 0 {
		o.Settle = 2 * time.Second
	}
	res := &DensityResult{Target: t.Name, Sessions: o.Sessions}
	if t.PID != 0 {
		kb, err := proc.RSSKB(t.PID)
		if err != nil {
			return nil, fmt.Errorf("relay rss: %w", err)
		}
		res.RSSBeforeKB = kb
	}

	d := newDialer(&t)
	sessions := make([]idleSession, o.Sessions)
	closeAll := func() {
		for i := range sessions {
			s := &sessions[i]
			if s.bob != nil {
				s.bob.Close()
			}
			if s.alice != nil {
				s.alice.Close()
			}
			*s = idleSession{}
		}
	}
	defer closeAll()
	var (
		mu     sync.Mutex
		wg     sync.WaitGroup
		errs   int
		first  error
		opened int
	)
	sem := make(chan struct{}, o.Parallel)
	start := time.Now()
	for i := range sessions {
		if ctx.Err() != nil {
			break
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			err := d.openIdle(ctx, i, &sessions[i])
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs++
				if first == nil {
					first = fmt.Errorf("session %d: %w", i, err)
				}
				return
			}
			opened++
		}()
	}
	wg.Wait()
	res.SetupSeconds = time.Since(start).Seconds()
	res.Opened, res.Errors = opened, errs
	if first != nil {
		res.FirstError = first.Error()
	}
	if res.SetupSeconds > 0 {
		res.SetupPerSec = float64(opened) / res.SetupSeconds
	}
	if err := ctx.Err(); err != nil {
		return res, err
	}

	select {
	case <-ctx.Done():
		return res, ctx.Err()
	case <-time.After(o.Settle):
	}
	if t.PID != 0 {
		kb, err := proc.RSSKB(t.PID)
		if err != nil {
			return res, fmt.Errorf("relay rss: %w", err)
		}
		res.RSSAfterKB = kb
		if opened > 0 {
			res.BytesPerSession = float64(res.RSSAfterKB-res.RSSBeforeKB) * 1024 / float64(opened)
		}
	}

	if o.Active != nil {
		ar, err := Run(ctx, t, *o.Active)
		res.Active = ar
		if err != nil {
			res.ActiveError = err.Error()
		}
		if o.Baseline && ctx.Err() == nil {
			closeAll()
			// Let the relay tear the idle sessions down first.
			select {
			case <-ctx.Done():
				return res, ctx.Err()
			case <-time.After(time.Second):
			}
			br, err := Run(ctx, t, *o.Active)
			res.Baseline = br
			if err != nil {
				res.BaselineError = err.Error()
			}
		}
	}
	return res, ctx.Err()
}

// openIdle sets up session i: bob connects and AUTHs, alice connects and
// sends one SEND to bob's session, bob answers 200 and alice gets her
// answer. Both connections are then left idle in s.
func (d *dialer) openIdle(ctx context.Context, i int, s *idleSession) error {
	tr, addr := d.receiver.Transport, d.receiver.Addrs[i%len(d.receiver.Addrs)]
	var err error
	if s.bob, err = d.dial(ctx, tr, addr); err != nil {
		return fmt.Errorf("bob: %w", err)
	}
	bobURI := endpointURI(tr, s.bob, "bob"+strconv.Itoa(i))
	use, err := d.auth(s.bob, tr, addr, bobURI)
	if err != nil {
		return fmt.Errorf("bob: %w", err)
	}
	if s.alice, err = d.dial(ctx, tr, addr); err != nil {
		return fmt.Errorf("alice: %w", err)
	}
	aliceURI := endpointURI(tr, s.alice, "alice"+strconv.Itoa(i))
	deadline := time.Now().Add(densityTimeout)
	_ = s.bob.SetDeadline(deadline)
	_ = s.alice.SetDeadline(deadline)
	defer func() {
		_ = s.bob.SetDeadline(time.Time{})
		_ = s.alice.SetDeadline(time.Time{})
	}()

	tpl := newSendTemplate(use+" "+bobURI, aliceURI, 100)
	if _, err := s.alice.Write(tpl.appendSend(nil, i, 0, 0)); err != nil {
		return fmt.Errorf("alice: SEND: %w", err)
	}
	// Small buffers: these readers live only for the setup.
	br := endpoint.NewReader(s.bob, 4096)
	body, _, err := br.Next()
	if err != nil {
		return fmt.Errorf("bob: read SEND: %w", err)
	}
	if f := br.Parsed(); br.Malformed() != nil || f.IsResponse() || !codec.EqualFold(f.Method(), "SEND") {
		return fmt.Errorf("bob: expected a SEND, got %q", f.Method())
	}
	if _, _, err := checkBody(body); err != nil {
		return fmt.Errorf("bob: %w", err)
	}
	if _, err := s.bob.Write(appendOK(nil, br.Parsed(), []byte(bobURI))); err != nil {
		return fmt.Errorf("bob: 200: %w", err)
	}
	ar := endpoint.NewReader(s.alice, 4096)
	if _, _, err := ar.Next(); err != nil {
		return fmt.Errorf("alice: read answer: %w", err)
	}
	if f := ar.Parsed(); !f.IsResponse() || f.Code() != 200 {
		return fmt.Errorf("alice: expected 200, got %d %q", f.Code(), f.Method())
	}
	if br.Buffered() || ar.Buffered() {
		return errors.New("unexpected frames after the first SEND")
	}
	return nil
}
