package proc

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
)

// Family is every process named comm in the family of the one listening
// on TCP port: the holder of the listening socket, its topmost ancestor
// of that name, and all that ancestor's descendants of that name. A
// server that forks workers (Kamailio) is measured over all of them, and
// two instances of it on one machine are told apart.
func Family(comm string, port int) ([]int, error) {
	inode, err := listeningInode(port)
	if err != nil {
		return nil, err
	}
	parent, err := processesNamed(comm)
	if err != nil {
		return nil, err
	}
	holder := 0
	for pid := range parent {
		if holds(pid, inode) {
			holder = pid
			break
		}
	}
	if holder == 0 {
		return nil, fmt.Errorf("no %s process holds the socket listening on port %d", comm, port)
	}
	top := func(pid int) int {
		for {
			pp := parent[pid]
			if _, named := parent[pp]; !named {
				return pid
			}
			pid = pp
		}
	}
	root := top(holder)
	var pids []int
	for pid := range parent {
		if top(pid) == root {
			pids = append(pids, pid)
		}
	}
	slices.Sort(pids)
	return pids, nil
}

// listeningInode is the inode of the socket listening on port (IPv4 or
// IPv6, any address).
func listeningInode(port int) (string, error) {
	want := fmt.Sprintf(":%04X", port)
	for _, file := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		f, err := os.Open(file)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			// sl local_address rem_address st ... inode (field 10)
			fs := strings.Fields(sc.Text())
			if len(fs) >= 10 && fs[3] == "0A" && strings.HasSuffix(fs[1], want) {
				f.Close()
				return fs[9], nil
			}
		}
		f.Close()
	}
	return "", fmt.Errorf("nothing listens on port %d", port)
}

// processesNamed maps every process whose command name is comm to its
// parent.
func processesNamed(comm string) (map[int]int, error) {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	parent := map[int]int{}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		open, closing := bytes.IndexByte(b, '('), bytes.LastIndexByte(b, ')')
		if open < 0 || closing < open || string(b[open+1:closing]) != comm {
			continue
		}
		// After ')': state, then the parent's pid.
		f := bytes.Fields(b[closing+1:])
		if len(f) < 2 {
			continue
		}
		if pp, err := strconv.Atoi(string(f[1])); err == nil {
			parent[pid] = pp
		}
	}
	return parent, nil
}

// holds is whether pid has the socket of inode open.
func holds(pid int, inode string) bool {
	dir := "/proc/" + strconv.Itoa(pid) + "/fd"
	ents, err := os.ReadDir(dir)
	if err != nil {
		return false
	}
	want := "socket:[" + inode + "]"
	for _, e := range ents {
		if l, err := os.Readlink(dir + "/" + e.Name()); err == nil && l == want {
			return true
		}
	}
	return false
}
