package load

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"syscall"
	"time"
)

// clockTicks is USER_HZ, the unit of /proc/PID/stat times: 100 on every
// Linux this runs on (it is fixed by the kernel ABI, not by HZ).
const clockTicks = 100

// procSample is a process's CPU time and resident memory at one moment.
type procSample struct {
	cpu   time.Duration
	rssKB int64
}

// sampleProc reads utime+stime of every thread of pid and its VmRSS.
func sampleProc(pid int) (procSample, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return procSample{}, fmt.Errorf("relay cpu: %w", err)
	}
	// The command name may hold spaces: fields count from the last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return procSample{}, fmt.Errorf("relay cpu: malformed /proc/%d/stat", pid)
	}
	f := bytes.Fields(b[i+1:])
	// After ')': state is field 3, utime 14 and stime 15 (1-based).
	if len(f) < 13 {
		return procSample{}, fmt.Errorf("relay cpu: short /proc/%d/stat", pid)
	}
	ut, err1 := strconv.ParseInt(string(f[11]), 10, 64)
	st, err2 := strconv.ParseInt(string(f[12]), 10, 64)
	if err1 != nil || err2 != nil {
		return procSample{}, fmt.Errorf("relay cpu: malformed /proc/%d/stat times", pid)
	}
	s := procSample{cpu: time.Duration(ut+st) * time.Second / clockTicks}
	s.rssKB, _ = readRSS(pid)
	return s, nil
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
		n, err := readRSS(pid)
		if err != nil {
			return 0
		}
		kb += n
	}
	return kb
}
