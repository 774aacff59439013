package router

import (
	"testing"
	"time"
)

// TestNextFreezeDelay: a freeze undone within maxFreezeDelay doubles the
// delay up to maxFreezeDelay; a longer freeze resets it to the base; a
// base of 0 (freeze at once) never grows; a base above the cap stays.
func TestNextFreezeDelay(t *testing.T) {
	ms := time.Millisecond
	for _, tc := range []struct {
		cur, base, frozenFor, want time.Duration
	}{
		{10 * ms, 10 * ms, 5 * ms, 20 * ms},
		{20 * ms, 10 * ms, 500 * ms, 40 * ms},
		{640 * ms, 10 * ms, 5 * ms, time.Second},
		{time.Second, 10 * ms, 5 * ms, time.Second},
		{time.Second, 10 * ms, time.Second, 10 * ms},
		{80 * ms, 10 * ms, time.Hour, 10 * ms},
		{0, 0, 5 * ms, 0},
		{5 * time.Second, 5 * time.Second, 5 * ms, 5 * time.Second},
	} {
		if got := nextFreezeDelay(tc.cur, tc.base, tc.frozenFor); got != tc.want {
			t.Errorf("nextFreezeDelay(%v, %v, %v) = %v, want %v", tc.cur, tc.base, tc.frozenFor, got, tc.want)
		}
	}
}
