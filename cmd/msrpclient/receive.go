package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/msrprelay/msrprelay/codec"
	"github.com/msrprelay/msrprelay/endpoint"
)

type receiveFlags struct {
	conn    connFlags
	dir     string
	count   int
	timeout time.Duration
}

func receiveFlagSet(f *receiveFlags, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("receive", flag.ContinueOnError)
	fs.SetOutput(stderr)
	f.conn.register(fs, "relay to log in at, HOST:PORT (required)")
	fs.StringVar(&f.dir, "dir", ".", "directory to save received files in")
	fs.IntVar(&f.count, "count", 0, "exit after this many messages (0: run until interrupted)")
	fs.DurationVar(&f.timeout, "timeout", 0, "exit when nothing arrives for this long (0: wait forever)")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `usage: msrpclient receive --relay HOST:PORT --user U --password P [flags]

Logs in at the relay and prints the To-Path a sender must use, as one line:
  path: <Use-Path> <own URI>
then answers every SEND and reassembles messages. A text message prints as
  message from <sender URI>: <text>
any other content is saved in --dir, under the Content-Disposition file name
or else the Message-ID, and prints as
  saved <path> (<n> bytes, sha256 <hex>)
Progress and diagnostics go to stderr.

flags:
`)
		fs.PrintDefaults()
	}
	return fs
}

// runReceive is "msrpclient receive". It returns nil after --count
// messages, after --timeout without traffic, or when ctx ends, and an error
// when the connection is lost.
func runReceive(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var f receiveFlags
	fs := receiveFlagSet(&f, stderr)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := f.check(); err != nil {
		return usageError(fs, "%v", err)
	}
	mc, err := f.conn.dial(ctx, f.conn.relay)
	if err != nil {
		return err
	}
	defer mc.Close()
	usePath, err := f.conn.auth(mc, f.conn.relay)
	if err != nil {
		return f.conn.explain(err, mc)
	}
	fmt.Fprintf(stdout, "path: %s %s\n", usePath, mc.uri)
	fmt.Fprintf(stderr, "logged in at %s as %s; waiting for messages\n", f.conn.relay, f.conn.user)
	stop := closeOnDone(ctx, mc)
	defer stop()
	rc := &receiver{mc: mc, f: &f, out: stdout, log: stderr, msgs: make(map[string]*inbound)}
	defer rc.discardAll()
	mc.rd.SetIdle(f.timeout)
	err = rc.loop()
	if ctx.Err() != nil {
		return nil
	}
	return err
}

func (f *receiveFlags) check() error {
	if f.conn.relay == "" || f.conn.user == "" {
		return errors.New("receive needs --relay and --user")
	}
	if f.count < 0 || f.timeout < 0 {
		return errors.New("--count and --timeout cannot be negative")
	}
	if st, err := os.Stat(f.dir); err != nil || !st.IsDir() {
		return fmt.Errorf("--dir %q is not a directory", f.dir)
	}
	return f.conn.check()
}

// receiver answers and reassembles what arrives on its connection. One
// goroutine runs it.
type receiver struct {
	mc   *msrpConn
	f    *receiveFlags
	out  io.Writer
	log  io.Writer
	msgs map[string]*inbound // by Message-ID
	done int                 // messages completed
	wbuf []byte
}

func (rc *receiver) loop() error {
	for rc.f.count == 0 || rc.done < rc.f.count {
		h, err := rc.mc.rd.ReadHead()
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return rc.idleEnd()
		}
		if err != nil {
			return fmt.Errorf("connection to the relay lost: %w", err)
		}
		if err := rc.handle(h); err != nil {
			return err
		}
	}
	return nil
}

// idleEnd ends the receiver after --timeout without traffic: quietly,
// unless a message was left half received.
func (rc *receiver) idleEnd() error {
	if len(rc.msgs) > 0 {
		return fmt.Errorf("nothing received for %v with %d message(s) incomplete", rc.f.timeout, len(rc.msgs))
	}
	fmt.Fprintf(rc.log, "nothing received for %v; exiting\n", rc.f.timeout)
	return nil
}

func (rc *receiver) handle(h *endpoint.Frame) error {
	switch {
	case h.Method == "":
		fmt.Fprintf(rc.log, "response %d %s (ignored)\n", h.Code, h.Comment)
	case h.Malformed != nil:
		fmt.Fprintf(rc.log, "malformed %s: %v\n", h.Method, h.Malformed)
		return rc.skipAndRespond(h, 400, "Bad Request")
	case h.Method == "SEND":
		return rc.handleSend(h)
	case h.Method == "REPORT":
		fmt.Fprintf(rc.log, "REPORT for %s: %s (ignored)\n", h.Header("Message-ID"), h.Header("Status"))
	default:
		return rc.skipAndRespond(h, 501, "Not Implemented")
	}
	_, err := rc.mc.rd.Skip(h)
	return err
}

func (rc *receiver) skipAndRespond(h *endpoint.Frame, code int, comment string) error {
	if _, err := rc.mc.rd.Skip(h); err != nil {
		return err
	}
	return rc.respond(h, code, comment)
}

func (rc *receiver) respond(h *endpoint.Frame, code int, comment string) error {
	if !endpoint.WantsResponse(h, code) {
		return nil
	}
	rc.wbuf = endpoint.AppendResponse(rc.wbuf[:0], h, code, comment, rc.mc.uri)
	return rc.mc.write(rc.wbuf)
}

// handleSend takes one SEND frame: checks it is for us, writes its body
// where it belongs, answers it, and finishes the message when it is
// complete.
func (rc *receiver) handleSend(h *endpoint.Frame) error {
	if !sameSession(endpoint.FirstURI(h.Header("To-Path")), rc.mc.uri) {
		fmt.Fprintf(rc.log, "SEND for another session %s refused\n", endpoint.FirstURI(h.Header("To-Path")))
		return rc.skipAndRespond(h, 481, "Session Does Not Exist")
	}
	id := h.Header("Message-ID")
	rng, err := sendRange(h)
	if err != nil || id == "" {
		fmt.Fprintf(rc.log, "SEND without a valid Message-ID and Byte-Range refused\n")
		return rc.skipAndRespond(h, 400, "Bad Request")
	}
	m := rc.msgs[id]
	if m == nil && !h.HasBody && h.Header("Content-Type") == "" {
		return rc.skipAndRespond(h, 200, "OK") // keep-alive (or empty) SEND
	}
	if m == nil {
		if m, err = rc.start(h, rng); err != nil {
			return err
		}
	}
	return rc.chunk(h, m, rng)
}

// start begins a new message.
func (rc *receiver) start(h *endpoint.Frame, rng codec.ByteRange) (*inbound, error) {
	m, err := newInbound(h, rng, rc.f.dir)
	if err != nil {
		return nil, fmt.Errorf("message %s: %w", h.Header("Message-ID"), err)
	}
	rc.msgs[m.id] = m
	if m.file != nil {
		fmt.Fprintf(rc.log, "receiving %s from %s (%s, %s bytes)\n", m.path, m.sender(), m.ctype, sizeText(rng.Total))
	}
	return m, nil
}

// chunk writes one frame's body into m, answers the frame and, when the
// message is complete or aborted, finishes it.
func (rc *receiver) chunk(h *endpoint.Frame, m *inbound, rng codec.ByteRange) error {
	if strings.EqualFold(h.Header("Success-Report"), "yes") {
		m.report = true
	}
	before := m.Received()
	flag, werr, err := rc.readBody(h, m, rng)
	if err != nil {
		return err
	}
	if werr != nil {
		fmt.Fprintf(rc.log, "message %s: %v\n", m.id, werr)
		if errors.Is(werr, endpoint.ErrBeyondTotal) {
			return rc.respond(h, 400, "Bad Request")
		}
		_ = rc.respond(h, 413, "Cannot Store")
		return fmt.Errorf("message %s: %w", m.id, werr)
	}
	m.ChunkDone(flag, rng.Start, m.Received()-before)
	if err := rc.respond(h, 200, "OK"); err != nil {
		return err
	}
	switch {
	case flag == '#':
		fmt.Fprintf(rc.log, "message %s aborted by the sender; discarded\n", m.id)
		delete(rc.msgs, m.id)
		m.discard()
	case m.Complete():
		delete(rc.msgs, m.id)
		return rc.finish(m)
	}
	return nil
}

// readBody writes the frame's body into m. werr is a failure to store it,
// err a failure to read it.
func (rc *receiver) readBody(h *endpoint.Frame, m *inbound, rng codec.ByteRange) (flag byte, werr, err error) {
	if !h.HasBody {
		return h.Flag, nil, nil
	}
	flag, werr, err = rc.mc.rd.Body(m.Writer(rng.Start))
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return 0, nil, fmt.Errorf("nothing received for %v in the middle of a chunk of message %s", rc.f.timeout, m.id)
	}
	if err != nil {
		return 0, nil, fmt.Errorf("connection to the relay lost: %w", err)
	}
	return flag, werr, nil
}

// finish prints or saves a complete message and sends the success REPORT
// if the sender asked for one (RFC 4975 §7.1.2).
func (rc *receiver) finish(m *inbound) error {
	if m.file == nil {
		fmt.Fprintf(rc.out, "message from %s: %s\n", m.sender(), m.text[:m.Size()])
	} else {
		sum, err := m.finishFile()
		if err != nil {
			os.Remove(m.path)
			return fmt.Errorf("saving %s: %w", m.path, err)
		}
		fmt.Fprintf(rc.out, "saved %s (%d bytes, sha256 %s)\n", m.path, m.Size(), sum)
	}
	rc.done++
	if !m.report {
		return nil
	}
	return rc.mc.write(endpoint.AppendSuccessReport(nil, m.fromPath, rc.mc.uri, m.id, m.Size()))
}

// discardAll removes the files of messages that never completed.
func (rc *receiver) discardAll() {
	for id, m := range rc.msgs {
		fmt.Fprintf(rc.log, "message %s incomplete (%d bytes received); discarded\n", id, m.Received())
		m.discard()
	}
}

// sendRange is a SEND's Byte-Range; without one the chunk is the whole
// message (RFC 4975 §7.1.1: 1-*/*).
func sendRange(h *endpoint.Frame) (codec.ByteRange, error) {
	v := h.Header("Byte-Range")
	if v == "" {
		return codec.ByteRange{Start: 1, End: codec.Unknown, Total: codec.Unknown}, nil
	}
	return codec.ParseByteRange([]byte(v))
}

// sameSession reports whether URI a names the session of our own URI b.
// Only the session id is compared: the host and port a sender reaches us
// under are the relay's business.
func sameSession(a, b string) bool {
	ua, err1 := codec.ParseURI([]byte(a))
	ub, err2 := codec.ParseURI([]byte(b))
	return err1 == nil && err2 == nil && string(ua.SessionID) == string(ub.SessionID)
}

func sizeText(n int64) string {
	if n == codec.Unknown {
		return "unknown number of"
	}
	return fmt.Sprint(n)
}
