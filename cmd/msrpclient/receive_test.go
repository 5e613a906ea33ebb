package main

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/msrprelay/msrprelay/endpoint"
)

// pipeReceiver is a receiver on one end of a pipe, with the test playing
// the relay on the other: frames the tests write by hand reach it exactly
// as written, in an order no relay may choose to produce.
type pipeReceiver struct {
	peer   net.Conn
	uri    string               // the receiver's own URI
	frames chan *endpoint.Frame // what the receiver writes back
	out    *lineWriter          // its stdout
	err    chan error
	dir    string
}

func newPipeReceiver(t *testing.T, count int) *pipeReceiver {
	t.Helper()
	a, b := net.Pipe()
	mc := newMsrpConn(a, "msrp", "tcp")
	pr := &pipeReceiver{peer: b, uri: mc.uri, frames: make(chan *endpoint.Frame, 100), out: newLineWriter(), err: make(chan error, 1), dir: t.TempDir()}
	rc := &receiver{mc: mc, f: &receiveFlags{dir: pr.dir, count: count}, out: pr.out, log: logWriter{t, "receive: "}, msgs: make(map[string]*inbound)}
	go func() {
		defer rc.discardAll()
		pr.err <- rc.loop()
	}()
	go func() {
		rd := endpoint.NewReader(b, readBufSize)
		for {
			h, err := rd.ReadHead()
			if err == nil {
				_, err = rd.Skip(h)
			}
			if err != nil {
				close(pr.frames)
				return
			}
			pr.frames <- h
		}
	}()
	t.Cleanup(func() { a.Close(); b.Close() })
	return pr
}

const peerURI = "msrp://127.0.0.1:7000/relaysession;tcp msrp://127.0.0.1:7001/alice;tcp"

// chunk is one hand-made SEND frame.
type chunk struct {
	msgID, rng string
	body       string
	ctype      string // default application/octet-stream when there is a body
	flag       byte
	headers    [][2]string
}

// send writes c to the receiver and returns its transaction id.
func (pr *pipeReceiver) send(t *testing.T, c chunk) string {
	t.Helper()
	req := endpoint.Request{Method: "SEND", ToPath: pr.uri, FromPath: peerURI, Flag: c.flag, ContentType: c.ctype, Body: []byte(c.body),
		Headers: append([][2]string{{"Message-ID", c.msgID}, {"Byte-Range", c.rng}}, c.headers...)}
	if req.ContentType == "" && c.body != "" {
		req.ContentType = "application/octet-stream"
	}
	pr.write(t, &req)
	return req.TID
}

func (pr *pipeReceiver) write(t *testing.T, req *endpoint.Request) {
	t.Helper()
	pr.peer.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if _, err := pr.peer.Write(req.Append(nil)); err != nil {
		t.Fatalf("write: %v", err)
	}
}

// next is the next frame the receiver wrote.
func (pr *pipeReceiver) next(t *testing.T) *endpoint.Frame {
	t.Helper()
	select {
	case h, ok := <-pr.frames:
		if !ok {
			t.Fatal("receiver closed the connection")
		}
		return h
	case <-time.After(5 * time.Second):
		t.Fatal("no frame from the receiver")
		return nil
	}
}

// expectResponse checks the receiver answered tid with code.
func (pr *pipeReceiver) expectResponse(t *testing.T, tid string, code int) {
	t.Helper()
	h := pr.next(t)
	if h.Method != "" || h.TID != tid || h.Code != code {
		t.Fatalf("got %s %q %d, want response %d to %s", h.TID, h.Method, h.Code, code, tid)
	}
	if to := h.Header("To-Path"); to != "msrp://127.0.0.1:7000/relaysession;tcp" {
		t.Errorf("response To-Path %q, want the previous hop only", to)
	}
}

func sha(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

// TestReassembly: chunks out of order, a Byte-Range end of '*', a file
// name that tries to leave the directory, and one that already exists.
func TestReassembly(t *testing.T) {
	pr := newPipeReceiver(t, 2)
	disp := [2]string{"Content-Disposition", `attachment; filename="../../evil.txt"`}
	for _, c := range []chunk{
		{msgID: "m1", rng: "6-*/10", body: "56", flag: '+', headers: [][2]string{disp}},
		{msgID: "m1", rng: "8-10/10", body: "789", flag: '$', headers: [][2]string{disp}},
		{msgID: "m1", rng: "1-5/10", body: "01234", flag: '+', headers: [][2]string{disp}},
	} {
		pr.expectResponse(t, pr.send(t, c), 200)
	}
	want := fmt.Sprintf("saved %s (10 bytes, sha256 %s)", filepath.Join(pr.dir, "evil.txt"), sha("0123456789"))
	if line := pr.out.next(t, 5*time.Second); line != want {
		t.Errorf("got %q, want %q", line, want)
	}
	// The same name again: a new file beside the first.
	pr.expectResponse(t, pr.send(t, chunk{msgID: "m2", rng: "1-2/2", body: "hi", flag: '$', headers: [][2]string{disp}}), 200)
	if line := pr.out.next(t, 5*time.Second); !strings.HasPrefix(line, "saved "+filepath.Join(pr.dir, "evil-1.txt")+" (2 bytes") {
		t.Errorf("got %q", line)
	}
	if err := <-pr.err; err != nil {
		t.Errorf("receiver: %v", err)
	}
}

// TestAbortAndReports: an aborted message leaves no file; keep-alives,
// Failure-Report no and a foreign session get what RFC 4975 says; a
// success REPORT goes back along the whole From-Path.
func TestAbortAndReports(t *testing.T) {
	pr := newPipeReceiver(t, 1)
	pr.expectResponse(t, pr.send(t, chunk{msgID: "gone", rng: "1-4/8", body: "abcd", flag: '+'}), 200)
	pr.expectResponse(t, pr.send(t, chunk{msgID: "gone", rng: "5-*/8", body: "ef", flag: '#'}), 200)
	pr.expectResponse(t, pr.send(t, chunk{msgID: "ka", rng: "1-0/0", flag: '$'}), 200)

	other := endpoint.Request{Method: "SEND", ToPath: "msrp://127.0.0.1:1/someoneelse;tcp", FromPath: peerURI,
		Headers: [][2]string{{"Message-ID", "x1"}, {"Byte-Range", "1-1/1"}}, ContentType: "text/plain", Body: []byte("x")}
	pr.write(t, &other)
	pr.expectResponse(t, other.TID, 481)

	pr.send(t, chunk{msgID: "txt", rng: "1-5/5", body: "hello", ctype: "text/plain; charset=utf-8", flag: '$',
		headers: [][2]string{{"Failure-Report", "no"}, {"Success-Report", "yes"}}})
	rep := pr.next(t) // no 200 (Failure-Report: no), only the REPORT
	if rep.Method != "REPORT" || rep.Header("To-Path") != peerURI || rep.Header("From-Path") != pr.uri ||
		rep.Header("Message-ID") != "txt" || rep.Header("Byte-Range") != "1-5/5" || rep.Header("Status") != "000 200 OK" {
		t.Errorf("REPORT: %+v", rep)
	}
	if line := pr.out.next(t, 5*time.Second); line != "message from msrp://127.0.0.1:7001/alice;tcp: hello" {
		t.Errorf("got %q", line)
	}
	if err := <-pr.err; err != nil {
		t.Errorf("receiver: %v", err)
	}
	if ents, _ := os.ReadDir(pr.dir); len(ents) != 0 {
		t.Errorf("files left: %v", ents)
	}
}

func TestSafeName(t *testing.T) {
	for in, want := range map[string]string{
		"report.pdf":       "report.pdf",
		"../../etc/passwd": "passwd",
		`..\..\boot.ini`:   "boot.ini",
		"..":               "",
		"/":                "",
		"a\x00b\nc":        "abc",
		"":                 "",
	} {
		if got := safeName(in); got != want {
			t.Errorf("safeName(%q) = %q, want %q", in, got, want)
		}
	}
	if got := dispositionFilename(`attachment; filename*=utf-8''r%C3%A9sum%C3%A9.txt`); got != "résumé.txt" {
		t.Errorf("RFC 2231 name: %q", got)
	}
}
