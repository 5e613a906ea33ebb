package main

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/msrprelay/msrprelay/engine"
	"github.com/msrprelay/msrprelay/engine/e2etest"
	"github.com/msrprelay/msrprelay/engine/gnetdrv"
	"github.com/msrprelay/msrprelay/engine/netdrv"
)

// startRelay runs an in-process relay on 127.0.0.1 (as engine/gnetdrv's
// end-to-end tests do) and returns its address and a function that stops it
// early (it also stops at the end of the test).
func startRelay(t *testing.T) (addr string, stop func()) {
	t.Helper()
	cfg := e2etest.BaseConfig(t)
	port := e2etest.FreePort(t)
	r, err := engine.New(cfg, []engine.Listener{{Port: port}})
	if err != nil {
		t.Fatal(err)
	}
	addr = fmt.Sprintf("127.0.0.1:%d", port)
	s := gnetdrv.New(r, gnetdrv.Options{Options: netdrv.Options{Listen: []string{"tcp://" + addr}, TickInterval: 100 * time.Millisecond, Logger: cfg.Logger}, Loops: 1})
	done := make(chan error, 1)
	go func() { done <- s.Run() }()
	select {
	case <-s.Started():
	case err := <-done:
		t.Fatalf("relay: %v", err)
	}
	var once sync.Once
	stop = func() {
		once.Do(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = s.Stop(ctx)
			<-done
		})
	}
	t.Cleanup(stop)
	return addr, stop
}

// lineWriter collects what a command writes, line by line, for a test to
// wait on. It is safe for concurrent use.
type lineWriter struct {
	mu    sync.Mutex
	part  []byte
	all   []string
	lines chan string
}

func newLineWriter() *lineWriter { return &lineWriter{lines: make(chan string, 1000)} }

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.part = append(w.part, p...)
	for {
		i := bytes.IndexByte(w.part, '\n')
		if i < 0 {
			return len(p), nil
		}
		line := string(w.part[:i])
		w.part = w.part[i+1:]
		w.all = append(w.all, line)
		select {
		case w.lines <- line:
		default:
		}
	}
}

func (w *lineWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return strings.Join(w.all, "\n")
}

// next waits for the next line.
func (w *lineWriter) next(t *testing.T, timeout time.Duration) string {
	t.Helper()
	select {
	case l := <-w.lines:
		return l
	case <-time.After(timeout):
		t.Fatalf("no output line within %v; so far:\n%s", timeout, w)
		return ""
	}
}

// logWriter passes stderr output to the test log.
type logWriter struct {
	t      *testing.T
	prefix string
}

func (w logWriter) Write(p []byte) (int, error) {
	w.t.Log(w.prefix + strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// receiver is a running "msrpclient receive".
type runningReceiver struct {
	path   string // the To-Path it printed
	out    *lineWriter
	err    chan error
	cancel context.CancelFunc
}

// startReceive runs receive with args in the background, waits for its
// path line and stops it at the end of the test.
func startReceive(t *testing.T, args ...string) *runningReceiver {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	rr := &runningReceiver{out: newLineWriter(), err: make(chan error, 1), cancel: cancel}
	go func() { rr.err <- runReceive(ctx, args, rr.out, logWriter{t, "receive: "}) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-rr.err:
		case <-time.After(5 * time.Second):
			t.Error("receive did not stop")
		}
	})
	select {
	case line := <-rr.out.lines:
		p, ok := strings.CutPrefix(line, "path: ")
		if !ok {
			t.Fatalf("first line %q, want path: ...", line)
		}
		rr.path = p
	case err := <-rr.err:
		rr.err <- err
		t.Fatalf("receive ended: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("receive printed no path")
	}
	return rr
}

// wait waits for receive to end by itself and returns its error.
func (rr *runningReceiver) wait(t *testing.T) error {
	t.Helper()
	select {
	case err := <-rr.err:
		rr.err <- err // for the cleanup
		return err
	case <-time.After(20 * time.Second):
		t.Fatal("receive did not end")
		return nil
	}
}

// send runs "msrpclient send" with args and returns its stdout.
func send(t *testing.T, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out := newLineWriter()
	err := runSend(ctx, args, out, logWriter{t, "send: "})
	return out.String(), err
}

// authArgs logs in at relay as user. The test relays listen on plain TCP
// (tlsFront adds TLS), so the args name tcp: msrpclient's default is tls.
func authArgs(relay, user string) []string {
	return []string{"--relay", relay, "--transport", "tcp", "--user", user, "--password", e2etest.Password, "--realm-host", e2etest.Realm}
}
