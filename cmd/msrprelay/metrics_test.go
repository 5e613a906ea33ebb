package main

import (
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	dto "github.com/prometheus/client_model/go"
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

// TestMetricsLint: the exported metrics follow Prometheus' conventions
// (names, units last, HELP texts), as promlint checks them.
func TestMetricsLint(t *testing.T) {
	m := newMetrics()
	mfs, err := m.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var ours []*dto.MetricFamily
	for _, mf := range mfs {
		if strings.HasPrefix(mf.GetName(), "msrprelay_") {
			ours = append(ours, mf)
		}
	}
	problems, err := promlint.NewWithMetricFamilies(ours).Lint()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("%s: %s", p.Metric, p.Text)
	}
	for _, mf := range ours {
		if h := mf.GetHelp(); len(h) < 10 || strings.Contains(h, mf.GetName()) {
			t.Errorf("%s: HELP %q does not explain", mf.GetName(), h)
		}
	}
}
