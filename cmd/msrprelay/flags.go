package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/msrprelay/msrprelay/engine"
	"github.com/msrprelay/msrprelay/engine/netdrv"
)

// options is every setting of the daemon. Each is a flag; a YAML config
// file may set the same keys, and flags given on the command line win.
type options struct {
	config          string
	listen          listFlag
	transport       string
	hostname        string
	realm           string
	domains         string
	credentials     string
	engine          string
	maxConnections  int
	maxPerSource    int
	loops           int
	logLevel        string
	logFormat       string
	adminListen     string
	adminPprof      bool
	expiresMin      time.Duration
	expiresDefault  time.Duration
	expiresMax      time.Duration
	txnTimeout      time.Duration
	probation       time.Duration
	idleTimeout     time.Duration
	hopIdleTimeout  time.Duration
	maxNextHops     int
	maxSessionDials int
	dialBackoff     time.Duration
	nonceTTL        time.Duration
	maxAuthFailures int
	allowMethods    string
	highWater       int64
	lowWater        int64
	relayWindow     int64
	shutdownGrace   time.Duration

	wsOrigins    string
	wsMaxChunk   int64
	wsMaxMessage int64
	wsPing       time.Duration

	tlsCert          string
	tlsKey           string
	tlsCA            string
	tlsRSAKex        bool
	tlsEphemeralCert string
	stateDir         string
	coLocate         bool

	db  dbOptions
	acc accOptions
}

// listFlag is a repeatable flag.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error {
	*l = append(*l, v)
	return nil
}

func newFlagSet(o *options) *flag.FlagSet {
	fs := flag.NewFlagSet("msrprelay", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `MSRP relay (RFC 4976).

usage:
  msrprelay [flags]                  run the relay
  msrprelay passwd FILE USER REALM   add or replace a user in an htdigest file
  msrprelay db init URL              create the accounting table (--acc-table) in a database
  msrprelay --version                print the version and commit

flags:
`)
		fs.PrintDefaults()
	}
	fs.StringVar(&o.config, "config", "", "YAML file whose keys are these flag names (flags win)")
	fs.Var(&o.listen, "listen", "[tcp://|tls://|ws://|wss://]HOST:PORT to accept on; repeatable (default 0.0.0.0:2855); ws and wss take MSRP over WebSocket (RFC 7977) from browsers")
	fs.StringVar(&o.transport, "transport", "tls", "transport for a --listen without scheme: tls (msrps) or tcp (msrp, labs and tests)")
	fs.StringVar(&o.hostname, "hostname", "", "host name in Use-Path URIs and recognised in To-Path (default: the machine's host name)")
	fs.StringVar(&o.realm, "realm", "", "digest realm (default: the host of the AUTH To-Path, i.e. the user's domain)")
	fs.StringVar(&o.domains, "domains", "", "comma-separated AUTH domains to serve (default: any)")
	fs.StringVar(&o.credentials, "credentials", "", "htdigest file of users (user:realm:HA1; reloaded on SIGHUP), or a database: postgres://USER:PASS@HOST:PORT/DB or mysql://USER:PASS@HOST:PORT/DB (see --db-*)")
	addDatabaseFlags(fs, o)
	fs.StringVar(&o.engine, "engine", "gnet", "I/O engine: gnet (epoll reactor) or goroutine (two goroutines per connection)")
	fs.StringVar(&o.tlsCert, "tls-cert", "", "PEM certificate for msrps (reloaded on SIGHUP); its first DNS name is the default --hostname")
	fs.StringVar(&o.tlsKey, "tls-key", "", "PEM private key of --tls-cert")
	fs.StringVar(&o.tlsCA, "tls-ca", "", "PEM CA bundle that verifies next-hop relays and relays connecting in (default: system roots for next hops; no relay client certificates trusted)")
	fs.BoolVar(&o.tlsRSAKex, "tls-rsa-kex", false, "also offer TLS_RSA_WITH_AES_128_CBC_SHA (RFC 4976 §9.2; needs an RSA certificate)")
	fs.StringVar(&o.tlsEphemeralCert, "tls-ephemeral-cert", "", "without --tls-cert: where the self-signed certificate is written for clients to trust, once the listeners are up (default: STATE-DIR/ephemeral-PORT.pem)")
	fs.StringVar(&o.stateDir, "state-dir", defaultStateDir(), "this relay's own files (the ephemeral certificate)")
	fs.IntVar(&o.maxConnections, "max-connections", 0, "connection cap (default: open-files limit minus headroom)")
	fs.IntVar(&o.maxPerSource, "max-per-source", 10000, "connections from one address (users behind one NAT share it)")
	fs.IntVar(&o.loops, "loops", 0, "event loops (default: one per core)")
	fs.BoolVar(&o.coLocate, "co-locate", true, "gnet: move an endpoint's connection onto its session owner's event loop")
	fs.StringVar(&o.logLevel, "log-level", "info", "debug, info, warn or error")
	fs.StringVar(&o.logFormat, "log-format", "json", "json or console")
	fs.StringVar(&o.adminListen, "admin-listen", "", "HOST:PORT for /metrics (Prometheus) (default: off)")
	fs.BoolVar(&o.adminPprof, "admin-pprof", false, "also serve /debug/pprof/ on --admin-listen (profiles and the command line: keep that port private)")
	fs.DurationVar(&o.expiresMin, "expires-min", time.Minute, "shortest session an AUTH may ask for (423 below)")
	fs.DurationVar(&o.expiresDefault, "expires-default", 30*time.Minute, "Expires given to an AUTH that names none: how long its URI waits for a first use (in use, it lives until its connection closes or --idle-timeout)")
	fs.DurationVar(&o.expiresMax, "expires-max", 2*time.Hour, "longest session an AUTH may ask for (423 above)")
	fs.DurationVar(&o.txnTimeout, "transaction-timeout", 30*time.Second, "wait for a next hop's response before a 408 REPORT")
	fs.DurationVar(&o.probation, "probation-timeout", 30*time.Second, "time a new connection has for its first successful request")
	fs.DurationVar(&o.idleTimeout, "idle-timeout", time.Hour, "close a connection without sessions, and end a session without Expires, after this much silence")
	fs.DurationVar(&o.hopIdleTimeout, "hop-idle-timeout", 2*time.Minute, "close a connection this relay dialed to a next hop after this much silence")
	fs.IntVar(&o.maxNextHops, "max-next-hops", 256, "connections this relay may dial to next-hop relays")
	fs.IntVar(&o.maxSessionDials, "max-dials-per-session", 8, "next-hop dials one session may cause a minute")
	fs.DurationVar(&o.dialBackoff, "dial-backoff", 10*time.Second, "after a failed dial, requests for that next hop fail at once (408) for this long")
	fs.DurationVar(&o.nonceTTL, "nonce-ttl", 5*time.Minute, "digest nonce lifetime (stale=TRUE after)")
	fs.IntVar(&o.maxAuthFailures, "max-auth-failures", 3, "failed AUTHs before a connection is closed")
	fs.StringVar(&o.allowMethods, "allow-methods", "", "comma-separated methods to forward (default: all; others get 501)")
	fs.Int64Var(&o.highWater, "high-water", 1<<20, "bytes queued toward a connection before its senders pause")
	fs.Int64Var(&o.lowWater, "low-water", 256<<10, "bytes queued below which paused senders resume")
	fs.Int64Var(&o.relayWindow, "relay-window", 1<<20, "bytes of one client's chunks on a connection shared with another relay that may wait for their 200s before the client pauses")
	fs.DurationVar(&o.shutdownGrace, "shutdown-grace", 30*time.Second, "on SIGTERM, time for transfers in flight to finish")
	fs.StringVar(&o.wsOrigins, "ws-origins", "", "comma-separated Origin values a WebSocket upgrade may carry, e.g. https://chat.example.com (default: any; browsers send the page's origin)")
	fs.Int64Var(&o.wsMaxChunk, "ws-max-chunk", engine.DefaultWSMaxChunk, "longest chunk body sent to a WebSocket client: each chunk is one WebSocket message, longer ones are cut")
	fs.Int64Var(&o.wsMaxMessage, "ws-max-message", netdrv.DefaultWSMaxMessage, "longest WebSocket message (and frame) a client may send; the connection is closed with code 1009 above")
	fs.DurationVar(&o.wsPing, "ws-ping", 30*time.Second, "ping a WebSocket connection after this much silence, so proxies keep it open")
	return fs
}

// parseOptions reads the command line, then the config file for every flag
// the command line did not set.
func parseOptions(args []string) (*options, error) {
	o := &options{}
	fs := newFlagSet(o)
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if o.config != "" {
		if err := applyConfigFile(fs, o.config); err != nil {
			return nil, err
		}
	}
	if len(o.listen) == 0 {
		o.listen = listFlag{"0.0.0.0:2855"}
	}
	if err := o.check(); err != nil {
		return nil, err
	}
	return o, nil
}

// check refuses combinations of flags that cannot work, naming the flags.
func (o *options) check() error {
	switch {
	case o.expiresMin > o.expiresDefault || o.expiresDefault > o.expiresMax:
		return fmt.Errorf("need --expires-min (%v) <= --expires-default (%v) <= --expires-max (%v)", o.expiresMin, o.expiresDefault, o.expiresMax)
	case o.highWater <= 0 || o.lowWater <= 0:
		return fmt.Errorf("--high-water (%d) and --low-water (%d) must be positive byte counts", o.highWater, o.lowWater)
	case o.relayWindow < 4*2048:
		return fmt.Errorf("--relay-window (%d) must be at least 8192 bytes: chunks to other relays are cut into pieces of a quarter window", o.relayWindow)
	case o.lowWater >= o.highWater:
		return fmt.Errorf("need --low-water (%d) < --high-water (%d): senders resume below the low mark and pause above the high one", o.lowWater, o.highWater)
	case o.maxAuthFailures <= 0:
		return fmt.Errorf("--max-auth-failures (%d) must be at least 1", o.maxAuthFailures)
	case o.wsMaxChunk < 2048:
		return fmt.Errorf("--ws-max-chunk (%d) must be at least 2048 bytes (RFC 4975 §7.1.1: chunks are not cut shorter)", o.wsMaxChunk)
	case o.wsMaxMessage < o.wsMaxChunk:
		return fmt.Errorf("--ws-max-message (%d) must be at least --ws-max-chunk (%d)", o.wsMaxMessage, o.wsMaxChunk)
	}
	return o.checkDatabases()
}

func applyConfigFile(fs *flag.FlagSet, path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var m map[string]any
	if err := yaml.Unmarshal(b, &m); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	for k, v := range m {
		if fs.Lookup(k) == nil {
			return fmt.Errorf("%s: unknown key %q (keys are flag names)", path, k)
		}
		if set[k] || k == "config" {
			continue
		}
		vals := []any{v}
		if list, ok := v.([]any); ok {
			vals = list
		}
		for _, x := range vals {
			if err := fs.Set(k, fmt.Sprint(x)); err != nil {
				return fmt.Errorf("%s: key %s: %q is not %s (the flag's form, e.g. %q)", path, k, fmt.Sprint(x), kindOf(fs.Lookup(k)), fs.Lookup(k).DefValue)
			}
		}
	}
	return nil
}

// defaultStateDir is /var/lib/msrprelay for root, else the user's
// $XDG_STATE_HOME/msrprelay (~/.local/state/msrprelay): never a name
// shared with other users, as one in /tmp would be.
func defaultStateDir() string {
	if os.Geteuid() == 0 {
		return "/var/lib/msrprelay"
	}
	if d := os.Getenv("XDG_STATE_HOME"); d != "" {
		return filepath.Join(d, "msrprelay")
	}
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, ".local", "state", "msrprelay")
	}
	return filepath.Join(os.TempDir(), fmt.Sprintf("msrprelay-%d", os.Geteuid()))
}

// kindOf names the form a flag's value takes, for error messages.
func kindOf(f *flag.Flag) string {
	switch f.Value.(type) {
	case interface{ IsBoolFlag() bool }:
		return "true or false"
	}
	name, _ := flag.UnquoteUsage(f)
	switch name {
	case "duration":
		return "a duration with its unit (30s, 5m, 1h)"
	case "int":
		return "a whole number"
	case "":
		return "true or false"
	}
	return "a " + name
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
