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
	lis, listen := d.Listener(port)
	r, err := engine.New(cfg, []engine.Listener{lis})
	if err != nil {
		t.Fatal(err)
	}
	s := New(r, Options{Options: netdrv.Options{Listen: []string{listen}, TLS: d.TLS, MaxConns: d.MaxConns, TickInterval: 100 * time.Millisecond, Logger: cfg.Logger}})
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
