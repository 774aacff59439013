package router

import (
	"bufio"
	"os"
	"strconv"
	"strings"
)

// DefaultMemoryBudgetMB is half of the host's memory (MemTotal in
// /proc/meminfo), or 4,096 MB when that cannot be read.
func DefaultMemoryBudgetMB() int {
	if kb := memTotalKB("/proc/meminfo"); kb > 0 {
		return max(int(kb/1024/2), 128)
	}
	return 4096
}

func memTotalKB(path string) int64 {
	f, err := os.Open(path)
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "MemTotal:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return n
		}
	}
	return 0
}
