package compare

import (
	"fmt"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// pinProcess binds every thread of process pid to cpu. A Go program is
// many threads; threads it creates later inherit the binding from the
// thread that creates them, so binding all present ones binds the process.
func pinProcess(pid, cpu int) error {
	tasks, err := os.ReadDir("/proc/" + strconv.Itoa(pid) + "/task")
	if err != nil {
		return fmt.Errorf("pin %d: %w", pid, err)
	}
	var set unix.CPUSet
	set.Set(cpu)
	for _, t := range tasks {
		tid, err := strconv.Atoi(t.Name())
		if err != nil {
			continue
		}
		if err := unix.SchedSetaffinity(tid, &set); err != nil {
			return fmt.Errorf("pin %d/%d to CPU %d: %w", pid, tid, cpu, err)
		}
	}
	return nil
}

// pinTargets puts every relay process on relayCPU and this process (the
// load generator) on every other CPU, so that relay CPU per message is
// measured without the generator competing on the same core.
func pinTargets(targets []*target, relayCPU int) error {
	for _, t := range targets {
		pids := t.PIDs
		if t.child != nil {
			pids = []int{t.child.PID()}
		}
		for _, pid := range pids {
			if err := pinProcess(pid, relayCPU); err != nil {
				return err
			}
		}
	}
	n := 0
	var online unix.CPUSet
	if err := unix.SchedGetaffinity(0, &online); err == nil {
		for cpu := 0; cpu < 1024; cpu++ {
			if cpu != relayCPU && online.IsSet(cpu) {
				n++
			}
		}
	}
	if n == 0 {
		return fmt.Errorf("pin: no CPU left for the generator")
	}
	return pinProcess(os.Getpid(), firstOther(online, relayCPU))
}

func firstOther(online unix.CPUSet, skip int) int {
	for cpu := 0; cpu < 1024; cpu++ {
		if cpu != skip && online.IsSet(cpu) {
			return cpu
		}
	}
	return 0
}
