package main

import (
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	dto "github.com/prometheus/client_model/go"
	"github.com/rs/zerolog"

	"github.com/msrprelay/msrprelay/engine"
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

// TestMetricLabels: counters the engine keeps per verdict, reason or
// transport are one metric each, with every label value exported from the
// start and counted under its own value.
func TestMetricLabels(t *testing.T) {
	m := newMetrics()
	m.Add(engine.ConnsClosedIdle, 2)
	m.Add(engine.AuthFailReplays, 1)
	m.Add(engine.ConnsOpenedTLS, 3)
	mfs, err := m.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]map[string]float64{}
	for _, mf := range mfs {
		for _, mt := range mf.GetMetric() {
			for _, lp := range mt.GetLabel() {
				if got[mf.GetName()] == nil {
					got[mf.GetName()] = map[string]float64{}
				}
				got[mf.GetName()][lp.GetName()+"="+lp.GetValue()] = mt.GetCounter().GetValue()
			}
		}
	}
	want := map[string]map[string]float64{
		"msrprelay_connections_closed_total": {"reason=peer": 0, "reason=idle": 2, "reason=probation": 0, "reason=auth_failures": 0,
			"reason=refusals": 0, "reason=protocol_error": 0, "reason=panic": 0},
		"msrprelay_auth_failures_total":      {"verdict=credentials": 0, "verdict=replay": 1, "verdict=refused": 0},
		"msrprelay_connections_opened_total": {"transport=tcp": 0, "transport=tls": 3, "transport=ws": 0, "transport=wss": 0},
	}
	for name, series := range want {
		for lv, v := range series {
			if g, ok := got[name][lv]; !ok || g != v {
				t.Errorf("%s{%s} = %v (exported %v), want %v", name, lv, g, ok, v)
			}
		}
		if len(got[name]) != len(series) {
			t.Errorf("%s has series %v", name, got[name])
		}
	}
}
