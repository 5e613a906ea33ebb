package compare

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"os"
	"runtime"
	"strconv"
	"time"

	"github.com/msrprelay/msrprelay/bench/load"
	"github.com/msrprelay/msrprelay/bench/proc"
	"github.com/msrprelay/msrprelay/endpoint"
)

// The credentials of the relays this package starts. The AUTH To-Path
// host is an address, never a name a relay could try to resolve.
const (
	benchUser     = "bench"
	benchPassword = "bench-password"
	benchRealm    = "msrpbench"
	benchHost     = "127.0.0.1"
)

// kamailioMaxBody: Kamailio's msrp module handles no bodies over 10 KB
// (../shared/docs/peers.md).
const (
	kamailioMaxBody    = 10_000
	kamailioMaxBodyWhy = "Kamailio's msrp module handles no bodies over 10 KB"
	// Its WebSocket relay reads each WebSocket frame into its 16 KB TCP
	// read buffer and drops longer ones (kamailio-ws-peer).
	kamailioWSMaxBody    = 10_000
	kamailioWSMaxBodyWhy = "Kamailio drops WebSocket frames over its 16 KB read buffer and MSRP bodies over 10 KB"
)

// BaseTarget is the target ratios are taken against; ForwarderTarget is
// the plain TCP forwarder, the floor.
const (
	BaseTarget      = "gnet"
	ForwarderTarget = "forwarder"
	// KamailioWSTarget is Kamailio's WebSocket relay.
	KamailioWSTarget = "kamailio-ws"
)

// Report is a whole comparison.
type Report struct {
	At        time.Time `json:"at"`
	Quick     bool      `json:"quick"`
	Rounds    int       `json:"rounds"`
	PerRunSec float64   `json:"per_run_seconds"`
	CPUs      int       `json:"cpus"`
	// Machine is the host and how busy it was; nil in reports from
	// before it was recorded.
	Machine   *Machine         `json:"machine,omitempty"`
	Targets   []string         `json:"targets"`
	Scenarios []ScenarioReport `json:"scenarios"`
	Notes     []string         `json:"notes,omitempty"`
	// Density is the idle-density section, when asked for.
	Density *DensityReport `json:"density,omitempty"`
}

// ScenarioReport is every target's figures for one scenario.
type ScenarioReport struct {
	Name     string   `json:"name"`
	Kind     CaseKind `json:"kind"`
	TLS      bool     `json:"tls,omitempty"`
	Pairs    int      `json:"pairs"`
	Window   int      `json:"window"`
	BodySize int      `json:"body_size"`
	Topology string   `json:"topology"`
	// FileSize and ReceiveRate (bytes/s) describe the file cases.
	FileSize    int64   `json:"file_size,omitempty"`
	ReceiveRate float64 `json:"receive_rate,omitempty"`
	// Sender and Receiver are the transports of a case on WebSocket or
	// with ends on different transports; empty otherwise.
	Sender   load.Transport  `json:"sender,omitempty"`
	Receiver load.Transport  `json:"receiver,omitempty"`
	Targets  []TargetSummary `json:"targets"`
}

// target is one system under test while a comparison runs.
type target struct {
	load.Target // its name, credentials and TCP address
	// at are its listeners' addresses by transport: tcp, and tls, ws and
	// wss when it has them.
	at map[load.Transport]string
	// tlsClient trusts its certificate; nil without TLS.
	tlsClient *tls.Config
	child     *child // nil for one this package did not start
	// maxBody is the largest body the target relays (0: no limit), and
	// maxBodyWhy says why, for the tables.
	maxBody    int
	maxBodyWhy string
	// wsOnly runs only the cases with an end on WebSocket: Kamailio's
	// WebSocket relay, whose MSRP listener the kamailio target covers.
	wsOnly bool
}

// loadTarget is what a case runs against, and false when the target cannot
// run it (no listener for a transport, bodies over its limit, a
// relays-only case).
func (t *target) loadTarget(c Case) (load.Target, bool) {
	send, recv := c.transports()
	sendAddr, sendOK := t.at[send]
	recvAddr, recvOK := t.at[recv]
	switch {
	case c.RelaysOnly && t.Kind == load.KindForwarder:
		return load.Target{}, false
	case t.maxBody > 0 && c.BodySize > t.maxBody:
		return load.Target{}, false
	case t.wsOnly && !c.webSocket():
		return load.Target{}, false
	case !sendOK || !recvOK:
		return load.Target{}, false
	}
	lt := t.Target
	lt.Addrs = []string{recvAddr}
	if send.Secure() || recv.Secure() {
		lt.TLS = t.tlsClient
	}
	if c.webSocket() || send != recv {
		lt.Sender = &load.Side{Transport: send, Addrs: []string{sendAddr}}
		lt.Receiver = &load.Side{Transport: recv, Addrs: []string{recvAddr}}
	}
	if t.child != nil {
		lt.PID = t.child.PID()
	}
	return lt, true
}

// notRun says why a target that takes the case's sender (it has that
// listener) does not run the case: its body limit, for a row in the table;
// "" when it runs c or is no relay for that sender.
func (t *target) notRun(c Case) string {
	send, _ := c.transports()
	if _, ok := t.at[send]; !ok || (t.wsOnly && !c.webSocket()) || t.maxBody == 0 || c.BodySize <= t.maxBody {
		return ""
	}
	return fmt.Sprintf("%d-byte bodies: %s", c.BodySize, t.maxBodyWhy)
}

// runCase runs c once against lt.
func runCase(ctx context.Context, lt load.Target, c Case, perRun time.Duration) (*load.Result, error) {
	sc := c.Scenario
	sc.Duration = perRun
	if c.Kind == Handshakes {
		return load.Handshakes(ctx, lt, sc)
	}
	return load.Run(ctx, lt, sc)
}

// Compare runs every scenario against every target and summarises.
func Compare(ctx context.Context, o Options) (*Report, error) {
	o = o.withDefaults()
	cases, err := o.cases()
	if err != nil {
		return nil, err
	}
	machine := readMachine() // before our own relays add to the load
	targets, cleanup, err := startTargets(o)
	if err != nil {
		return nil, err
	}
	if o.Pin {
		if err := pinTargets(targets, o.RelayCPU); err != nil {
			cleanup()
			return nil, err
		}
	}
	defer cleanup()
	runs := make([][][]*load.Result, len(cases)) // case, target, round
	errs := make([][]string, len(cases))
	for i := range cases {
		runs[i] = make([][]*load.Result, len(targets))
		errs[i] = make([]string, len(targets))
	}
	for round := 0; round < o.Rounds; round++ {
		for ci, c := range cases {
			// Alternate which target goes first so that none always runs
			// on a machine warmed (or heated) by another.
			for k := range targets {
				ti := (k + round) % len(targets)
				if err := ctx.Err(); err != nil {
					return nil, err
				}
				t := targets[ti]
				lt, ok := t.loadTarget(c)
				if !ok {
					continue
				}
				res, err := runCase(ctx, lt, c, o.PerRun)
				if err != nil {
					o.Log("%s %s round %d: %v", c.Name, t.Name, round+1, err)
					errs[ci][ti] = err.Error()
					continue
				}
				o.Log("%-26s %-10s round %d: %8.0f/s %8.1f MB/s  p50 %6d us  p99 %7d us  relay %5.1f us/op  RSS peak %6d KB  errors %d",
					c.Name, t.Name, round+1, res.MsgsPerSec, res.MBPerSec, res.Latency.P50, res.Latency.P99, relayCPU(res), relayRSSMax(res), res.ErrorCount())
				runs[ci][ti] = append(runs[ci][ti], res)
				// Let the relay tear the sessions down before the next run.
				time.Sleep(200 * time.Millisecond)
			}
		}
	}
	rep := &Report{At: time.Now().UTC(), Quick: o.Quick, Rounds: o.Rounds, PerRunSec: o.PerRun.Seconds(), CPUs: runtime.NumCPU(), Machine: machine}
	if o.Density > 0 {
		d, err := runDensity(ctx, o)
		if err != nil {
			return nil, fmt.Errorf("density: %w", err)
		}
		rep.Density = d
	}
	machine.LoadEnd = readLoad()
	for _, t := range targets {
		rep.Targets = append(rep.Targets, t.Name)
	}
	if o.Pin {
		rep.Notes = append(rep.Notes, fmt.Sprintf("Every relay was bound to CPU %d (msrprelay with --loops 1) and the load generator to another CPU (taskset-style, per thread).", o.RelayCPU))
	}
	rep.Notes = append(rep.Notes,
		"Load generator and relay share the machine's CPUs: compare ratios, not absolute figures.",
		"Relay CPU is utime+stime of the relay process over the traffic phase divided by messages delivered; the forwarder runs as a child process (msrpbench forward) so it is measured the same way.")
	for ci, c := range cases {
		sr := ScenarioReport{Name: c.Name, Kind: c.Kind, TLS: c.TLS, Pairs: c.Pairs, Window: max(c.Window, 1), BodySize: c.BodySize,
			Topology: c.Topology.String(), FileSize: c.FileSize, ReceiveRate: c.ReceiveRate}
		sr.Sender, sr.Receiver = c.Sender, c.Receiver
		for ti, t := range targets {
			if _, ok := t.loadTarget(c); ok {
				sr.Targets = append(sr.Targets, summarize(t.Name, runs[ci][ti], errs[ci][ti]))
			} else if why := t.notRun(c); why != "" {
				sr.Targets = append(sr.Targets, TargetSummary{Target: t.Name, NotRun: why})
			}
		}
		setRatios(sr.Targets)
		rep.Scenarios = append(rep.Scenarios, sr)
	}
	return rep, nil
}

func relayRSSMax(r *load.Result) int64 {
	if r.Relay == nil {
		return 0
	}
	return r.Relay.RSSMaxKB
}

func relayCPU(r *load.Result) float64 {
	if r.Relay == nil {
		return 0
	}
	return r.Relay.CPUPerMsgUs
}

// startTargets starts the relays this package owns and lists every
// target; cleanup stops the children and removes their files.
func startTargets(o Options) ([]*target, func(), error) {
	dir, err := os.MkdirTemp("", "msrpbench-")
	if err != nil {
		return nil, nil, fmt.Errorf("temp dir: %w", err)
	}
	var targets []*target
	cleanup := func() {
		for _, t := range targets {
			if t.child != nil {
				t.child.stop()
			}
		}
		os.RemoveAll(dir)
	}
	fail := func(err error) ([]*target, func(), error) {
		cleanup()
		return nil, nil, err
	}
	creds, err := writeCredentials(dir, benchUser, benchRealm, benchPassword)
	if err != nil {
		return fail(err)
	}
	cert, err := writeCertificate(dir)
	if err != nil {
		return fail(err)
	}
	for _, engine := range []string{"gnet", "goroutine"} {
		var extra []string
		if o.Pin {
			// A relay bound to one CPU runs one event loop: two would
			// be time-sliced by the kernel on that CPU.
			extra = append(extra, "--loops", "1")
		}
		c, err := startMsrprelay(o.Msrprelay, engine, creds, benchRealm, cert, extra...)
		if err != nil {
			return fail(err)
		}
		lt := load.Target{Name: engine, Addrs: []string{c.addrs[load.TransportTCP]},
			RealmHost: benchHost, User: benchUser, Password: benchPassword, AuthForm: endpoint.FormRFC}
		targets = append(targets, &target{child: c, Target: lt, at: c.addrs, tlsClient: cert.client})
	}
	fw, err := startForwarder()
	if err != nil {
		return fail(err)
	}
	targets = append(targets, &target{child: fw, Target: load.Target{Name: ForwarderTarget, Kind: load.KindForwarder, Addrs: []string{fw.addr}},
		at: map[load.Transport]string{load.TransportTCP: fw.addr}})
	if o.Kamailio != "" {
		targets = append(targets, &target{Target: kamailioTarget("kamailio", o.Kamailio, kamailioPIDs(o.Kamailio)),
			at: map[load.Transport]string{load.TransportTCP: o.Kamailio}, maxBody: kamailioMaxBody, maxBodyWhy: kamailioMaxBodyWhy})
	}
	if o.KamailioWS != "" {
		targets = append(targets, kamailioWSTarget(o))
	}
	return targets, cleanup, nil
}

// kamailioTarget is a Kamailio relay with the peer scripts' digest AUTH.
func kamailioTarget(name, addr string, pids []int) load.Target {
	return load.Target{Name: name, Addrs: []string{addr}, RealmHost: benchHost, User: benchUser,
		Password: "xyz123", AuthForm: endpoint.FormURI, PIDs: pids}
}

// kamailioWSTarget is Kamailio's WebSocket relay (kamailio-ws-peer): its
// ws listener, and its wss one if given (trusting any certificate: the
// peer script makes a self-signed one).
func kamailioWSTarget(o Options) *target {
	at := map[load.Transport]string{load.TransportWS: o.KamailioWS}
	var client *tls.Config
	if o.KamailioWSS != "" {
		at[load.TransportWSS] = o.KamailioWSS
		client = &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS12}
	}
	return &target{Target: kamailioTarget(KamailioWSTarget, o.KamailioWS, kamailioPIDs(o.KamailioWS)), at: at, tlsClient: client,
		maxBody: kamailioWSMaxBody, maxBodyWhy: kamailioWSMaxBodyWhy, wsOnly: true}
}

// kamailioPIDs finds the processes of the Kamailio listening at addr (it
// forks workers), so that its CPU is summed over all of them and not over
// another Kamailio on the machine; nil when it cannot tell (CPU unknown).
func kamailioPIDs(addr string) []int {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil
	}
	p, err := strconv.Atoi(port)
	if err != nil {
		return nil
	}
	pids, err := proc.Family("kamailio", p)
	if err != nil {
		return nil
	}
	return pids
}
