package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/gobwas/ws"

	"github.com/msrprelay/msrprelay/endpoint"
)

// wsRelay is a stand-in for a relay's WebSocket listener (the relay side
// is the engine's): it takes one connection, checks every message is
// exactly one MSRP frame (RFC 7977 §5.1), answers each SEND with 200 in
// one message, and keeps the frames.
type wsRelay struct {
	ln     net.Listener
	wg     sync.WaitGroup
	mu     sync.Mutex
	frames []*endpoint.Frame
}

func startWSRelay(t *testing.T, cfg *tls.Config) *wsRelay {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if cfg != nil {
		ln = tls.NewListener(ln, cfg)
	}
	r := &wsRelay{ln: ln}
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		nc, err := ln.Accept()
		if err != nil {
			return
		}
		defer nc.Close()
		u := ws.Upgrader{Protocol: func(p []byte) bool { return string(p) == endpoint.WSProtocol }}
		if _, err := u.Upgrade(nc); err != nil {
			t.Errorf("upgrade: %v", err)
			return
		}
		r.serve(t, nc)
	}()
	t.Cleanup(func() {
		ln.Close()
		r.wg.Wait()
	})
	return r
}

func (r *wsRelay) serve(t *testing.T, nc net.Conn) {
	var msg []byte
	for {
		f, err := ws.ReadFrame(nc)
		if err != nil {
			return
		}
		if !f.Header.Masked {
			t.Error("client frame not masked")
			return
		}
		f = ws.UnmaskFrameInPlace(f)
		if f.Header.OpCode == ws.OpClose {
			return
		}
		if f.Header.OpCode.IsControl() {
			continue
		}
		msg = append(msg, f.Payload...)
		if !f.Header.Fin {
			continue
		}
		rd := endpoint.NewReader(bytes.NewReader(msg), 4<<20)
		fr, err := rd.ReadFrame()
		if err != nil {
			t.Errorf("message of %d bytes: %v", len(msg), err)
			return
		}
		if _, err := rd.ReadFrame(); err != io.EOF {
			t.Errorf("message of %d bytes holds more than one frame", len(msg))
			return
		}
		msg = nil
		r.mu.Lock()
		r.frames = append(r.frames, fr)
		r.mu.Unlock()
		if fr.Method == "SEND" {
			resp := endpoint.AppendResponse(nil, fr, 200, "OK", endpoint.FirstURI(fr.Header("To-Path")))
			if err := ws.WriteFrame(nc, ws.NewBinaryFrame(resp)); err != nil {
				return
			}
		}
	}
}

func (r *wsRelay) addr() string { return r.ln.Addr().String() }

var wsURI = regexp.MustCompile(`^msrps?://[0-9a-z]{12}\.invalid:[0-9]+/[0-9A-Za-z]+;ws$`)

// A file goes out over ws and wss, the transport taken from the To-Path
// URI: one chunk per message, the streamed chunk (larger than the chunk
// buffer) too, from a URI with a random .invalid host and ;ws.
func TestSendOverWebSocket(t *testing.T) {
	cert, caPEM := selfSigned(t)
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, caPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	data := make([]byte, maxChunkBuf*3+12345)
	_, _ = rand.Read(data)
	file := filepath.Join(t.TempDir(), "data.bin")
	if err := os.WriteFile(file, data, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name   string
		tls    *tls.Config
		scheme string
		extra  []string
	}{
		{name: "ws", scheme: "msrp"},
		{name: "wss", tls: &tls.Config{Certificates: []tls.Certificate{cert}}, scheme: "msrps", extra: []string{"--tls-ca", caFile}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			relay := startWSRelay(t, tt.tls)
			args := append([]string{"send", "--to-path", tt.scheme + "://" + relay.addr() + "/sess1;ws", "--file", file,
				"--chunk-size", strconv.Itoa(2 * maxChunkBuf), "--success-report=false"}, tt.extra...)
			var out strings.Builder
			if err := run(context.Background(), args, &out, logWriter{t, "send: "}); err != nil {
				t.Fatal(err)
			}
			if want := "sent " + strconv.Itoa(len(data)) + " bytes"; !strings.Contains(out.String(), want) {
				t.Fatalf("output %q, want %q", out.String(), want)
			}
			relay.ln.Close()
			relay.wg.Wait()
			var got []byte
			for _, f := range relay.frames {
				if f.Method != "SEND" || !wsURI.MatchString(f.Header("From-Path")) || !strings.HasPrefix(f.Header("From-Path"), tt.scheme+"://") {
					t.Fatalf("frame %s from %q", f.Method, f.Header("From-Path"))
				}
				got = append(got, f.Body...)
			}
			if len(relay.frames) != 2 || !bytes.Equal(got, data) {
				t.Fatalf("%d chunks, %d bytes; want 2 chunks, %d bytes", len(relay.frames), len(got), len(data))
			}
		})
	}
}

// A WebSocket client at an MSRP listener is told to change transport.
func TestWebSocketAtMSRPListener(t *testing.T) {
	relay, _ := startRelay(t)
	args := []string{"send", "--to-path", "msrp://" + relay + "/s;tcp", "--message", "x", "--transport", "ws"}
	err := run(context.Background(), args, &strings.Builder{}, logWriter{t, "send: "})
	if err == nil || !strings.Contains(err.Error(), "did not answer the WebSocket upgrade") {
		t.Fatalf("error %v", err)
	}
	t.Logf("error as shown: %v", err)
}
