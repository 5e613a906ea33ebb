package proc

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// readyPoll is how often a probe is retried while a child starts.
const readyPoll = 50 * time.Millisecond

// Options say how to start a child and when it is ready.
type Options struct {
	// Name is what errors call the child.
	Name string
	// Path is the binary; Args its arguments.
	Path string
	Args []string
	// Log is the file the child's stdout and stderr are appended to;
	// empty: this process's stderr.
	Log string
	// ReadyLine, if set, makes the child ready once it writes a line
	// starting with it on stderr (the line is not passed on). It is for
	// children a probe connection would disturb.
	ReadyLine string
	// Probe, when ReadyLine is empty, is called until it returns nil;
	// nil: ready once started. See Dials.
	Probe func() error
	// ReadyWithin bounds the wait for readiness.
	ReadyWithin time.Duration
}

// Child is a process this one started.
type Child struct {
	name string
	log  string
	cmd  *exec.Cmd
	done chan struct{}
	err  error // what Wait returned, once done is closed
}

// Start runs the child and returns once it is ready. A child that exits
// first, or is not ready in time, is killed and reported with the end of
// its log.
func Start(o Options) (*Child, error) {
	if _, err := os.Stat(o.Path); err != nil {
		return nil, fmt.Errorf("%s binary (run make build): %w", filepath.Base(o.Path), err)
	}
	c := &Child{name: o.Name, log: o.Log, cmd: exec.Command(o.Path, o.Args...), done: make(chan struct{})}
	// A benchmark killed outright (SIGKILL, SIGPIPE) must not leave its
	// children running: they are killed with it.
	c.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	out, closeOut, err := openOutput(o.Log)
	if err != nil {
		return nil, err
	}
	c.cmd.Stdout, c.cmd.Stderr = out, out
	var stderr io.Reader
	if o.ReadyLine != "" {
		c.cmd.Stderr = nil
		if stderr, err = c.cmd.StderrPipe(); err != nil {
			closeOut()
			return nil, fmt.Errorf("start %s: %w", o.Name, err)
		}
	}
	if err := c.cmd.Start(); err != nil {
		closeOut()
		return nil, fmt.Errorf("start %s: %w", o.Name, err)
	}
	ready := make(chan struct{})
	go func() {
		if stderr != nil {
			// Wait closes the pipe: the lines are read to the end first.
			passLines(stderr, out, o.ReadyLine, ready)
		}
		c.err = c.cmd.Wait()
		closeOut()
		close(c.done)
	}()
	if stderr == nil {
		err = c.waitProbe(o.Probe, o.ReadyWithin)
	} else {
		err = c.waitLine(ready, o.ReadyWithin)
	}
	if err != nil {
		c.Kill()
		return nil, err
	}
	return c, nil
}

// openOutput opens the log file a child writes to, or stands for stderr.
func openOutput(log string) (io.Writer, func(), error) {
	if log == "" {
		return os.Stderr, func() {}, nil
	}
	f, err := os.OpenFile(log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, nil, err
	}
	return f, func() { f.Close() }, nil
}

// passLines copies lines from r to w but the first starting with
// readyLine, which closes ready instead.
func passLines(r io.Reader, w io.Writer, readyLine string, ready chan struct{}) {
	sc := bufio.NewScanner(r)
	signalled := false
	for sc.Scan() {
		if !signalled && strings.HasPrefix(sc.Text(), readyLine) {
			close(ready)
			signalled = true
			continue
		}
		fmt.Fprintln(w, sc.Text())
	}
}

func (c *Child) waitProbe(probe func() error, within time.Duration) error {
	deadline := time.Now().Add(within)
	for {
		if c.Exited() {
			return c.exitedAtStart()
		}
		if probe == nil {
			return nil
		}
		err := probe()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not ready after %v: %w", c.name, within, err)
		}
		time.Sleep(readyPoll)
	}
}

func (c *Child) waitLine(ready <-chan struct{}, within time.Duration) error {
	select {
	case <-ready:
		return nil
	case <-c.done:
		select {
		case <-ready: // the line came, and then the end
			return nil
		default:
		}
		return c.exitedAtStart()
	case <-time.After(within):
		return fmt.Errorf("%s not ready after %v", c.name, within)
	}
}

func (c *Child) exitedAtStart() error {
	if c.log == "" {
		return fmt.Errorf("%s exited at start (%v)", c.name, c.err)
	}
	return fmt.Errorf("%s exited at start (%v); log: %s", c.name, c.err, tail(c.log, 5))
}

// PID is the child's process id.
func (c *Child) PID() int { return c.cmd.Process.Pid }

// Exited reports whether the child has ended.
func (c *Child) Exited() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// Err is how the child ended (nil: exit status 0); only meaningful once
// Exited.
func (c *Child) Err() error {
	if !c.Exited() {
		return nil
	}
	return c.err
}

// Stop sends SIGTERM and waits up to grace for the child to end, then
// kills it. Nil means a clean stop: the child was running and exited
// with status 0 within grace.
func (c *Child) Stop(grace time.Duration) error {
	if c.Exited() {
		return fmt.Errorf("%s had already exited: %v", c.name, c.err)
	}
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.done:
		if c.err != nil {
			return fmt.Errorf("%s exited with %v after SIGTERM", c.name, c.err)
		}
		return nil
	case <-time.After(grace):
		c.Kill()
		return fmt.Errorf("%s still running %v after SIGTERM: killed", c.name, grace)
	}
}

// Kill ends the child at once and waits for it.
func (c *Child) Kill() {
	if !c.Exited() {
		_ = c.cmd.Process.Kill()
		<-c.done
	}
}

// Dials is a Probe that connects to each address and hangs up.
func Dials(addrs ...string) func() error {
	return func() error {
		for _, a := range addrs {
			nc, err := net.DialTimeout("tcp", a, time.Second)
			if err != nil {
				return err
			}
			nc.Close()
		}
		return nil
	}
}

// FreeAddr is a 127.0.0.1 address whose port the kernel just gave out
// and took back. Someone else may take it before the child binds it; a
// child that then exits at start can be started again on another.
func FreeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("free port: %w", err)
	}
	defer l.Close()
	return l.Addr().String(), nil
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
