package main

import (
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/msrprelay/msrprelay/codec"
	"github.com/msrprelay/msrprelay/endpoint"
)

// sender sends one message over its connection. The goroutine that calls
// transfer writes chunks; readLoop reads what comes back and hands
// responses and REPORTs over on events.
type sender struct {
	mc     *msrpConn
	f      *sendFlags
	toPath string
	log    io.Writer
	msgID  string

	events chan *endpoint.Frame // responses and REPORTs, from readLoop
	failed chan error           // readLoop's end: the connection is gone
	done   chan struct{}        // closed when transfer returns

	pending  map[string]int64 // tid -> body bytes of chunks awaiting 200
	acked    int64            // body bytes answered with 200
	reported bool             // the success REPORT came
	buf      []byte           // chunk bodies pass through it
	frame    []byte           // one chunk's frame
}

// transfer sends m in chunks, keeping at most --window unanswered, and
// returns once every chunk has its 200 and, if asked for, the success
// REPORT has come. Any other response or a failure REPORT is an error.
func (s *sender) transfer(m *outMessage) error {
	defer close(s.done)
	s.pending = make(map[string]int64)
	s.buf = make([]byte, min(m.chunk, max(m.total, 1), maxChunkBuf))
	prog := newProgress(s.log, m.total, m.progress)
	timer := time.NewTimer(s.f.timeout)
	defer timer.Stop()
	var off int64
	sentLast := false
	for !sentLast || len(s.pending) > 0 || (s.f.successReport && !s.reported) {
		if !sentLast && len(s.pending) < s.f.window {
			if err := s.poll(prog); err != nil {
				return err
			}
			n, err := s.sendChunk(m, off)
			if err != nil {
				return s.writeFailed(err)
			}
			off += n
			sentLast = off == m.total
			continue
		}
		if err := s.wait(timer, prog); err != nil {
			return err
		}
	}
	prog.done(s.acked)
	return nil
}

// poll handles whatever has come back without waiting, so that a refusal
// stops the transfer early even while the window is open.
func (s *sender) poll(prog *progress) error {
	for {
		select {
		case h := <-s.events:
			if err := s.handle(h, prog); err != nil {
				return err
			}
		case err := <-s.failed:
			return connLost(err)
		default:
			return nil
		}
	}
}

// wait handles the next response or REPORT, failing after --timeout
// without one.
func (s *sender) wait(timer *time.Timer, prog *progress) error {
	timer.Reset(s.f.timeout)
	select {
	case h := <-s.events:
		return s.handle(h, prog)
	case err := <-s.failed:
		return connLost(err)
	case <-timer.C:
		if len(s.pending) == 0 {
			return fmt.Errorf("no success REPORT within %v (a receiver that sends none needs --success-report=false)", s.f.timeout)
		}
		return fmt.Errorf("no response to %d chunk(s) within %v", len(s.pending), s.f.timeout)
	}
}

// writeFailed explains a chunk that could not be sent: a broken
// connection by what came back before it broke, if anything did (a
// refusal, a failure REPORT), since that says why.
func (s *sender) writeFailed(err error) error {
	if errors.Is(err, errRead) {
		return err
	}
	select {
	case <-s.failed: // readLoop has queued all it read
	case <-time.After(time.Second):
	}
	for {
		select {
		case h := <-s.events:
			if herr := s.handle(h, newProgress(io.Discard, 0, false)); herr != nil {
				return herr
			}
		default:
			return connLost(err)
		}
	}
}

func connLost(err error) error {
	if errors.Is(err, io.EOF) {
		return errors.New("the relay closed the connection")
	}
	return fmt.Errorf("connection to the relay lost: %w", err)
}

// handle takes a response or REPORT from readLoop.
func (s *sender) handle(h *endpoint.Frame, prog *progress) error {
	if h.Method == "REPORT" {
		return s.report(h)
	}
	n, ok := s.pending[h.TID]
	if !ok {
		fmt.Fprintf(s.log, "response %d %s to no chunk of ours (ignored)\n", h.Code, h.Comment)
		return nil
	}
	delete(s.pending, h.TID)
	if h.Code != 200 {
		return fmt.Errorf("SEND refused: %d %s%s", h.Code, h.Comment, hint(h.Code))
	}
	s.acked += n
	prog.update(s.acked)
	return nil
}

// report takes a REPORT: a failure fails the send, the success REPORT for
// the whole message ends the wait for it (RFC 4975 §7.1.2).
func (s *sender) report(h *endpoint.Frame) error {
	st, err := codec.ParseStatus([]byte(h.Header("Status")))
	if err != nil || h.Header("Message-ID") != s.msgID {
		fmt.Fprintf(s.log, "REPORT for %q, Status %q (ignored)\n", h.Header("Message-ID"), h.Header("Status"))
		return nil
	}
	if st.Code != 200 {
		return fmt.Errorf("failure REPORT from %s for bytes %s: %s%s", h.Header("From-Path"), h.Header("Byte-Range"), h.Header("Status"), hint(st.Code))
	}
	fmt.Fprintf(s.log, "success REPORT for bytes %s\n", h.Header("Byte-Range"))
	s.reported = true
	return nil
}

// hint explains the refusals an operator trying a deployment meets most.
func hint(code int) string {
	switch code {
	case 481:
		return " (no such session at the relay: is the receiver still connected, and is --to-path its whole path?)"
	case 506:
		return " (another sender's connection is bound to this session, RFC 4975 §5.4)"
	case 403:
		return " (the relay does not allow this path)"
	case 408:
		return " (the next hop did not answer in time or went away)"
	}
	return ""
}

// readLoop reads frames until the connection ends. It passes responses and
// REPORTs to transfer and answers requests a sender does not expect.
func (s *sender) readLoop() {
	var wbuf []byte
	for {
		h, err := s.mc.rd.ReadHead()
		if err == nil {
			_, err = s.mc.rd.Skip(h)
		}
		if err != nil {
			s.failed <- err
			return
		}
		switch {
		case h.Method == "" || h.Method == "REPORT":
			select {
			case s.events <- h:
			case <-s.done:
				return
			}
		default:
			fmt.Fprintf(s.log, "%s request ignored\n", h.Method)
			code, comment := 501, "Not Implemented"
			if h.Method == "SEND" {
				code, comment = 200, "OK" // taken, and dropped
			}
			if endpoint.WantsResponse(h, code) {
				wbuf = endpoint.AppendResponse(wbuf[:0], h, code, comment, s.mc.uri)
				_ = s.mc.write(wbuf)
			}
		}
	}
}

// progress prints how far a transfer is, at most five lines a second.
type progress struct {
	w        io.Writer
	total    int64
	on       bool
	start    time.Time
	last     time.Time
	lastDone int64 // bytes in the line printed last
}

const progressEvery = 200 * time.Millisecond

func newProgress(w io.Writer, total int64, on bool) *progress {
	now := time.Now()
	return &progress{w: w, total: total, on: on, start: now, last: now}
}

func (p *progress) update(done int64) {
	if !p.on || time.Since(p.last) < progressEvery {
		return
	}
	p.print(done)
}

func (p *progress) done(done int64) {
	if p.on && (done != p.lastDone || done == 0) {
		p.print(done)
	}
}

func (p *progress) print(done int64) {
	p.last, p.lastDone = time.Now(), done
	pct := 100.0
	if p.total > 0 {
		pct = float64(done) * 100 / float64(p.total)
	}
	fmt.Fprintf(p.w, "%5.1f%% %d/%d bytes %s\n", pct, done, p.total, rate(done, time.Since(p.start)))
}
