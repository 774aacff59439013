// Package hostcpu reads how much CPU time the host has spent, and how
// much of it idle.
package hostcpu

import (
	"bytes"
	"os"
	"strconv"
)

// TicksPerSecond is USER_HZ, the unit of Times.
const TicksPerSecond = 100

// Times returns the host's idle (idle + iowait) and total CPU time since
// boot in clock ticks (USER_HZ, 100 per second on Linux), from the first
// line of /proc/stat; ok is false where that cannot be read.
func Times() (idle, total uint64, ok bool) {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0, false
	}
	line, _, _ := bytes.Cut(data, []byte{'\n'})
	fields := bytes.Fields(line)
	if len(fields) < 6 || string(fields[0]) != "cpu" {
		return 0, 0, false
	}
	for i, f := range fields[1:min(len(fields), 9)] { // user ... steal
		v, err := strconv.ParseUint(string(f), 10, 64)
		if err != nil {
			return 0, 0, false
		}
		total += v
		if i == 3 || i == 4 { // idle, iowait
			idle += v
		}
	}
	return idle, total, true
}
