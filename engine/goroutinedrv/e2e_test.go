package goroutinedrv

import (
	"context"
	"testing"
	"time"

	"github.com/msrprelay/msrprelay/engine"
	"github.com/msrprelay/msrprelay/engine/e2etest"
	"github.com/msrprelay/msrprelay/engine/netdrv"
)

func startGoroutines(t testing.TB, cfg engine.Config, port int, d e2etest.DriverOptions) func() {
	lis, listen := d.Listeners(port)
	r, err := engine.New(cfg, lis)
	if err != nil {
		t.Fatal(err)
	}
	s := New(r, Options{Options: netdrv.Options{Listen: listen, TLS: d.TLS, WebSocket: d.WebSocket, MaxConns: d.MaxConns, TickInterval: 100 * time.Millisecond, Logger: cfg.Logger}})
	done := make(chan error, 1)
	go func() { done <- s.Run() }()
	select {
	case <-s.Started():
	case err := <-done:
		t.Fatalf("listen: %v", err)
	}
	return func() {
		_ = s.Stop(context.Background())
		<-done
	}
}

// TestEndToEnd runs the same suite as the gnet driver.
func TestEndToEnd(t *testing.T) { e2etest.Run(t, startGoroutines) }

// TestEndToEndTLS runs the suite's transport-neutral cases over msrps.
func TestEndToEndTLS(t *testing.T) { e2etest.RunTLS(t, startGoroutines) }

// TestEndToEndWS runs the suite with clients over WebSocket.
func TestEndToEndWS(t *testing.T) { e2etest.RunWS(t, startGoroutines) }

// TestEndToEndWSS runs the suite with clients over secure WebSocket.
func TestEndToEndWSS(t *testing.T) { e2etest.RunWSS(t, startGoroutines) }
