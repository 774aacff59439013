package runtimes_test

import (
	"testing"
	"time"
)

// BenchmarkColdStart measures spawn → first invocation/next → first
// response of a trivial handler, without a sandbox (the router adds the
// sandbox's few milliseconds):
//
//	go test -run XXX -bench ColdStart -benchtime 20x ./runtimes/
func BenchmarkColdStart(b *testing.B) {
	for _, c := range []struct {
		name string
		o    envOptions
	}{
		{"python", envOptions{lang: "python", files: map[string]string{"app.py": "def handler(e, c):\n    return e\n"}, handler: "app.handler"}},
		{"node-cjs", envOptions{lang: "node", files: map[string]string{"index.js": "exports.handler = async (e) => e;\n"}, handler: "index.handler"}},
		{"node-mjs", envOptions{lang: "node", files: map[string]string{"index.mjs": "export const handler = async (e) => e;\n"}, handler: "index.handler"}},
	} {
		b.Run(c.name, func(b *testing.B) {
			var init time.Duration
			for b.Loop() {
				start := time.Now()
				e := startEnv(b, c.o)
				init += time.Since(start)
				if res, _ := e.invoke(b, `{"a":1}`); res.Failed {
					b.Fatalf("%s", res.Payload)
				}
				e.stop()
			}
			b.ReportMetric(float64(init.Microseconds())/float64(b.N)/1000, "init-ms/op")
		})
	}
}
