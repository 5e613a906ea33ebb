package endpoint

import (
	"bytes"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gobwas/ws"
)

// wsServer is a tiny WebSocket server for the tests, built on gobwas/ws
// alone (not on wsshim, so the two sides are not one implementation
// agreeing with itself). It keeps every message a client sends and hands
// the connection to serve.
type wsServer struct {
	ln       net.Listener
	messages chan []byte
	wg       sync.WaitGroup
}

func newWSServer(t *testing.T, serve func(t *testing.T, s *wsPeer)) *wsServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &wsServer{ln: ln, messages: make(chan []byte, 1000)}
	srv.wg.Add(1)
	go func() {
		defer srv.wg.Done()
		nc, err := ln.Accept()
		if err != nil {
			return
		}
		defer nc.Close()
		u := ws.Upgrader{Protocol: func(p []byte) bool { return string(p) == WSProtocol }}
		if _, err := u.Upgrade(nc); err != nil {
			t.Errorf("server upgrade: %v", err)
			return
		}
		serve(t, &wsPeer{nc: nc, messages: srv.messages})
	}()
	t.Cleanup(func() {
		ln.Close()
		srv.wg.Wait()
	})
	return srv
}

func (s *wsServer) addr() string { return s.ln.Addr().String() }

// wsPeer is the server's side of one connection.
type wsPeer struct {
	nc       net.Conn
	messages chan<- []byte
	pongs    []string
}

// readMessage reads one data message, answering pings, checking every
// client frame is masked. It returns io.EOF after the client's close.
func (p *wsPeer) readMessage() ([]byte, error) {
	var msg []byte
	for {
		f, err := ws.ReadFrame(p.nc)
		if err != nil {
			return nil, err
		}
		if !f.Header.Masked {
			return nil, errors.New("client frame not masked")
		}
		f = ws.UnmaskFrameInPlace(f)
		switch f.Header.OpCode {
		case ws.OpPing:
			if err := ws.WriteFrame(p.nc, ws.NewPongFrame(f.Payload)); err != nil {
				return nil, err
			}
			continue
		case ws.OpPong:
			p.pongs = append(p.pongs, string(f.Payload))
			continue
		case ws.OpClose:
			return nil, io.EOF
		}
		msg = append(msg, f.Payload...)
		if f.Header.Fin {
			p.messages <- msg
			return msg, nil
		}
	}
}

// write sends frames as they are given.
func (p *wsPeer) write(t *testing.T, frames ...ws.Frame) {
	for _, f := range frames {
		if err := ws.WriteFrame(p.nc, f); err != nil {
			t.Errorf("server write: %v", err)
		}
	}
}

// oneFrame parses msg as MSRP frames and fails unless it holds exactly one.
func oneFrame(t *testing.T, msg []byte) *Frame {
	t.Helper()
	r := NewReader(bytes.NewReader(msg), 1<<20)
	f, err := r.ReadFrame()
	if err != nil {
		t.Fatalf("message %q: %v", msg, err)
	}
	if _, err := r.ReadFrame(); err != io.EOF {
		t.Fatalf("message holds more than one frame (%v): %q", err, msg)
	}
	return f
}

// A SEND goes out as one message; the answer comes back in two frames
// with a ping between them and is read as one MSRP response.
func TestWSRoundTrip(t *testing.T) {
	srv := newWSServer(t, func(t *testing.T, p *wsPeer) {
		msg, err := p.readMessage()
		if err != nil {
			t.Errorf("server read: %v", err)
			return
		}
		req := oneFrame(t, msg)
		resp := AppendResponse(nil, req, 200, "OK", "msrp://relay.example.com:2855/r;ws")
		half := len(resp) / 2
		p.write(t,
			ws.NewFrame(ws.OpText, false, resp[:half]),
			ws.NewPingFrame([]byte("alive?")),
			ws.NewFrame(ws.OpContinuation, true, resp[half:]),
		)
		// The pong to the ping, then the client's close.
		if _, err := p.readMessage(); err != io.EOF {
			t.Errorf("after the answer: %v", err)
		}
		if len(p.pongs) != 1 || p.pongs[0] != "alive?" {
			t.Errorf("pongs %q, want the ping's payload once", p.pongs)
		}
	})
	c, err := DialWS(srv.addr(), nil, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	req := &Request{Method: "SEND", ToPath: "msrp://relay.example.com:2855/r;ws", FromPath: "msrp://x7.invalid:1/s;ws",
		ContentType: "text/plain", Body: []byte("hello over WebSocket")}
	if err := c.Send(req); err != nil {
		t.Fatal(err)
	}
	f, err := c.ReadFrame()
	if err != nil || f.TID != req.TID || f.Code != 200 {
		t.Fatalf("answer %+v, %v", f, err)
	}
	c.Close()
}

// Every MSRP frame the endpoint writes (requests with and without a body,
// responses, a large chunk) is exactly one WebSocket message (RFC 7977
// §5.1), and a chunk streamed in pieces with WriteFragment is one too.
func TestWSOneFramePerMessage(t *testing.T) {
	const sent = 5
	srv := newWSServer(t, func(t *testing.T, p *wsPeer) {
		for {
			if _, err := p.readMessage(); err != nil {
				return
			}
		}
	})
	c, err := DialWS(srv.addr(), nil, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	to, from := "msrp://relay.example.com:2855/r;ws", "msrp://x7.invalid:1/s;ws"
	if err := c.Send(&Request{Method: "AUTH", ToPath: to, FromPath: from}); err != nil {
		t.Fatal(err)
	}
	if err := c.Send(&Request{Method: "SEND", ToPath: to, FromPath: from, ContentType: "text/plain", Body: []byte("hi")}); err != nil {
		t.Fatal(err)
	}
	big := bytes.Repeat([]byte("0123456789abcdef"), 20000)
	if err := c.Send(&Request{Method: "SEND", ToPath: to, FromPath: from, ContentType: "application/octet-stream", Body: big}); err != nil {
		t.Fatal(err)
	}
	got := &Frame{TID: "tid1", Method: "SEND", Headers: [][2]string{{"To-Path", to}, {"From-Path", "msrp://peer.invalid:2/p;ws"}}}
	if err := c.Respond(got, 200, "OK"); err != nil {
		t.Fatal(err)
	}
	wc := c.Raw().(*WSConn)
	chunk := (&Request{Method: "SEND", ToPath: to, FromPath: from, ContentType: "text/plain", Body: big}).Append(nil)
	for rest := chunk; len(rest) > 0; {
		n := min(len(rest), 7000)
		if err := wc.WriteFragment(rest[:n], false); err != nil {
			t.Fatal(err)
		}
		rest = rest[n:]
	}
	if err := wc.WriteFragment(nil, true); err != nil {
		t.Fatal(err)
	}
	c.Close()
	srv.wg.Wait()
	close(srv.messages)
	var methods []string
	for msg := range srv.messages {
		f := oneFrame(t, msg)
		methods = append(methods, f.Method+f.Comment)
	}
	if want := "AUTH SEND SEND OK SEND"; strings.Join(methods, " ") != want || len(methods) != sent {
		t.Fatalf("messages %q, want %q", methods, want)
	}
}

// The server's close ends the stream: io.EOF for a normal close, an
// error naming the code otherwise; the close is answered.
func TestWSServerClose(t *testing.T) {
	for _, tt := range []struct {
		code ws.StatusCode
		want string
	}{
		{code: ws.StatusNormalClosure, want: "EOF"},
		{code: ws.StatusMessageTooBig, want: "1009 chunk too big"},
	} {
		srv := newWSServer(t, func(t *testing.T, p *wsPeer) {
			p.write(t, ws.NewCloseFrame(ws.NewCloseFrameBody(tt.code, "chunk too big")))
			if _, err := p.readMessage(); err != io.EOF {
				t.Errorf("close not answered: %v", err)
			}
		})
		c, err := DialWS(srv.addr(), nil, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.ReadFrame()
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Fatalf("code %d: read error %v, want %q", tt.code, err, tt.want)
		}
		srv.wg.Wait()
		c.Close()
	}
}

// A refused upgrade reports the server's reason; a server that does not
// pick msrp is refused by the client.
func TestWSUpgradeRefused(t *testing.T) {
	for _, tt := range []struct {
		name   string
		answer func(nc net.Conn)
		want   string
	}{
		{
			name: "HTTP error",
			answer: func(nc net.Conn) {
				_, _ = io.WriteString(nc, "HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\nContent-Length: 38\r\n\r\norigin \"https://evil.test\" not allowed")
			},
			want: `403: origin "https://evil.test" not allowed`,
		},
		{
			name: "no subprotocol",
			answer: func(nc net.Conn) {
				_, _ = ws.Upgrader{}.Upgrade(nc)
			},
			want: `did not accept subprotocol "msrp"`,
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			done := make(chan struct{})
			go func() {
				defer close(done)
				nc, err := ln.Accept()
				if err != nil {
					return
				}
				defer nc.Close()
				if tt.name == "HTTP error" {
					// Read the request before answering.
					buf := make([]byte, 4096)
					_, _ = nc.Read(buf)
				}
				tt.answer(nc)
			}()
			_, err = DialWS(ln.Addr().String(), nil, 5*time.Second)
			<-done
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want %q", err, tt.want)
			}
		})
	}
}
