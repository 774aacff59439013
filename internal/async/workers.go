package async

import (
	"context"
	"sync/atomic"
	"time"
)

// How many events run at once adapts to the host's CPUs. Each running
// event holds an execution environment; when the events are CPU-bound,
// more environments than the CPUs can keep busy only add context switches
// and freezer work: on a 2-vCPU host, 64 at once executed 4.5–6k no-op
// events/s and 16 at once 6.7–7.3k (go run ./bench -parts async with
// --async-workers 16 and 64). Events that wait (on I/O, on sleep) need
// many at once instead. So the limit starts at Config.MinWorkers and
// doubles, up to Config.Workers, while every allowed event is running and
// the CPUs have idle time; it shrinks by a quarter, down to MinWorkers,
// while they have almost none.

// adaptEvery is how often the limit is reconsidered.
const adaptEvery = 200 * time.Millisecond

// nextWorkerLimit is the limit after an interval with idle the fraction
// of CPU time the host left idle; saturated says every allowed event was
// running at the end of it.
func nextWorkerLimit(limit, lo, hi int, idle float64, saturated bool) int {
	switch {
	case idle < 0.10:
		return max(lo, limit*3/4)
	case idle > 0.25 && saturated:
		return min(hi, limit*2)
	}
	return limit
}

// adaptWorkers keeps the number of events running at once at the adapted
// limit (see nextWorkerLimit) by holding back the slots of slots above it:
// a held slot is a token in the channel that no event owns. running
// counts the events running now. It holds back the slots above
// MinWorkers before it returns, so that the first fetch already sees the
// limit, and adapts in a goroutine of s.wg.
func (s *Service) adaptWorkers(ctx context.Context, slots chan struct{}, running *atomic.Int64) {
	hi := cap(slots)
	lo := min(hi, s.cfg.MinWorkers)
	prevIdle, prevTotal, ok := s.cpuTimes()
	if !ok || lo < 1 || lo == hi {
		return // no CPU figures, or nothing to adapt: Workers at once
	}
	limit, held := lo, hi-lo
	for range held {
		slots <- struct{}{} // the channel is empty: no event runs yet
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		tick := time.NewTicker(adaptEvery)
		defer tick.Stop()
		for {
			for held > hi-limit {
				<-slots // one of the tokens held back
				held--
			}
			var hold chan<- struct{} // a slot to take back, if above the limit
			if held < hi-limit {
				hold = slots
			}
			select {
			case hold <- struct{}{}:
				held++
				continue
			case <-tick.C:
			case <-ctx.Done():
				return
			}
			idle, total, ok := s.cpuTimes()
			if !ok || total <= prevTotal {
				continue // keep the limit
			}
			frac := float64(idle-prevIdle) / float64(total-prevTotal)
			prevIdle, prevTotal = idle, total
			limit = nextWorkerLimit(limit, lo, hi, frac, int(running.Load()) >= limit)
		}
	}()
}
