//go:build long

package gnetdrv

import (
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"testing"
	"time"

	"github.com/msrprelay/msrprelay/endpoint"
	"github.com/msrprelay/msrprelay/engine/e2etest"
)

// TestIdleSessionHeap opens bound idle sessions on an in-process relay and
// writes a heap profile (MSRP_HEAP_PROFILE) to see what an idle session
// costs; client and relay share the process, so read it with -focus.
func TestIdleSessionHeap(t *testing.T) {
	const n = 2000
	cfg := e2etest.BaseConfig(t)
	port := e2etest.FreePort(t)
	stop := startGnet(t, cfg, port, e2etest.DriverOptions{})
	defer stop()
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	var conns []*endpoint.Conn
	for i := 0; i < n; i++ {
		bob, err := endpoint.Dial(addr, nil, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		res, err := bob.Auth(endpoint.AuthOptions{RelayURI: fmt.Sprintf("msrp://example.com:%d;tcp", port), FromURI: "msrp://b.example.com:9/b;tcp", User: "bob", Password: e2etest.Password})
		if err != nil {
			t.Fatal(err)
		}
		alice, err := endpoint.Dial(addr, nil, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		req := endpoint.Request{Method: "SEND", ToPath: res.UsePath + " msrp://b.example.com:9/b;tcp", FromPath: "msrp://a.example.com:9/a;tcp",
			Headers: [][2]string{{"Message-ID", "m"}, {"Byte-Range", "1-2/2"}}, ContentType: "text/plain", Body: []byte("hi")}
		alice.Send(&req)
		f, err := bob.ReadFrame()
		if err != nil {
			t.Fatal(err)
		}
		bob.Respond(f, 200, "OK")
		if _, err := alice.ReadFrame(); err != nil {
			t.Fatal(err)
		}
		conns = append(conns, alice, bob)
	}
	time.Sleep(1500 * time.Millisecond) // a timer tick for the idle shrink
	runtime.GC()
	if p := os.Getenv("MSRP_HEAP_PROFILE"); p != "" {
		f, _ := os.Create(p)
		pprof.Lookup("heap").WriteTo(f, 0)
		f.Close()
	}
	runtime.KeepAlive(conns)
}
