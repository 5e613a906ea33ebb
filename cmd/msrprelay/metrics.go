package main

import (
	"context"
	"net"
	"net/http"
	"net/http/pprof"
	"runtime"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/rs/zerolog"

	"github.com/msrprelay/msrprelay/engine"
)

// metrics exports the engine's counters and a few gauges to Prometheus.
type metrics struct {
	reg      *prometheus.Registry
	counters [engine.NumCounters]prometheus.Counter
}

func newMetrics() *metrics {
	m := &metrics{reg: prometheus.NewRegistry()}
	m.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m.registerCounters()
	version, commit := buildVersion()
	info := prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "msrprelay", Name: "build_info",
		Help:        "Always 1; the labels say which build is running.",
		ConstLabels: prometheus.Labels{"version": version, "commit": commit, "goversion": runtime.Version()}})
	info.Set(1)
	m.reg.MustRegister(info)
	return m
}

// registerCounters registers one Prometheus counter per engine counter;
// engine counters sharing a name become one metric with a label.
func (m *metrics) registerCounters() {
	vecs := map[string]*prometheus.CounterVec{}
	for i := range m.counters {
		c := engine.Counter(i)
		label, value := c.Label()
		if label == "" {
			m.counters[i] = prometheus.NewCounter(prometheus.CounterOpts{Namespace: "msrprelay", Name: c.Name() + "_total", Help: c.Help()})
			m.reg.MustRegister(m.counters[i])
			continue
		}
		vec := vecs[c.Name()]
		if vec == nil {
			vec = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "msrprelay", Name: c.Name() + "_total", Help: c.Help()}, []string{label})
			vecs[c.Name()] = vec
			m.reg.MustRegister(vec)
		}
		// Created now, so that every label value is exported from the
		// start, at 0: a rate over a series that appears later is wrong.
		m.counters[i] = vec.WithLabelValues(value)
	}
}

// Add implements engine.Metrics.
func (m *metrics) Add(c engine.Counter, n int64) { m.counters[c].Add(float64(n)) }

// watch registers gauges read at scrape time.
func (m *metrics) watch(r *engine.Relay, s interface{ Conns() int }) {
	m.reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: "msrprelay", Name: "connections", Help: "Open connections, accepted and dialed."},
			func() float64 { return float64(s.Conns()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: "msrprelay", Name: "sessions", Help: "Live sessions (session URIs handed out and not ended)."},
			func() float64 { return float64(r.Sessions()) }),
	)
}

// serveAdmin serves /metrics on addr, and /debug/pprof/ when withPprof.
func serveAdmin(addr string, withPprof bool, m *metrics, log zerolog.Logger) (func(), error) {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{}))
	endpoints := "/metrics"
	if withPprof {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
		endpoints += " /debug/pprof/"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && err != http.ErrServerClosed {
			log.Error().Err(err).Msg("admin server")
		}
	}()
	log.Info().Str("admin", ln.Addr().String()).Str("endpoints", endpoints).Msg("admin listener")
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}, nil
}
