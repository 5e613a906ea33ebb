package gnetdrv

import (
	"context"
	"testing"
	"time"

	"github.com/msrprelay/msrprelay/engine"
	"github.com/msrprelay/msrprelay/engine/e2etest"
	"github.com/msrprelay/msrprelay/engine/netdrv"
)

func startGnet(t testing.TB, cfg engine.Config, port int, d e2etest.DriverOptions) func() {
	t.Helper()
	lis, listen := d.Listeners(port)
	r, err := engine.New(cfg, lis)
	if err != nil {
		t.Fatal(err)
	}
	s := New(r, Options{Options: netdrv.Options{Listen: listen, TLS: d.TLS, WebSocket: d.WebSocket, MaxConns: d.MaxConns, TickInterval: 100 * time.Millisecond, Logger: cfg.Logger}, Loops: 2})
	done := make(chan error, 1)
	go func() { done <- s.Run() }()
	select {
	case <-s.Started():
	case err := <-done:
		t.Fatalf("gnet: %v", err)
	}
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.Stop(ctx)
		<-done
	}
}

func TestEndToEnd(t *testing.T) { e2etest.Run(t, startGnet) }

// TestEndToEndTLS runs the suite's transport-neutral cases over msrps.
func TestEndToEndTLS(t *testing.T) { e2etest.RunTLS(t, startGnet) }

// TestEndToEndWS runs the suite with clients over WebSocket.
func TestEndToEndWS(t *testing.T) { e2etest.RunWS(t, startGnet) }

// TestEndToEndWSS runs the suite with clients over secure WebSocket.
func TestEndToEndWSS(t *testing.T) { e2etest.RunWSS(t, startGnet) }
