package load

import (
	"errors"
	"fmt"
	"syscall"
	"time"

	"github.com/msrprelay/msrprelay/bench/proc"
)

// procSample is a process's CPU time and resident memory at one moment.
type procSample struct {
	cpu   time.Duration
	rssKB int64
}

// sampleProc reads utime+stime of every thread of pid and its VmRSS.
func sampleProc(pid int) (procSample, error) {
	cpu, err := proc.CPU(pid)
	if err != nil {
		return procSample{}, fmt.Errorf("relay cpu: %w", err)
	}
	s := procSample{cpu: cpu}
	s.rssKB, _ = proc.RSSKB(pid)
	return s, nil
}

// selfCPU is this process's user+system time. getrusage has microsecond
// resolution, where /proc/self/stat counts 10 ms ticks.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// procSet samples a relay that may run as several processes.
type procSet []int

// procs are the target's processes that are known: PID, if set, and PIDs.
func (t *Target) procs() procSet {
	if t.PID == 0 {
		return procSet(t.PIDs)
	}
	return procSet(append([]int{t.PID}, t.PIDs...))
}

func (p procSet) sample() (procSample, error) {
	var tot procSample
	for _, pid := range p {
		s, err := sampleProc(pid)
		if err != nil {
			return tot, err
		}
		tot.cpu += s.cpu
		tot.rssKB += s.rssKB
	}
	return tot, nil
}

// rss is the summed resident memory of the set in KiB (0 if unreadable).
func (p procSet) rss() int64 {
	var kb int64
	for _, pid := range p {
		n, err := proc.RSSKB(pid)
		if err != nil {
			return 0
		}
		kb += n
	}
	return kb
}

// cpuMeter measures what a run costs the relay's processes and this
// generator between start and stop.
type cpuMeter struct {
	procs          procSet
	relay0, relay1 procSample
	relayErr       error
	self0, self1   time.Duration
}

func startMeter(t *Target) *cpuMeter {
	m := &cpuMeter{procs: t.procs()}
	m.relay0, m.relayErr = m.procs.sample()
	m.self0 = selfCPU()
	return m
}

func (m *cpuMeter) stop() {
	var err error
	m.relay1, err = m.procs.sample()
	m.relayErr = errors.Join(m.relayErr, err)
	m.self1 = selfCPU()
}

// generator is this process's CPU over msgs messages in wall.
func (m *cpuMeter) generator(msgs int64, wall time.Duration) Usage {
	return usage(m.self1-m.self0, msgs, wall)
}

// relay is the relay's CPU and memory over msgs messages in wall; nil
// when its processes are not known or could not be read.
func (m *cpuMeter) relay(msgs int64, wall time.Duration) *Usage {
	if len(m.procs) == 0 || m.relayErr != nil {
		return nil
	}
	u := usage(m.relay1.cpu-m.relay0.cpu, msgs, wall)
	u.RSSStartKB, u.RSSEndKB = m.relay0.rssKB, m.relay1.rssKB
	return &u
}
