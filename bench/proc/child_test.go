package proc

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// helperEnv makes this test binary act as the child named by its value.
const helperEnv = "PROC_TEST_CHILD"

const readyLine = "child ready"

func TestMain(m *testing.M) {
	if mode := os.Getenv(helperEnv); mode != "" {
		os.Exit(runHelper(mode, os.Args[len(os.Args)-1]))
	}
	os.Exit(m.Run())
}

// runHelper is the child: arg is an address to listen on, where a mode
// needs one.
func runHelper(mode, arg string) int {
	term := make(chan os.Signal, 1)
	switch mode {
	case "listen":
		signal.Notify(term, syscall.SIGTERM)
		l, err := net.Listen("tcp", arg)
		if err != nil {
			fmt.Println("listen:", err)
			return 1
		}
		go func() {
			for {
				nc, err := l.Accept()
				if err != nil {
					return
				}
				nc.Close()
			}
		}()
	case "line":
		signal.Notify(term, syscall.SIGTERM)
		fmt.Fprintln(os.Stderr, "before the line")
		fmt.Fprintln(os.Stderr, readyLine, "on", arg)
		fmt.Fprintln(os.Stderr, "after the line")
	case "deaf":
		// Deaf to SIGTERM: only a kill ends it.
		signal.Ignore(syscall.SIGTERM)
		fmt.Fprintln(os.Stderr, readyLine)
	case "fail":
		for i := range 7 {
			fmt.Println("line", i)
		}
		fmt.Fprintln(os.Stderr, "bad flag --nope")
		return 2
	}
	<-term
	return 0
}

func helper(t *testing.T, mode string, o Options) Options {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv(helperEnv, mode)
	o.Name, o.Path = mode, self
	if o.ReadyWithin == 0 {
		o.ReadyWithin = 30 * time.Second
	}
	return o
}

func TestStartAndStop(t *testing.T) {
	addr, err := FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	log := filepath.Join(t.TempDir(), "child.log")
	for _, c := range []struct {
		name string
		mode string
		o    Options
	}{
		{"probed", "listen", Options{Args: []string{addr}, Probe: Dials(addr), Log: log}},
		{"ready line", "line", Options{Args: []string{addr}, ReadyLine: readyLine, Log: log}},
	} {
		t.Run(c.name, func(t *testing.T) {
			ch, err := Start(helper(t, c.mode, c.o))
			if err != nil {
				t.Fatal(err)
			}
			if ch.Exited() || ch.PID() <= 0 {
				t.Fatalf("started child: exited %v, pid %d", ch.Exited(), ch.PID())
			}
			if c.mode == "listen" {
				if err := Dials(addr)(); err != nil {
					t.Fatalf("ready child does not answer: %v", err)
				}
			}
			if err := ch.Stop(30 * time.Second); err != nil {
				t.Fatalf("clean stop: %v", err)
			}
			if !ch.Exited() || ch.Err() != nil {
				t.Fatalf("after Stop: exited %v, err %v", ch.Exited(), ch.Err())
			}
			if err := ch.Stop(time.Second); err == nil || !strings.Contains(err.Error(), "already exited") {
				t.Fatalf("second Stop: %v", err)
			}
		})
	}
	// The ready line is held back, the lines around it reach the log.
	b, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	if s := string(b); strings.Contains(s, readyLine) || !strings.Contains(s, "before the line") || !strings.Contains(s, "after the line") {
		t.Fatalf("log: %q", s)
	}
}

func TestStartFails(t *testing.T) {
	log := filepath.Join(t.TempDir(), "child.log")
	never := errors.New("never ready")
	for _, c := range []struct {
		name string
		mode string
		o    Options
		want []string
	}{
		{"exits, probed", "fail", Options{Probe: Dials("127.0.0.1:1"), Log: log},
			[]string{"fail exited at start (exit status 2)", "line 3 | line 4 | line 5 | line 6 | bad flag --nope"}},
		{"exits, waiting for a line", "fail", Options{ReadyLine: readyLine},
			[]string{"fail exited at start (exit status 2)"}},
		{"never ready", "deaf", Options{Probe: func() error { return never }, ReadyWithin: time.Millisecond},
			[]string{"deaf not ready after 1ms: never ready"}},
		{"no binary", "listen", Options{Path: "/nonexistent/msrprelay"},
			[]string{"msrprelay binary (run make build)"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			o := helper(t, c.mode, c.o)
			if c.o.Path != "" {
				o.Path = c.o.Path
			}
			ch, err := Start(o)
			if err == nil {
				ch.Kill()
				t.Fatal("started")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

func TestStopKillsAfterGrace(t *testing.T) {
	ch, err := Start(helper(t, "deaf", Options{ReadyLine: readyLine}))
	if err != nil {
		t.Fatal(err)
	}
	err = ch.Stop(time.Millisecond)
	if err == nil || !strings.Contains(err.Error(), "killed") {
		t.Fatalf("Stop of a child deaf to SIGTERM: %v", err)
	}
	if !ch.Exited() {
		t.Fatal("killed child not reaped")
	}
}

func TestFreeAddr(t *testing.T) {
	addr, err := FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("free address %s not free: %v", addr, err)
	}
	l.Close()
	if err := Dials(addr)(); err == nil {
		t.Fatal("Dials reached a closed port")
	}
}

func TestStat(t *testing.T) {
	pid := os.Getpid()
	cpu, err := CPU(pid)
	if err != nil || cpu < 0 {
		t.Fatalf("CPU: %v %v", cpu, err)
	}
	if kb, err := RSSKB(pid); err != nil || kb <= 0 {
		t.Fatalf("RSSKB: %d %v", kb, err)
	}
	f, err := os.Open(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	n0, err := FDs(pid)
	f.Close()
	n1, err1 := FDs(pid)
	if err != nil || err1 != nil || n0 != n1+1 {
		t.Fatalf("FDs: %d with a file open, %d after (%v %v)", n0, n1, err, err1)
	}
	for _, bad := range []func(int) error{
		func(p int) error { _, err := CPU(p); return err },
		func(p int) error { _, err := RSSKB(p); return err },
		func(p int) error { _, err := FDs(p); return err },
	} {
		if bad(-1) == nil {
			t.Error("no error for pid -1")
		}
	}
}

// The family of a listener is its holder and the processes of the same
// name under it; a port nobody listens on has none.
func TestFamily(t *testing.T) {
	comm, err := os.ReadFile("/proc/self/comm")
	if err != nil {
		t.Skip("no /proc")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port
	ch, err := Start(helper(t, "line", Options{ReadyLine: readyLine}))
	if err != nil {
		t.Fatal(err)
	}
	defer ch.Stop(5 * time.Second)
	pids, err := Family(strings.TrimSpace(string(comm)), port)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(pids, os.Getpid()) || !slices.Contains(pids, ch.PID()) {
		t.Fatalf("family %v, want this process %d and its child %d", pids, os.Getpid(), ch.PID())
	}
	l.Close()
	if pids, err := Family(strings.TrimSpace(string(comm)), port); err == nil {
		t.Fatalf("closed listener: family %v", pids)
	}
}
