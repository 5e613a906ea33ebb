package soak

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/msrprelay/msrprelay/digest"
)

const (
	realm = "soak.local"
	user  = "soak"
)

// relayProc is the msrprelay process under test.
type relayProc struct {
	cmd      *exec.Cmd
	done     chan struct{}
	waitErr  error
	tcpAddr  string
	tlsAddr  string
	admin    string
	logPath  string
	tls      *tls.Config
	password string
	http     *http.Client
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// startRelay starts bin in dir with a fresh credentials file, TCP and TLS
// listeners, an admin listener and a 1 s shutdown grace. A port taken by
// someone else between freePort and the relay's bind makes it exit at
// once: it is retried on other ports.
func startRelay(bin, engine, dir string, extra []string) (*relayProc, error) {
	if _, err := os.Stat(bin); err != nil {
		return nil, fmt.Errorf("msrprelay binary (run make build): %w", err)
	}
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
	var ports [3]int
	for i := range ports {
		p, err := freePort()
		if err != nil {
			return nil, err
		}
		ports[i] = p
	}
	r := &relayProc{
		tcpAddr: "127.0.0.1:" + strconv.Itoa(ports[0]),
		tlsAddr: "127.0.0.1:" + strconv.Itoa(ports[1]),
		admin:   "127.0.0.1:" + strconv.Itoa(ports[2]),
		logPath: filepath.Join(dir, "msrprelay.log"),
		done:    make(chan struct{}),
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
	logf, err := os.OpenFile(r.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	r.cmd = exec.Command(bin, append(args, extra...)...)
	r.cmd.Stdout, r.cmd.Stderr = logf, logf
	// A soak killed outright (SIGKILL, SIGPIPE) must not leave its relay
	// running: the relay is killed with it.
	r.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := r.cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start msrprelay: %w", err)
	}
	go func() {
		r.waitErr = r.cmd.Wait()
		logf.Close()
		close(r.done)
	}()
	if err := r.waitReady(cert); err != nil {
		r.kill()
		return nil, err
	}
	return r, nil
}

func (r *relayProc) pid() int { return r.cmd.Process.Pid }

func (r *relayProc) exited() bool {
	select {
	case <-r.done:
		return true
	default:
		return false
	}
}

// waitReady waits up to 15 s for both listeners, the certificate file and
// the metrics endpoint.
func (r *relayProc) waitReady(cert string) error {
	deadline := time.Now().Add(15 * time.Second)
	for {
		if r.exited() {
			return fmt.Errorf("msrprelay exited at start (%v); log: %s", r.waitErr, tail(r.logPath, 5))
		}
		err := r.probe(cert)
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("msrprelay not ready: %w", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (r *relayProc) probe(cert string) error {
	for _, a := range []string{r.tcpAddr, r.tlsAddr} {
		nc, err := net.DialTimeout("tcp", a, time.Second)
		if err != nil {
			return err
		}
		nc.Close()
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

// stop sends SIGTERM and waits for the exit; exit status 0 within the
// grace period (plus slack) is a clean stop.
func (r *relayProc) stop() error {
	if r.exited() {
		return fmt.Errorf("msrprelay had already exited: %v", r.waitErr)
	}
	_ = r.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-r.done:
		if r.waitErr != nil {
			return fmt.Errorf("msrprelay exited with %v after SIGTERM", r.waitErr)
		}
		return nil
	case <-time.After(10 * time.Second):
		r.kill()
		return errors.New("msrprelay still running 10 s after SIGTERM (grace 1 s): killed")
	}
}

func (r *relayProc) kill() {
	if !r.exited() {
		_ = r.cmd.Process.Kill()
		<-r.done
	}
}

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
	if s.rssKB, err = readRSS(r.pid()); err != nil {
		s.err = err
		return s
	}
	if s.fds, err = countFDs(r.pid()); err != nil {
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

func readRSS(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range bytes.Split(b, []byte{'\n'}) {
		if v, ok := bytes.CutPrefix(line, []byte("VmRSS:")); ok {
			f := bytes.Fields(v)
			if len(f) > 0 {
				return strconv.ParseInt(string(f[0]), 10, 64)
			}
		}
	}
	return 0, fmt.Errorf("no VmRSS for %d", pid)
}

func countFDs(pid int) (int, error) {
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return 0, err
	}
	return len(ents), nil
}

// tail returns the last n lines of a file, joined by " | ".
func tail(path string, n int) string {
	b, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}
