package main

import (
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/msrprelay/msrprelay/codec"
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

	events chan *head    // responses and REPORTs, from readLoop
	failed chan error    // readLoop's end: the connection is gone
	done   chan struct{} // closed when transfer returns

	pending  map[string]int64 // tid -> body bytes of chunks awaiting 200
	acked    int64            // body bytes answered with 200
	reported bool             // the success REPORT came
	buf      []byte           // one chunk's body
	frame    []byte           // one chunk's frame
}

// transfer sends m in chunks, keeping at most --window unanswered, and
// returns once every chunk has its 200 and, if asked for, the success
// REPORT has come. Any other response or a failure REPORT is an error.
func (s *sender) transfer(m *outMessage) error {
	defer close(s.done)
	s.pending = make(map[string]int64)
	s.buf = make([]byte, min(m.chunk, max(m.total, 1)))
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
				return err
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

func connLost(err error) error {
	if errors.Is(err, io.EOF) {
		return errors.New("the relay closed the connection")
	}
	return fmt.Errorf("connection to the relay lost: %w", err)
}

// sendChunk writes the chunk of m starting at offset off and returns its
// body length.
func (s *sender) sendChunk(m *outMessage, off int64) (int64, error) {
	n := min(m.chunk, m.total-off)
	body := s.buf[:n]
	if k, err := m.r.ReadAt(body, off); int64(k) < n {
		return 0, fmt.Errorf("reading the file: %w", err)
	}
	tid := newTIDFor(body)
	flag := byte('+')
	if off+n == m.total {
		flag = '$'
	}
	s.frame = s.appendChunk(s.frame[:0], m, tid, codec.ByteRange{Start: off + 1, End: off + n, Total: m.total}, body, flag)
	s.pending[tid] = n
	return n, s.mc.write(s.frame)
}

// appendChunk writes one SEND chunk (RFC 4975 §7.1): paths first, then
// Message-ID, Byte-Range, reports, Content-Disposition, Content-Type, body.
func (s *sender) appendChunk(dst []byte, m *outMessage, tid string, rng codec.ByteRange, body []byte, flag byte) []byte {
	t := []byte(tid)
	dst = codec.AppendRequestLine(dst, t, "SEND")
	dst = codec.AppendHeaderString(dst, "To-Path", s.toPath)
	dst = codec.AppendHeaderString(dst, "From-Path", s.mc.uri)
	dst = codec.AppendHeaderString(dst, "Message-ID", s.msgID)
	dst = append(dst, "Byte-Range: "...)
	dst = codec.AppendByteRange(dst, rng)
	dst = append(dst, "\r\nFailure-Report: yes\r\n"...)
	if s.f.successReport {
		dst = append(dst, "Success-Report: yes\r\n"...)
	}
	if m.disposition != "" {
		dst = codec.AppendHeaderString(dst, "Content-Disposition", m.disposition)
	}
	dst = codec.AppendHeaderString(dst, "Content-Type", m.ctype)
	dst = append(dst, "\r\n"...)
	dst = append(dst, body...)
	return codec.AppendBodyEnd(dst, t, flag)
}

// handle takes a response or REPORT from readLoop.
func (s *sender) handle(h *head, prog *progress) error {
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
		return fmt.Errorf("SEND refused: %d %s", h.Code, h.Comment)
	}
	s.acked += n
	prog.update(s.acked)
	return nil
}

// report takes a REPORT: a failure fails the send, the success REPORT for
// the whole message ends the wait for it (RFC 4975 §7.1.2).
func (s *sender) report(h *head) error {
	st, err := codec.ParseStatus([]byte(h.Get("Status")))
	if err != nil || h.Get("Message-ID") != s.msgID {
		fmt.Fprintf(s.log, "REPORT for %q, Status %q (ignored)\n", h.Get("Message-ID"), h.Get("Status"))
		return nil
	}
	if st.Code != 200 {
		return fmt.Errorf("failure REPORT from %s for bytes %s: %s", h.Get("From-Path"), h.Get("Byte-Range"), h.Get("Status"))
	}
	fmt.Fprintf(s.log, "success REPORT for bytes %s\n", h.Get("Byte-Range"))
	s.reported = true
	return nil
}

// readLoop reads frames until the connection ends. It passes responses and
// REPORTs to transfer and answers requests a sender does not expect.
func (s *sender) readLoop() {
	var wbuf []byte
	for {
		h, err := s.mc.rd.next()
		if err == nil {
			_, err = s.mc.rd.skip(h)
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
			if wantsResponse(h, code) {
				wbuf = appendResponse(wbuf[:0], h, code, comment, s.mc.uri)
				_ = s.mc.write(wbuf)
			}
		}
	}
}

// progress prints how far a transfer is, at most five lines a second.
type progress struct {
	w     io.Writer
	total int64
	on    bool
	start time.Time
	last  time.Time
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
	if p.on {
		p.print(done)
	}
}

func (p *progress) print(done int64) {
	p.last = time.Now()
	pct := 100.0
	if p.total > 0 {
		pct = float64(done) * 100 / float64(p.total)
	}
	fmt.Fprintf(p.w, "%5.1f%% %d/%d bytes %s\n", pct, done, p.total, rate(done, time.Since(p.start)))
}
