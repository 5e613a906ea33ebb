package main

import (
	"net"
	"net/http"
	"testing"

	"github.com/rs/zerolog"
)

// TestAdminPprofOptIn: the admin port serves profiles only when asked.
func TestAdminPprofOptIn(t *testing.T) {
	for _, withPprof := range []bool{false, true} {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		stop, err := serveAdmin(addr, withPprof, newMetrics(), zerolog.Nop())
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]int{"/metrics": 200, "/debug/pprof/": 404}
		if withPprof {
			want["/debug/pprof/"] = 200
		}
		for path, code := range want {
			res, err := http.Get("http://" + addr + path)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != code {
				t.Errorf("pprof %v: %s answered %d, want %d", withPprof, path, res.StatusCode, code)
			}
		}
		stop()
	}
}
