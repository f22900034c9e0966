package metrics

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"

	"github.com/hashicorp/go-hclog"
)

// userHZ is the unit of the times of /proc/PID/stat: 1/100 s on every
// Linux that ringsup runs on.
const userHZ = 100

// processFamilies returns the metrics of ringsup's own process, the
// process_* families the official client library's process collector has,
// with the same names, types and sources. A family whose source cannot be
// read is left out, and the error logged.
func processFamilies(log hclog.Logger) []*family {
	var fams []*family
	add := func(name, typ, help string, v float64) {
		f := &family{name: name, typ: typ, help: help}
		f.add(v)
		fams = append(fams, f)
	}
	if st, err := readStat(); err != nil {
		log.Error("cannot read the process's stat for a scrape", "error", err)
	} else {
		add("process_cpu_seconds_total", counter, "Total user and system CPU time spent in seconds.", float64(st.utime+st.stime)/userHZ)
		add("process_virtual_memory_bytes", gauge, "Virtual memory size in bytes.", float64(st.vsize))
		add("process_resident_memory_bytes", gauge, "Resident memory size in bytes.", float64(st.rss*int64(os.Getpagesize())))
		if boot, err := bootTime(); err != nil {
			log.Error("cannot read the boot time for a scrape", "error", err)
		} else {
			add("process_start_time_seconds", gauge, "Start time of the process since unix epoch in seconds.", float64(boot)+float64(st.starttime)/userHZ)
		}
	}
	if fds, err := os.ReadDir("/proc/self/fd"); err != nil {
		log.Error("cannot count the open files for a scrape", "error", err)
	} else {
		add("process_open_fds", gauge, "Number of open file descriptors.", float64(len(fds)-1)) // less ReadDir's own
	}
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err == nil {
		add("process_max_fds", gauge, "Maximum number of open file descriptors.", float64(lim.Cur))
	}
	if err := syscall.Getrlimit(syscall.RLIMIT_AS, &lim); err == nil {
		add("process_virtual_memory_max_bytes", gauge, "Maximum amount of virtual memory available in bytes.", float64(lim.Cur))
	}
	if in, out, err := netOctets(); err != nil {
		log.Error("cannot read the network statistics for a scrape", "error", err)
	} else {
		add("process_network_receive_bytes_total", counter, "Number of bytes received by the process over the network.", in)
		add("process_network_transmit_bytes_total", counter, "Number of bytes sent by the process over the network.", out)
	}
	return fams
}

// stat holds the fields of /proc/self/stat that the metrics use.
type stat struct {
	utime, stime, starttime uint64 // in 1/userHZ s
	vsize                   uint64 // bytes
	rss                     int64  // pages
}

// readStat reads /proc/self/stat (proc(5)).
func readStat() (stat, error) {
	var st stat
	b, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		return st, err
	}
	// The command name, in parentheses, may hold spaces and parentheses:
	// the fields start after the last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return st, errors.New("cannot parse /proc/self/stat: no command name")
	}
	f := strings.Fields(string(b[i+1:]))
	// f[0] is field 3 (state); utime is field 14, stime 15, starttime 22,
	// vsize 23, rss 24.
	const first = 3
	if len(f) < 24-first+1 {
		return st, fmt.Errorf("cannot parse /proc/self/stat: %d fields", len(f)+first-1)
	}
	for _, x := range []struct {
		field int
		dst   *uint64
	}{{14, &st.utime}, {15, &st.stime}, {22, &st.starttime}, {23, &st.vsize}} {
		if *x.dst, err = strconv.ParseUint(f[x.field-first], 10, 64); err != nil {
			return st, fmt.Errorf("cannot parse /proc/self/stat: %w", err)
		}
	}
	if st.rss, err = strconv.ParseInt(f[24-first], 10, 64); err != nil {
		return st, fmt.Errorf("cannot parse /proc/self/stat: %w", err)
	}
	return st, nil
}

// bootTime returns the btime line of /proc/stat: when the system booted,
// in Unix seconds.
func bootTime() (int64, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, err
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "btime "); ok {
			return strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		}
	}
	return 0, errors.New("cannot find btime in /proc/stat")
}

// netOctets returns InOctets and OutOctets of the IpExt lines of
// /proc/self/net/netstat: the bytes received and sent over IP in the
// process's network namespace.
func netOctets() (in, out float64, err error) {
	b, err := os.ReadFile("/proc/self/net/netstat")
	if err != nil {
		return 0, 0, err
	}
	// Lines come in pairs: "IpExt: Name1 Name2 ..." then "IpExt: 1 2 ...".
	var names []string
	for line := range strings.Lines(string(b)) {
		fields := strings.Fields(line)
		if len(fields) == 0 || fields[0] != "IpExt:" {
			continue
		}
		if names == nil {
			names = fields
			continue
		}
		for i := 1; i < min(len(names), len(fields)); i++ {
			v, err := strconv.ParseFloat(fields[i], 64)
			if err != nil {
				continue
			}
			switch names[i] {
			case "InOctets":
				in = v
			case "OutOctets":
				out = v
			}
		}
		return in, out, nil
	}
	return 0, 0, errors.New("cannot find IpExt in /proc/self/net/netstat")
}
