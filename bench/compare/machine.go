package compare

import (
	"fmt"
	"os"
	"runtime"
	"strings"
)

// Machine describes the host a comparison ran on. Figures from a shared
// or busy machine are lower and noisier; the report says how busy it was
// so that a reader can tell a slow relay from a loaded host.
type Machine struct {
	CPUModel string `json:"cpu_model,omitempty"`
	CPUs     int    `json:"cpus"`
	Kernel   string `json:"kernel,omitempty"`
	// LoadStart and LoadEnd are the 1, 5 and 15 minute load averages
	// before the first run and after the last: the relay and generator
	// raise them during the run, so the start figure is the one that
	// shows other work on the machine.
	LoadStart []float64 `json:"load_start,omitempty"`
	LoadEnd   []float64 `json:"load_end,omitempty"`
}

// readMachine reads what /proc says about the host; fields it cannot read
// stay empty.
func readMachine() *Machine {
	m := &Machine{CPUs: runtime.NumCPU(), LoadStart: readLoad()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		m.CPUModel = cpuModel(string(b))
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	return m
}

// cpuModel is the first "model name" of /proc/cpuinfo.
func cpuModel(cpuinfo string) string {
	for line := range strings.SplitSeq(cpuinfo, "\n") {
		k, v, ok := strings.Cut(line, ":")
		if ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// readLoad returns the three load averages, or nil.
func readLoad() []float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return nil
	}
	return parseLoad(string(b))
}

func parseLoad(s string) []float64 {
	var l [3]float64
	if n, _ := fmt.Sscanf(s, "%g %g %g", &l[0], &l[1], &l[2]); n != 3 {
		return nil
	}
	return l[:]
}

// busy says whether other work was running when the comparison started:
// a 1-minute load average above a quarter of the CPUs.
func (m *Machine) busy() bool {
	return len(m.LoadStart) == 3 && m.CPUs > 0 && m.LoadStart[0] > float64(m.CPUs)/4
}

// describe is the report's machine line.
func (m *Machine) describe() string {
	if m == nil {
		return "Machine: not recorded (a report from before msrpbench recorded it)."
	}
	model := m.CPUModel
	if model == "" {
		model = "unknown CPU"
	}
	s := fmt.Sprintf("Machine: %s, %d CPUs", model, m.CPUs)
	if m.Kernel != "" {
		s += ", Linux " + m.Kernel
	}
	load := func(l []float64) string {
		if len(l) != 3 {
			return "unknown"
		}
		return fmt.Sprintf("%.2f %.2f %.2f", l[0], l[1], l[2])
	}
	s += fmt.Sprintf("; load average (1, 5, 15 min) %s before the first run, %s after the last.", load(m.LoadStart), load(m.LoadEnd))
	if m.busy() {
		s += " **The machine was busy when the run started: figures are lower and noisier than on an idle one.**"
	}
	return s
}
