package async

import "testing"

// TestNextWorkerLimit: the limit doubles while every allowed event runs
// and the CPUs have idle time, shrinks by a quarter while they have almost
// none, and stays within [lo, hi].
func TestNextWorkerLimit(t *testing.T) {
	for _, tc := range []struct {
		limit     int
		idle      float64
		saturated bool
		want      int
	}{
		{16, 0.5, true, 32},
		{32, 0.5, true, 64},
		{48, 0.5, true, 64},
		{16, 0.5, false, 16}, // idle CPUs but nothing waits for a worker
		{32, 0.2, true, 32},  // between the thresholds: hold
		{64, 0.05, true, 48},
		{20, 0.0, true, 16},
		{16, 0.0, false, 16},
	} {
		if got := nextWorkerLimit(tc.limit, 16, 64, tc.idle, tc.saturated); got != tc.want {
			t.Errorf("nextWorkerLimit(%d, 16, 64, %v, %v) = %d, want %d", tc.limit, tc.idle, tc.saturated, got, tc.want)
		}
	}
}
