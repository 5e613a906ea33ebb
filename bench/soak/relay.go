package soak

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/msrprelay/msrprelay/bench/proc"
	"github.com/msrprelay/msrprelay/digest"
)

const (
	realm = "soak.local"
	user  = "soak"
)

// relayProc is the msrprelay process under test.
type relayProc struct {
	*proc.Child
	tcpAddr  string
	tlsAddr  string
	admin    string
	logPath  string
	tls      *tls.Config
	password string
	http     *http.Client
}

// startRelay starts bin in dir with a fresh credentials file, TCP and TLS
// listeners, an admin listener and a 1 s shutdown grace. A port taken by
// someone else between proc.FreeAddr and the relay's bind makes it exit
// at once: it is retried on other ports.
func startRelay(bin, engine, dir string, extra []string) (*relayProc, error) {
	var pw [12]byte
	if _, err := io.ReadFull(rand.Reader, pw[:]); err != nil {
		return nil, err
	}
	password := fmt.Sprintf("pw-%x", pw)
	creds := filepath.Join(dir, "credentials.htdigest")
	if err := os.WriteFile(creds, digest.AppendEntry(nil, user, realm, password), 0o600); err != nil {
		return nil, fmt.Errorf("credentials: %w", err)
	}
	var last error
	for attempt := 0; attempt < 3; attempt++ {
		r, err := tryStartRelay(bin, engine, dir, creds, extra)
		if err == nil {
			r.password = password
			return r, nil
		}
		last = err
	}
	return nil, last
}

func tryStartRelay(bin, engine, dir, creds string, extra []string) (*relayProc, error) {
	var addrs [3]string
	for i := range addrs {
		a, err := proc.FreeAddr()
		if err != nil {
			return nil, err
		}
		addrs[i] = a
	}
	r := &relayProc{
		tcpAddr: addrs[0],
		tlsAddr: addrs[1],
		admin:   addrs[2],
		logPath: filepath.Join(dir, "msrprelay.log"),
		http:    &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}},
	}
	cert := filepath.Join(dir, "ephemeral.pem")
	_ = os.Remove(cert)
	args := []string{
		"--listen", "tcp://" + r.tcpAddr, "--listen", "tls://" + r.tlsAddr,
		"--hostname", "127.0.0.1", "--realm", realm, "--credentials", creds,
		"--engine", engine, "--admin-listen", r.admin, "--admin-pprof", "--shutdown-grace", "1s",
		"--tls-ephemeral-cert", cert, "--log-level", "info",
	}
	// Ready: both listeners, the certificate file and the metrics endpoint.
	c, err := proc.Start(proc.Options{Name: "msrprelay", Path: bin, Args: append(args, extra...), Log: r.logPath,
		Probe: func() error { return r.probe(cert) }, ReadyWithin: 15 * time.Second})
	if err != nil {
		return nil, err
	}
	r.Child = c
	return r, nil
}

func (r *relayProc) probe(cert string) error {
	if err := proc.Dials(r.tcpAddr, r.tlsAddr)(); err != nil {
		return err
	}
	pem, err := os.ReadFile(cert)
	if err != nil {
		return err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return errors.New("ephemeral certificate not written yet")
	}
	r.tls = &tls.Config{RootCAs: pool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12,
		ClientSessionCache: tls.NewLRUClientSessionCache(64)}
	_, err = r.metrics()
	return err
}

// stopWithin is how long the relay, started with a 1 s shutdown grace,
// may take to exit after SIGTERM: exit status 0 by then is a clean stop.
const stopWithin = 10 * time.Second

// metrics scrapes /metrics and returns every unlabelled sample.
func (r *relayProc) metrics() (map[string]float64, error) {
	resp, err := r.http.Get("http://" + r.admin + "/metrics")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("/metrics: %s", resp.Status)
	}
	return parseMetrics(resp.Body)
}

// liveHeapKB forces a GC in the relay (/debug/pprof/heap?gc=1), saves that
// heap profile to profile, and returns the heap in use right after
// (go_memstats_heap_alloc_bytes): the live heap.
func (r *relayProc) liveHeapKB(profile string) (int64, error) {
	resp, err := r.http.Get("http://" + r.admin + "/debug/pprof/heap?gc=1")
	if err != nil {
		return 0, err
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("/debug/pprof/heap: %s (the relay needs --admin-pprof)", resp.Status)
	}
	_ = os.WriteFile(profile, b, 0o644)
	m, err := r.metrics()
	if err != nil {
		return 0, err
	}
	return int64(m["go_memstats_heap_alloc_bytes"] / 1024), nil
}

// parseMetrics reads Prometheus text: "name value" lines without labels.
func parseMetrics(rd io.Reader) (map[string]float64, error) {
	m := map[string]float64{}
	sc := bufio.NewScanner(rd)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		name := f[0]
		if i := strings.IndexByte(name, '{'); i >= 0 {
			// A labelled series: the relay's counters are summed over
			// their labels (reason, verdict, transport); others skipped.
			name = name[:i]
			if !strings.HasPrefix(name, "msrprelay_") || !strings.HasSuffix(name, "_total") {
				continue
			}
		}
		v, err := strconv.ParseFloat(f[1], 64)
		if err == nil {
			m[name] += v
		}
	}
	return m, sc.Err()
}

// sample is one look at the relay.
type sample struct {
	at         time.Duration
	rssKB      int64
	fds        int
	goroutines int
	conns      int
	sessions   int
	heapKB     int64 // go_memstats_heap_inuse_bytes: shown, not judged
	err        error
}

func (r *relayProc) sample(ctx context.Context, at time.Duration) sample {
	s := sample{at: at}
	var err error
	if s.rssKB, err = proc.RSSKB(r.PID()); err != nil {
		s.err = err
		return s
	}
	if s.fds, err = proc.FDs(r.PID()); err != nil {
		s.err = err
		return s
	}
	m, err := r.metrics()
	if err != nil {
		s.err = err
		return s
	}
	for _, name := range []string{"go_goroutines", "msrprelay_connections", "msrprelay_sessions"} {
		if _, ok := m[name]; !ok {
			s.err = fmt.Errorf("no %s in /metrics", name)
		}
	}
	g := m["go_goroutines"]
	s.goroutines = int(g)
	s.conns = int(m["msrprelay_connections"])
	s.sessions = int(m["msrprelay_sessions"])
	s.heapKB = int64(m["go_memstats_heap_inuse_bytes"] / 1024)
	return s
}
