package hostcpu

import (
	"testing"
	"time"
)

// TestTimes reads this host's CPU times; they advance.
func TestTimes(t *testing.T) {
	idle, total, ok := Times()
	if !ok || total == 0 || idle > total {
		t.Fatalf("Times() = %d, %d, %v", idle, total, ok)
	}
	for deadline := time.Now().Add(2 * time.Second); ; {
		_, total2, ok := Times()
		if ok && total2 > total {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("total CPU time did not advance from %d in 2s", total)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
