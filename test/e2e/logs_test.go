package e2e

import (
	"bufio"
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestLogs checks that a function's output and the platform's lines are
// stored per function and shown by `stratus logs`, `stratus logs --follow`
// and `aws logs filter-log-events`, and that X-Amz-Log-Result carries only
// the last 4 KB.
func TestLogs(t *testing.T) {
	t.Parallel()
	srv := MustRunServer(t, ServerOptions{})
	c := NewLambdaClient(srv.URL)
	const name = "logs-fn"
	mustCreateFunction(t, c, name, nil)

	var res struct{ LogStreamName string }
	inv := invoke(t, c, name, Event{Action: "log", Lines: 3, Marker: "first-marker"}).mustSucceed(t, &res)
	rep := checkPlatformLines(t, inv.Log, inv.RequestID, 128, true)
	for _, l := range []string{"first-marker stdout 2", "first-marker stderr 2"} {
		if !strings.Contains(inv.Log, l) {
			t.Errorf("X-Amz-Log-Result lacks the function's line %q:\n%s", l, inv.Log)
		}
	}
	wantLines := []string{
		"first-marker stdout 0", "first-marker stdout 2", "first-marker stderr 0", "first-marker stderr 2",
		"START RequestId: " + rep.RequestID + " Version: $LATEST",
		"END RequestId: " + rep.RequestID,
		"REPORT RequestId: " + rep.RequestID + "\tDuration: ",
	}

	t.Run("stratus logs", func(t *testing.T) {
		checkFor(t, 15*time.Second, 250*time.Millisecond, func() error {
			out, stderr, err := runStratus(t, time.Minute, "logs", name, "--endpoint", srv.URL)
			if err != nil {
				return fmt.Errorf("stratus logs: %v\n%s", err, stderr)
			}
			return containsAll(out, wantLines)
		})
	})

	t.Run("filter-log-events", func(t *testing.T) {
		cli := MustAWSCLI(t, srv.URL)
		checkFor(t, 15*time.Second, 500*time.Millisecond, func() error {
			var out struct {
				Events []struct {
					LogStreamName string `json:"logStreamName"`
					Message       string `json:"message"`
					Timestamp     int64  `json:"timestamp"`
				} `json:"events"`
			}
			cli.MustJSON(&out, "logs", "filter-log-events", "--log-group-name", "/aws/lambda/"+name)
			var all strings.Builder
			for _, e := range out.Events {
				if e.LogStreamName != res.LogStreamName {
					return fmt.Errorf("event in stream %q, want the environment's stream %q", e.LogStreamName, res.LogStreamName)
				}
				if e.Timestamp <= 0 {
					return fmt.Errorf("event %q has timestamp %d", e.Message, e.Timestamp)
				}
				all.WriteString(e.Message)
				if !strings.HasSuffix(e.Message, "\n") {
					all.WriteString("\n")
				}
			}
			return containsAll(all.String(), wantLines)
		})
	})

	t.Run("follow", func(t *testing.T) {
		lines := startFollow(t, name, srv.URL)
		// Invoke until the follower shows a line written after it
		// started; it may need a moment to attach.
		i := 0
		checkFor(t, 30*time.Second, time.Second, func() error {
			marker := fmt.Sprintf("follow-marker-%d", i)
			i++
			invoke(t, c, name, Event{Action: "log", Lines: 1, Marker: marker}).mustSucceed(t, nil)
			deadline := time.After(2 * time.Second)
			for {
				select {
				case l, ok := <-lines:
					if !ok {
						return fmt.Errorf("stratus logs --follow exited")
					}
					if strings.Contains(l, "follow-marker-") && strings.Contains(l, "stdout 0") {
						return nil
					}
				case <-deadline:
					return fmt.Errorf("stratus logs --follow did not show %q", marker+" stdout 0")
				}
			}
		})
	})

	t.Run("tail is the last 4 KB", func(t *testing.T) {
		inv := invoke(t, c, name, Event{Action: "log", Lines: 200, Marker: "bulk-marker-with-some-padding"}).mustSucceed(t, nil)
		if len(inv.Log) > 4096 {
			t.Errorf("X-Amz-Log-Result holds %d bytes, want at most 4096", len(inv.Log))
		}
		if !reportRE.MatchString(inv.Log) || !strings.HasSuffix(strings.TrimRight(inv.Log, "\n"), "\t") {
			t.Errorf("X-Amz-Log-Result does not end with the REPORT line:\n%s", inv.Log)
		}
		if strings.Contains(inv.Log, "bulk-marker-with-some-padding stdout 0\n") {
			t.Errorf("X-Amz-Log-Result holds the first of 400 lines; want only the last 4 KB")
		}
	})
}

// startFollow runs `stratus logs NAME --follow` and returns a channel of
// its stdout lines (closed when it exits). The process is killed when the
// test ends.
func startFollow(t *testing.T, name, endpoint string) <-chan string {
	t.Helper()
	cmd := exec.Command(stratusBin, "logs", name, "--follow", "--endpoint", endpoint)
	cmd.Env = clientProcessEnv()
	var stderr syncBuffer
	cmd.Stderr = &stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting stratus logs --follow: %v", err)
	}
	lines := make(chan string, 1024)
	var wg sync.WaitGroup
	wg.Go(func() {
		defer close(lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			default: // nobody is reading: drop
			}
		}
	})
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		wg.Wait()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("stratus logs --follow stderr:\n%s", stderr.String())
		}
	})
	return lines
}

// containsAll returns an error naming the first of want that s lacks.
func containsAll(s string, want []string) error {
	for _, w := range want {
		if !strings.Contains(s, w) {
			return fmt.Errorf("output lacks %q; got:\n%s", w, s)
		}
	}
	return nil
}
