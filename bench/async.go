package main

import (
	"bufio"
	"bytes"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// benchAsync measures Event invocations: accepted per second (each 202
// means the event is fsync'd in JetStream) with 1, 16 and 64 clients, and
// executed per second until the queue is drained. With sleep > 0 every
// event makes the function wait that long (an I/O-bound function).
func benchAsync(dir string, dur, sleep time.Duration) error {
	s, err := deployNoop(dir, "noop", benchMemory)
	if err != nil {
		return err
	}
	defer s.stop()
	if _, _, err := s.invoke("noop", []byte(`{}`), false); err != nil { // warm
		return err
	}
	payload := []byte(`{"a":"0123456789ab"}`)
	if sleep > 0 {
		payload = []byte(fmt.Sprintf(`{"sleepMs":%d}`, sleep.Milliseconds()))
	}
	for _, c := range []int{1, 16, 64} {
		base, _ := s.metric(`stratus_async_invocations_total{outcome="success"}`)
		var ok, failed atomic.Int64
		var mu sync.Mutex
		var lat []time.Duration
		var wg sync.WaitGroup
		cpu := s.cpuNow()
		profiled := s.profile(fmt.Sprintf("async-c%d", c), dur)
		t0 := time.Now()
		deadline := t0.Add(dur)
		for g := 0; g < c; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				var local []time.Duration
				for time.Now().Before(deadline) {
					t := time.Now()
					if err := s.invokeEvent("noop", payload); err != nil {
						failed.Add(1)
						continue
					}
					local = append(local, time.Since(t))
					ok.Add(1)
				}
				mu.Lock()
				lat = append(lat, local...)
				mu.Unlock()
			}()
		}
		wg.Wait()
		accept := time.Since(t0)
		want := base + float64(ok.Load())
		for time.Since(t0) < accept+2*time.Minute {
			if n, _ := s.metric(`stratus_async_invocations_total{outcome="success"}`); n >= want {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		done := time.Since(t0)
		fmt.Printf("async %2d clients: accepted %.0f events/s durably (%d, %d errors, 202 latency %s); executed %.0f events/s (all %d done after %s); %s\n",
			c, float64(ok.Load())/accept.Seconds(), ok.Load(), failed.Load(), summarize(lat),
			float64(ok.Load())/done.Seconds(), ok.Load(), done.Round(time.Millisecond), cpu.per(s, "event", int(ok.Load())))
		profiled()
	}
	return nil
}

// invokeEvent sends an asynchronous invoke and expects 202.
func (s *server) invokeEvent(name string, payload []byte) error {
	req, _ := http.NewRequest(http.MethodPost, s.url+"/2015-03-31/functions/"+name+"/invocations", bytes.NewReader(payload))
	req.Header.Set("X-Amz-Invocation-Type", "Event")
	resp, err := s.http.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		return fmt.Errorf("event invoke: %s", resp.Status)
	}
	return nil
}

// metric reads one sample (name with labels, exactly as exposed) from
// /metrics; absent samples read as 0.
func (s *server) metric(sample string) (float64, error) {
	resp, err := s.http.Get(s.url + "/metrics")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), sample+" "); ok {
			return strconv.ParseFloat(strings.TrimSpace(rest), 64)
		}
	}
	return 0, sc.Err()
}
