package gnettest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/msrprelay/msrprelay/engine"
	"github.com/msrprelay/msrprelay/engine/e2etest"
	"github.com/msrprelay/msrprelay/engine/gnetdrv"
	"github.com/msrprelay/msrprelay/engine/netdrv"
	"github.com/msrprelay/msrprelay/tlsshim"
)

// Relay is a running relay: its address, its port, and Stop, which the
// test's cleanup also calls (Stop may be called more than once).
type Relay struct {
	Addr string
	Port int
	Stop func()
}

// Start runs a relay with cfg on a free loopback port over plain TCP, on
// two loops, with a fast timer tick, until the test ends.
func Start(t testing.TB, cfg engine.Config) *Relay {
	t.Helper()
	port := e2etest.FreePort(t)
	r := StartOn(t, cfg, []engine.Listener{{Port: port}}, []string{fmt.Sprintf("tcp://127.0.0.1:%d", port)}, nil)
	r.Addr, r.Port = fmt.Sprintf("127.0.0.1:%d", port), port
	return r
}

// StartOn is Start on the given listeners (the engine's, and the specs to
// listen on, in the same order), with tls for the tls:// and wss:// ones.
// The returned Relay's Addr and Port are left to the caller.
func StartOn(t testing.TB, cfg engine.Config, listeners []engine.Listener, listen []string, tls *tlsshim.Options) *Relay {
	t.Helper()
	r, err := engine.New(cfg, listeners)
	if err != nil {
		t.Fatal(err)
	}
	s := gnetdrv.New(r, gnetdrv.Options{Options: netdrv.Options{Listen: listen, TLS: tls,
		TickInterval: 100 * time.Millisecond, Logger: cfg.Logger}, Loops: 2})
	done := make(chan error, 1)
	go func() { done <- s.Run() }()
	select {
	case <-s.Started():
	case err := <-done:
		t.Fatalf("gnet relay: %v", err)
	}
	var once sync.Once
	stop := func() {
		once.Do(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = s.Stop(ctx)
			<-done
		})
	}
	t.Cleanup(stop)
	return &Relay{Stop: stop}
}
