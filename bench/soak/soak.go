package soak

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"
)

// Config is one soak run.
type Config struct {
	Msrprelay string        // the daemon's binary
	Engine    string        // gnet or goroutine
	Duration  time.Duration // how long traffic runs
	Actors    int           // scenarios running at once
	Sample    time.Duration // relay sampling interval
	Warmup    float64       // fraction of Duration before the warm-up sample
	Seed      uint64        // 0: random
	Keep      bool          // keep the temporary directory (relay log) even on PASS
	RelayArgs []string      // extra daemon flags
	Mix       Mix           // scenario weights; zero: DefaultMix
	Out       io.Writer
}

// Slacks: the absolute growth a resource may show after warm-up (see
// Flat), and at quiescence over the baseline.
const (
	quiescentFDSlack     = 4
	quiescentGoroutSlack = 8
)

// rssSlack: each actor may have a file's worth of chunks queued in the
// relay (the high-water mark, 1 MiB), and Go's heap goal is twice the live
// heap: RSS under load moves with how many transfers overlap.
func rssSlack(actors int) float64       { return float64(16 + actors) }
func fdSlack(actors int) float64        { return float64(2*actors + 16) }
func goroutineSlack(actors int) float64 { return float64(4*actors + 32) }

// Result is what a run found.
type Result struct {
	Pass    bool
	Reasons []string
	TempDir string
}

type stats struct {
	scen                       [numKinds]atomic.Int64
	longest                    [numKinds]atomic.Int64 // ns
	messages, bytes, files     atomic.Int64
	senderDrops, receiverDrops atomic.Int64
	cutForwarded               atomic.Int64 // sender drops whose cut chunk reached bob in part (then '#')
	aborts, failReports        atomic.Int64
	reportFirst                atomic.Int64 // success REPORTs that overtook their SEND's 200
	refreshes, authFails       atomic.Int64
	lost, corrupt, failures    atomic.Int64
}

type failRec struct {
	n        int
	examples []string
}

type runner struct {
	cfg   Config
	relay *relayProc
	stats stats
	runID string
	seq   atomic.Int64
	start time.Time

	fmu      sync.Mutex
	fails    map[string]*failRec
	statuses map[string]int // failure REPORTs by Status

	smu    sync.Mutex
	scenes map[*scene]struct{}

	liveBase, liveEnd int64 // KiB of live heap after a forced GC, before and after the traffic
	liveErr           error
}

func (r *runner) msgID() string {
	return r.runID + "-" + strconv.FormatInt(r.seq.Add(1), 36)
}

func (r *runner) track(s *scene, on bool) {
	r.smu.Lock()
	defer r.smu.Unlock()
	if on {
		r.scenes[s] = struct{}{}
	} else {
		delete(r.scenes, s)
	}
}

func (r *runner) noteStatus(st string) {
	r.fmu.Lock()
	if len(r.statuses) < 50 {
		r.statuses[st]++
	} else if _, ok := r.statuses[st]; ok {
		r.statuses[st]++
	}
	r.fmu.Unlock()
}

// fail records a failure of kind; the first ones are printed at once.
func (r *runner) fail(kind, detail string) {
	r.stats.failures.Add(1)
	switch kind {
	case "lost":
		r.stats.lost.Add(1)
	case "corrupt":
		r.stats.corrupt.Add(1)
	}
	r.fmu.Lock()
	f := r.fails[kind]
	if f == nil {
		f = &failRec{}
		r.fails[kind] = f
	}
	f.n++
	if len(f.examples) < 3 {
		f.examples = append(f.examples, detail)
	}
	first := f.n <= 5
	r.fmu.Unlock()
	if first {
		fmt.Fprintf(r.cfg.Out, "%6.0fs  FAILURE %s: %s\n", time.Since(r.start).Seconds(), kind, detail)
	}
}

// Run starts the relay, runs the soak and prints its samples, summary and
// verdict to cfg.Out.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	if cfg.Actors <= 0 || cfg.Duration <= 0 || cfg.Sample <= 0 || cfg.Warmup < 0 || cfg.Warmup >= 1 {
		return nil, errors.New("soak: actors, duration and sample interval must be positive, warm-up in [0, 1)")
	}
	if cfg.Engine != "gnet" && cfg.Engine != "goroutine" {
		return nil, fmt.Errorf("soak: engine %q: want gnet or goroutine", cfg.Engine)
	}
	if cfg.Out == nil {
		cfg.Out = os.Stdout
	}
	if cfg.Mix == (Mix{}) {
		cfg.Mix = DefaultMix
	}
	if cfg.Seed == 0 {
		cfg.Seed = mrand.Uint64()
	}
	dir, err := os.MkdirTemp("", "msrpsoak-")
	if err != nil {
		return nil, err
	}
	res := &Result{TempDir: dir}
	relay, err := startRelay(cfg.Msrprelay, cfg.Engine, dir, cfg.RelayArgs)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	defer relay.Kill()
	var id [4]byte
	_, _ = rand.Read(id[:])
	r := &runner{cfg: cfg, relay: relay, runID: hex.EncodeToString(id[:]), fails: map[string]*failRec{}, statuses: map[string]int{}, scenes: map[*scene]struct{}{}}
	out := cfg.Out
	fmt.Fprintf(out, "soak: msrprelay %s (pid %d, engine %s) tcp %s tls %s admin %s; %d actors for %v, seed %d; log %s\n",
		cfg.Msrprelay, relay.PID(), cfg.Engine, relay.tcpAddr, relay.tlsAddr, relay.admin, cfg.Actors, cfg.Duration, cfg.Seed, relay.logPath)

	time.Sleep(500 * time.Millisecond)
	base := relay.sample(ctx, 0)
	if base.err != nil {
		return nil, fmt.Errorf("soak: first sample: %w", base.err)
	}
	r.liveBase, r.liveErr = relay.liveHeapKB(filepath.Join(dir, "heap-before.pprof"))
	fmt.Fprintf(out, "baseline  rss %.1f MiB  fds %d  goroutines %d\n", float64(base.rssKB)/1024, base.fds, base.goroutines)

	r.start = time.Now()
	loadCtx, cancel := context.WithTimeout(ctx, cfg.Duration)
	defer cancel()
	var samples []sample
	sampDone := make(chan struct{})
	go func() { // sampler: one line every cfg.Sample, and one at the end of the load
		defer close(sampDone)
		t := time.NewTicker(cfg.Sample)
		defer t.Stop()
		for {
			end := false
			select {
			case <-t.C:
			case <-loadCtx.Done():
				end = true
			}
			at := time.Since(r.start)
			if end && len(samples) > 0 && at-samples[len(samples)-1].at < time.Second {
				return // the last tick was the end
			}
			s := relay.sample(ctx, at)
			samples = append(samples, s)
			r.printSample(s)
			if end || relay.Exited() {
				return
			}
		}
	}()
	var wg sync.WaitGroup
	for a := 0; a < cfg.Actors; a++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := mrand.New(mrand.NewPCG(cfg.Seed, uint64(a)))
			for loadCtx.Err() == nil && !relay.Exited() {
				r.runScenario(loadCtx, cfg.Mix.pick(rng), rng)
				select {
				case <-loadCtx.Done():
				case <-time.After(time.Duration(rng.IntN(200)) * time.Millisecond):
				}
			}
		}()
	}
	<-loadCtx.Done()
	<-sampDone
	actorsDone := make(chan struct{})
	go func() { wg.Wait(); close(actorsDone) }()
	select {
	case <-actorsDone:
	case <-time.After(sceneTimeout + 30*time.Second):
		r.fail("stuck", "actors still running "+(sceneTimeout+30*time.Second).String()+" after the end: connections closed by force")
		r.smu.Lock()
		for s := range r.scenes {
			for _, ep := range s.eps {
				_ = ep.tcp.Close()
			}
		}
		r.smu.Unlock()
		select {
		case <-actorsDone:
		case <-time.After(15 * time.Second):
		}
	}
	fmt.Fprintf(out, "%6.0fs  traffic stopped\n", time.Since(r.start).Seconds())

	var reasons []string
	quiet, qok := r.quiesce(ctx, base)
	var err2 error
	if r.liveEnd, err2 = relay.liveHeapKB(filepath.Join(dir, "heap-after.pprof")); r.liveErr == nil {
		r.liveErr = err2
	}
	counters, _ := relay.metrics()
	if relay.Exited() {
		reasons = append(reasons, fmt.Sprintf("relay died during the run: %v", relay.Err()))
	} else if err := relay.Stop(stopWithin); err != nil {
		reasons = append(reasons, err.Error())
	}
	reasons = append(reasons, r.verdict(samples, base, quiet, qok, counters)...)
	r.summary(samples, base, quiet, counters)
	res.Reasons = reasons
	res.Pass = len(reasons) == 0
	if res.Pass {
		fmt.Fprintln(out, "PASS")
	} else {
		fmt.Fprintln(out, "FAIL:")
		for _, s := range reasons {
			fmt.Fprintln(out, "  -", s)
		}
	}
	if res.Pass && !cfg.Keep {
		os.RemoveAll(dir)
		res.TempDir = ""
	} else {
		fmt.Fprintf(out, "relay log and heap profiles (go tool pprof -top %s) kept in %s\n", filepath.Join(dir, "heap-after.pprof"), dir)
	}
	return res, nil
}

func (r *runner) printSample(s sample) {
	st := &r.stats
	if s.err != nil {
		fmt.Fprintf(r.cfg.Out, "%6.0fs  sample failed: %v\n", s.at.Seconds(), s.err)
		return
	}
	var scen int64
	for i := range st.scen {
		scen += st.scen[i].Load()
	}
	fmt.Fprintf(r.cfg.Out, "%6.0fs  rss %6.1f MiB (heap %5.1f)  fds %4d  goroutines %4d  conns %3d  sessions %3d | scenarios %d  msgs %d  %.1f MB  files %d  drops %d  failures %d\n",
		s.at.Seconds(), float64(s.rssKB)/1024, float64(s.heapKB)/1024, s.fds, s.goroutines, s.conns, s.sessions,
		scen, st.messages.Load(), float64(st.bytes.Load())/1e6, st.files.Load(),
		st.senderDrops.Load()+st.receiverDrops.Load(), st.failures.Load())
}

// quiesce waits up to 20 s after the traffic for the relay to hold no
// connection and no session, and for its descriptors and goroutines to come
// back to the baseline (plus a small slack). It returns the last sample.
func (r *runner) quiesce(ctx context.Context, base sample) (sample, bool) {
	deadline := time.Now().Add(20 * time.Second)
	for {
		s := r.relay.sample(ctx, time.Since(r.start))
		ok := s.err == nil && s.conns == 0 && s.sessions == 0 &&
			s.fds <= base.fds+quiescentFDSlack && s.goroutines <= base.goroutines+quiescentGoroutSlack
		if ok || time.Now().After(deadline) || r.relay.Exited() {
			if s.err == nil {
				fmt.Fprintf(r.cfg.Out, "%6.0fs  quiescent: rss %.1f MiB  fds %d  goroutines %d  conns %d  sessions %d\n",
					s.at.Seconds(), float64(s.rssKB)/1024, s.fds, s.goroutines, s.conns, s.sessions)
			}
			return s, ok
		}
		time.Sleep(time.Second)
	}
}

// warmIndex is the index of the first sample taken at or after the end of
// warm-up (-1 if none).
func warmIndex(samples []sample, warm time.Duration) int {
	for i, s := range samples {
		if s.at >= warm && s.err == nil {
			return i
		}
	}
	return -1
}

type series struct {
	name  string
	slack float64
	get   func(sample) float64
}

func (r *runner) series() []series {
	return []series{
		{"RSS (MiB)", rssSlack(r.cfg.Actors), func(s sample) float64 { return float64(s.rssKB) / 1024 }},
		{"open fds", fdSlack(r.cfg.Actors), func(s sample) float64 { return float64(s.fds) }},
		{"goroutines", goroutineSlack(r.cfg.Actors), func(s sample) float64 { return float64(s.goroutines) }},
	}
}

func (r *runner) postWarm(samples []sample) []sample {
	w := warmIndex(samples, time.Duration(float64(r.cfg.Duration)*r.cfg.Warmup))
	if w < 0 {
		return nil
	}
	var out []sample
	for _, s := range samples[w:] {
		if s.err == nil {
			out = append(out, s)
		}
	}
	return out
}

// verdict lists why the run fails (none: PASS).
func (r *runner) verdict(samples []sample, base, quiet sample, qok bool, counters map[string]float64) []string {
	var why []string
	st := &r.stats
	if n := st.failures.Load(); n > 0 {
		r.fmu.Lock()
		kinds := make([]string, 0, len(r.fails))
		for k, f := range r.fails {
			kinds = append(kinds, fmt.Sprintf("%s %d", k, f.n))
		}
		r.fmu.Unlock()
		sort.Strings(kinds)
		why = append(why, fmt.Sprintf("%d failures (%s); lost %d, corrupt %d", n, strings.Join(kinds, ", "), st.lost.Load(), st.corrupt.Load()))
	}
	for _, s := range samples {
		if s.err != nil {
			why = append(why, fmt.Sprintf("sample at %.0fs failed: %v", s.at.Seconds(), s.err))
			break
		}
	}
	post := r.postWarm(samples)
	if len(post) < 2 {
		why = append(why, "fewer than two samples after warm-up: nothing to judge flatness on (run longer)")
	}
	for _, se := range r.series() {
		vals := make([]float64, len(post))
		for i, s := range post {
			vals[i] = se.get(s)
		}
		if ok, w := Flat(vals, se.slack); !ok {
			why = append(why, fmt.Sprintf("%s not flat after warm-up: %s", se.name, w))
		}
	}
	if !qok {
		why = append(why, fmt.Sprintf("not quiescent 20 s after the traffic: %d connections, %d sessions, fds %d (baseline %d), goroutines %d (baseline %d)",
			quiet.conns, quiet.sessions, quiet.fds, base.fds, quiet.goroutines, base.goroutines))
	}
	if counters == nil {
		why = append(why, "no final metrics")
	} else if p, ok := counters["msrprelay_panics_total"]; !ok {
		why = append(why, "no msrprelay_panics_total in /metrics: recovered panics unchecked")
	} else if p > 0 {
		why = append(why, fmt.Sprintf("the relay recovered %.0f panics (log: \"bug: recovered a panic\")", p))
	}
	return why
}

func (r *runner) summary(samples []sample, base, quiet sample, counters map[string]float64) {
	out := r.cfg.Out
	st := &r.stats
	fmt.Fprintln(out)
	var sc []string
	for k := Kind(0); k < numKinds; k++ {
		sc = append(sc, fmt.Sprintf("%s %d", k, st.scen[k].Load()))
	}
	fmt.Fprintf(out, "scenarios   %s\n", strings.Join(sc, ", "))
	sc = sc[:0]
	for k := Kind(0); k < numKinds; k++ {
		sc = append(sc, fmt.Sprintf("%s %.1fs", k, time.Duration(st.longest[k].Load()).Seconds()))
	}
	fmt.Fprintf(out, "longest     %s\n", strings.Join(sc, ", "))
	fmt.Fprintf(out, "traffic     %d messages and %d files arrived whole; %.1f MB of bodies checked; %d refreshes; %d failed AUTHs\n",
		st.messages.Load(), st.files.Load(), float64(st.bytes.Load())/1e6, st.refreshes.Load(), st.authFails.Load())
	fmt.Fprintf(out, "drops       %d senders (%d with part of the cut chunk forwarded, then '#'), %d receivers; %d pieces seen ending '#'; %d failure REPORTs received\n",
		st.senderDrops.Load(), st.cutForwarded.Load(), st.receiverDrops.Load(), st.aborts.Load(), st.failReports.Load())
	r.fmu.Lock()
	var sts []string
	for k, n := range r.statuses {
		sts = append(sts, fmt.Sprintf("%q %d", k, n))
	}
	r.fmu.Unlock()
	sort.Strings(sts)
	if len(sts) > 0 {
		fmt.Fprintf(out, "reports     failure REPORT statuses: %s\n", strings.Join(sts, ", "))
	}
	fmt.Fprintf(out, "ordering    %d success REPORTs arrived before the relay's 200 to the SEND they cover (allowed: separate transactions)\n", st.reportFirst.Load())
	fmt.Fprintf(out, "failures    %d (lost %d, corrupt %d)\n", st.failures.Load(), st.lost.Load(), st.corrupt.Load())
	r.fmu.Lock()
	kinds := make([]string, 0, len(r.fails))
	for k := range r.fails {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	for _, k := range kinds {
		f := r.fails[k]
		fmt.Fprintf(out, "  %s x%d\n", k, f.n)
		for _, e := range f.examples {
			fmt.Fprintf(out, "      %s\n", e)
		}
	}
	r.fmu.Unlock()
	if counters != nil {
		var cs []string
		for _, n := range []string{"connections_opened", "sessions_created", "auth_failures", "reports_generated", "protocol_errors", "transaction_timeouts", "sender_pauses", "panics"} {
			cs = append(cs, fmt.Sprintf("%s %.0f", n, counters["msrprelay_"+n+"_total"]))
		}
		fmt.Fprintf(out, "relay       %s\n", strings.Join(cs, ", "))
	}
	fmt.Fprintln(out)
	post := r.postWarm(samples)
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	warmAt, endAt := "-", "-"
	if n := len(post); n >= 6 { // Ends: medians of three samples
		warmAt = fmt.Sprintf("%.0f-%.0fs", post[0].at.Seconds(), post[2].at.Seconds())
		endAt = fmt.Sprintf("%.0f-%.0fs", post[n-3].at.Seconds(), post[n-1].at.Seconds())
	} else if n > 0 {
		warmAt = fmt.Sprintf("%.0fs", post[0].at.Seconds())
		endAt = fmt.Sprintf("%.0fs", post[n-1].at.Seconds())
	}
	fmt.Fprintf(tw, "\tbaseline\twarm-up (%s)\tmax\tend (%s)\tquiescent\ttolerance\tflat\t\n", warmAt, endAt)
	for _, se := range r.series() {
		conv := func(v float64) string { return strconv.FormatFloat(v, 'f', 0, 64) }
		if se.name == "RSS (MiB)" {
			conv = func(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }
		}
		vals := make([]float64, len(post))
		mx := 0.0
		for i, s := range post {
			vals[i] = se.get(s)
			mx = max(mx, vals[i])
		}
		warm, end, tol := "-", "-", "-"
		if len(vals) > 0 {
			w, e := Ends(vals)
			warm, end, tol = conv(w), conv(e), conv(FlatTolerance(w, se.slack))
		}
		ok, _ := Flat(vals, se.slack)
		q := "-"
		if quiet.err == nil {
			q = conv(se.get(quiet))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%v\t\n", se.name, conv(se.get(base)), warm, conv(mx), end, q, tol, ok)
	}
	tw.Flush()
	if r.liveErr != nil {
		fmt.Fprintf(out, "live heap after a forced GC: unknown (%v)\n\n", r.liveErr)
	} else {
		fmt.Fprintf(out, "live heap after a forced GC: %.1f MiB before the traffic, %.1f MiB after it (shown, not judged: buffer pools keep some)\n\n",
			float64(r.liveBase)/1024, float64(r.liveEnd)/1024)
	}
}
