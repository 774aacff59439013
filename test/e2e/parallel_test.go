package e2e

import (
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
)

// TestParallelInvokes sends 8 concurrent invokes of a function that sleeps
// 1 s: all must succeed, each in its own environment, and overlap in time
// (one environment per invoke, never serialised behind one). A second
// round reuses the now warm environments.
func TestParallelInvokes(t *testing.T) {
	t.Parallel()
	srv := MustRunServer(t, ServerOptions{})
	c := NewLambdaClient(srv.URL)
	const name = "parallel-fn"
	const n = 8
	mustCreateFunction(t, c, name, func(in *lambda.CreateFunctionInput) { in.Timeout = aws.Int32(30) })

	round := func(t *testing.T) (instances map[string]bool, cold int) {
		results := make([]sleepResult, n)
		invs := make([]Invocation, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		start := time.Now()
		for i := range n {
			wg.Go(func() { invs[i], errs[i] = tryInvoke(t, c, name, Event{Action: "sleep", MS: 1000}) })
		}
		wg.Wait()
		wall := time.Since(start)
		instances = map[string]bool{}
		var latestStart, earliestEnd int64
		for i := range n {
			if errs[i] != nil {
				t.Fatalf("invoke %d: %v", i, errs[i])
			}
			invs[i].mustSucceed(t, &results[i])
			r := results[i]
			instances[r.Instance] = true
			if isCold(invs[i].Log) {
				cold++
			}
			if i == 0 || r.StartNano > latestStart {
				latestStart = r.StartNano
			}
			if i == 0 || r.EndNano < earliestEnd {
				earliestEnd = r.EndNano
			}
		}
		t.Logf("%d invokes of a 1 s sleep took %v; %d environments, %d cold starts", n, wall, len(instances), cold)
		if latestStart >= earliestEnd {
			t.Errorf("the invokes did not all overlap: the last started %v after the first ended",
				time.Duration(latestStart-earliestEnd))
		}
		if len(instances) != n {
			t.Errorf("%d concurrent invokes ran in %d environments, want %d", n, len(instances), n)
		}
		return instances, cold
	}

	var first map[string]bool
	t.Run("cold", func(t *testing.T) {
		var cold int
		first, cold = round(t)
		if cold != n {
			t.Errorf("%d of %d first invokes were cold starts, want all", cold, n)
		}
	})
	t.Run("warm", func(t *testing.T) {
		second, cold := round(t)
		if cold != 0 {
			t.Errorf("%d of %d invokes of the second round were cold starts, want none (8 idle environments exist)", cold, n)
		}
		for inst := range second {
			if !first[inst] {
				t.Errorf("second round ran in new environment %s, want the idle ones reused", inst)
			}
		}
	})
}
