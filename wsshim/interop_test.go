package wsshim

import (
	"bytes"
	"errors"
	"io"
	"net"
	"net/url"
	"strings"
	"testing"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
)

// loopServer drives a Session over nc as an event loop would, in reads
// smaller than a frame, and sends greeting as one message in two frames
// once upgraded. It returns the payload it read and Feed's error.
func loopServer(nc net.Conn, greeting []byte) ([]byte, error) {
	s := NewServer(&msrpConfig)
	defer s.Release()
	buf := make([]byte, 700)
	var got []byte
	greeted := false
	for {
		n, rerr := nc.Read(buf)
		var err error
		got, err = s.Feed(got, buf[:n])
		if s.Upgraded() && !greeted {
			s.Write(greeting[:10], false)
			s.Write(greeting[10:], true)
			greeted = true
		}
		if out := s.Output(); len(out) > 0 {
			if _, werr := nc.Write(out); werr != nil {
				return got, werr
			}
			s.Written()
		}
		if err != nil {
			return got, err
		}
		if rerr != nil {
			return got, rerr
		}
	}
}

// gobwas/ws's own client upgrades, reads a message sent in two frames,
// sends text and binary messages in one frame and in several, pings and
// closes; the session answers each as the RFC says.
func TestGobwasClient(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	chunk := []byte("MSRP a786hjs2 SEND\r\nTo-Path: msrp://relay.example.com:2855/r;ws\r\n" + strings.Repeat("body ", 400) + "\r\n-------a786hjs2$\r\n")
	type result struct {
		got []byte
		err error
	}
	done := make(chan result, 1)
	go func() {
		nc, err := ln.Accept()
		if err != nil {
			done <- result{nil, err}
			return
		}
		defer nc.Close()
		got, err := loopServer(nc, chunk)
		done <- result{got, err}
	}()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	u, _ := url.Parse("ws://" + ln.Addr().String() + "/")
	br, hs, err := ws.Dialer{Protocols: []string{"msrp"}}.Upgrade(client, u)
	if err != nil || hs.Protocol != "msrp" {
		t.Fatalf("upgrade: %v, protocol %q", err, hs.Protocol)
	}
	var rd io.Reader = client
	if br != nil {
		rd = io.MultiReader(br, client)
	}
	conn := struct {
		io.Reader
		io.Writer
	}{rd, client}
	msg, op, err := wsutil.ReadServerData(conn)
	if err != nil || op != ws.OpBinary || !bytes.Equal(msg, chunk) {
		t.Fatalf("greeting: op %v, %d bytes, %v", op, len(msg), err)
	}
	if err := wsutil.WriteClientMessage(client, ws.OpText, chunk); err != nil {
		t.Fatal(err)
	}
	w := wsutil.NewWriterSize(client, ws.StateClientSide, ws.OpBinary, 512)
	if _, err := w.Write(chunk); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := wsutil.WriteClientMessage(client, ws.OpPing, []byte("still there?")); err != nil {
		t.Fatal(err)
	}
	pong, err := ws.ReadFrame(conn)
	if err != nil || pong.Header.OpCode != ws.OpPong || string(pong.Payload) != "still there?" {
		t.Fatalf("pong %+v %q, %v", pong.Header, pong.Payload, err)
	}
	if err := wsutil.WriteClientMessage(client, ws.OpClose, ws.NewCloseFrameBody(ws.StatusNormalClosure, "")); err != nil {
		t.Fatal(err)
	}
	f, err := ws.ReadFrame(conn)
	if err != nil || f.Header.OpCode != ws.OpClose {
		t.Fatalf("close answer %+v, %v", f.Header, err)
	}
	r := <-done
	if !errors.Is(r.err, ErrClosed) || !bytes.Equal(r.got, append(bytes.Clone(chunk), chunk...)) {
		t.Fatalf("server read %d bytes, ended with %v", len(r.got), r.err)
	}
}
