package main

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/rs/zerolog"

	"github.com/msrprelay/msrprelay/digest"
	"github.com/msrprelay/msrprelay/engine"
	"github.com/msrprelay/msrprelay/engine/gnetdrv"
	"github.com/msrprelay/msrprelay/engine/goroutinedrv"
	"github.com/msrprelay/msrprelay/engine/netdrv"
	"github.com/msrprelay/msrprelay/engine/sqldb"
	"github.com/msrprelay/msrprelay/wsshim"
)

// fdHeadroom is kept free under the open-files limit for dials, the admin
// listener, the log and credential files: gnet stops its whole engine if
// accept(2) ever fails with EMFILE, so the connection cap stays below it.
func fdHeadroom(limit int) int { return min(128, limit/4) }

func run(args []string) error {
	o, err := parseOptions(args)
	if err != nil {
		return err
	}
	log, closeLog, err := newLogger(o.logLevel, o.logFormat)
	if err != nil {
		return err
	}
	defer closeLog()
	listens, err := parseListens(o.listen, o.transport)
	if err != nil {
		return err
	}
	if o.engine != "gnet" && o.engine != "goroutine" {
		return fmt.Errorf("--engine %q: want gnet or goroutine", o.engine)
	}
	cfg, err := relayConfig(o, listens, log)
	if err != nil {
		return err
	}
	tlsSt, host, err := newTLSState(o, listens, cfg.Hostname, log)
	if err != nil {
		return err
	}
	cfg.Hostname = host
	limit := raiseFileLimit(log)
	maxConns := o.maxConnections
	if ceiling := limit - fdHeadroom(limit); maxConns <= 0 || maxConns > ceiling {
		if maxConns > ceiling {
			log.Warn().Int("asked", maxConns).Int("limit", limit).Msg("--max-connections lowered below the open-files limit")
		}
		maxConns = ceiling
	}
	metrics := newMetrics()
	cfg.Metrics = metrics
	closeDatabases, err := openDatabases(o, &cfg, log)
	defer closeDatabases()
	if err != nil {
		return err
	}
	relay, err := engine.New(cfg, engineListeners(listens))
	if err != nil {
		return err
	}
	srv, err := newServer(o, relay, listens, tlsSt, maxConns, log)
	if err != nil {
		return err
	}
	metrics.watch(relay, srv)
	if o.adminListen != "" {
		stopAdmin, err := serveAdmin(o.adminListen, o.adminPprof, metrics, log)
		if err != nil {
			return err
		}
		defer stopAdmin()
	}
	done := make(chan error, 1)
	go func() { done <- srv.Run() }()
	select {
	case err := <-done:
		return fmt.Errorf("listen: %w", err)
	case <-srv.Started():
	}
	if err := tlsSt.writeEphemeral(); err != nil {
		return err
	}
	log.Info().Strs("listen", o.listen).Str("hostname", cfg.Hostname).Int("max_connections", maxConns).
		Str("credentials", credentialsSource(o)).Int("users", credCount(cfg.Credentials)).Msg("msrprelay started")
	return waitForSignals(o, relay, srv, tlsSt, done, log)
}

// server is what both I/O engines offer the daemon.
type server interface {
	Run() error
	Started() <-chan struct{}
	Stop(context.Context) error
	Drain()
	Conns() int
}

func newServer(o *options, relay *engine.Relay, listens []listen, t *tlsState, maxConns int, log zerolog.Logger) (server, error) {
	common := netdrv.Options{
		Listen: driverListens(listens), TLS: t.options(), MaxConns: maxConns, MaxPerSource: o.maxPerSource, Logger: log,
		WebSocket: wsshim.Config{Origins: splitList(o.wsOrigins), MaxFrame: o.wsMaxMessage, MaxMessage: o.wsMaxMessage},
	}
	if o.engine == "goroutine" {
		return goroutinedrv.New(relay, goroutinedrv.Options{Options: common}), nil
	}
	return gnetdrv.New(relay, gnetdrv.Options{Options: common, Loops: o.loops, NoSettle: !o.coLocate}), nil
}

func credCount(c *digest.Credentials) int {
	if c == nil {
		return 0
	}
	return c.Len()
}

func waitForSignals(o *options, relay *engine.Relay, srv server, t *tlsState, done chan error, log zerolog.Logger) error {
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGHUP, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(sigs)
	for {
		select {
		case err := <-done:
			return err
		case s := <-sigs:
			if s == syscall.SIGHUP {
				reloadCredentials(o, relay, log)
				t.reload()
				continue
			}
			log.Info().Str("signal", s.String()).Dur("grace", o.shutdownGrace).Msg("shutting down: refusing new connections")
			srv.Drain()
			deadline := time.Now().Add(o.shutdownGrace)
			for !relay.Drained() && time.Now().Before(deadline) {
				time.Sleep(50 * time.Millisecond)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = srv.Stop(ctx)
			<-done
			log.Info().Msg("stopped")
			return nil
		}
	}
}

func reloadCredentials(o *options, relay *engine.Relay, log zerolog.Logger) {
	if o.credentials == "" || sqldb.IsURL(o.credentials) {
		return // the database is asked again once --db-cache-ttl runs out
	}
	c, err := digest.LoadCredentials(o.credentials)
	if err != nil {
		log.Error().Err(err).Msg("credentials not reloaded; keeping the old ones")
		return
	}
	relay.SetCredentials(c)
	log.Info().Int("users", c.Len()).Msg("credentials reloaded")
}

func relayConfig(o *options, listens []listen, log zerolog.Logger) (engine.Config, error) {
	host := o.hostname
	if host == "" {
		h, err := os.Hostname()
		if err != nil {
			return engine.Config{}, fmt.Errorf("--hostname: %w", err)
		}
		host = h
	}
	var creds *digest.Credentials
	switch {
	case o.credentials == "":
		log.Warn().Msg("no --credentials: every AUTH will fail")
	case !sqldb.IsURL(o.credentials): // a database is openDatabases' to install
		c, err := digest.LoadCredentials(o.credentials)
		if err != nil {
			return engine.Config{}, err
		}
		creds = c
	}
	var aliases []string
	for _, l := range listens {
		if a := l.addr.Addr(); !a.IsUnspecified() {
			aliases = append(aliases, a.String())
		}
	}
	return engine.Config{
		Hostname: host, Aliases: aliases, Realm: o.realm, Domains: splitList(o.domains), Credentials: creds,
		ExpiresMin: o.expiresMin, ExpiresDefault: o.expiresDefault, ExpiresMax: o.expiresMax,
		TransactionTimeout: o.txnTimeout, ProbationTimeout: o.probation, IdleTimeout: o.idleTimeout,
		HopIdleTimeout: o.hopIdleTimeout, MaxNextHops: o.maxNextHops, MaxDialsPerSession: o.maxSessionDials, DialBackoff: o.dialBackoff,
		NonceTTL: o.nonceTTL, MaxAuthFailures: o.maxAuthFailures, AllowMethods: splitList(o.allowMethods),
		HighWater: o.highWater, LowWater: o.lowWater, RelayWindow: o.relayWindow,
		WSMaxChunk: o.wsMaxChunk, WSPing: o.wsPing, Logger: log,
	}, nil
}

// listen is one --listen value.
type listen struct {
	secure    bool
	websocket bool
	addr      netip.AddrPort
}

// scheme is the listen spec's scheme: tcp, tls, ws or wss.
func (l listen) scheme() string {
	switch {
	case l.websocket && l.secure:
		return "wss"
	case l.websocket:
		return "ws"
	case l.secure:
		return "tls"
	}
	return "tcp"
}

func parseListens(specs []string, transport string) ([]listen, error) {
	if transport != "tcp" && transport != "tls" {
		return nil, fmt.Errorf("--transport %q: want tcp or tls", transport)
	}
	var out []listen
	for _, s := range specs {
		scheme, hp, ok := strings.Cut(s, "://")
		if !ok {
			scheme, hp = transport, s
		}
		if scheme != "tcp" && scheme != "tls" && scheme != "ws" && scheme != "wss" {
			return nil, fmt.Errorf("--listen %q: scheme must be tcp://, tls://, ws:// or wss://", s)
		}
		host, port, err := net.SplitHostPort(hp)
		if err != nil {
			return nil, fmt.Errorf("--listen %q: %w", s, err)
		}
		if host == "" {
			host = "0.0.0.0"
		}
		ap, err := netip.ParseAddrPort(net.JoinHostPort(host, port))
		if err != nil {
			return nil, fmt.Errorf("--listen %q: want an IP address and port: %w", s, err)
		}
		out = append(out, listen{secure: scheme == "tls" || scheme == "wss", websocket: scheme == "ws" || scheme == "wss", addr: ap})
	}
	return out, nil
}

func engineListeners(ls []listen) []engine.Listener {
	var out []engine.Listener
	for _, l := range ls {
		out = append(out, engine.Listener{Secure: l.secure, WebSocket: l.websocket, Port: int(l.addr.Port())})
	}
	return out
}

func driverListens(ls []listen) []string {
	var out []string
	for _, l := range ls {
		out = append(out, l.scheme()+"://"+l.addr.String())
	}
	return out
}

// raiseFileLimit lifts the soft open-files limit to the hard one and returns
// it: density is the point of the reactor.
func raiseFileLimit(log zerolog.Logger) int {
	var r syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r); err != nil {
		return 1024
	}
	if r.Cur < r.Max {
		want := r
		want.Cur = r.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &want); err == nil {
			r = want
		} else {
			log.Warn().Err(err).Msg("could not raise the open-files limit")
		}
	}
	return int(r.Cur)
}
