package router

import (
	"testing"

	"github.com/stratus-dev/stratus"
	"github.com/stratus-dev/stratus/internal/sandbox"
)

// BenchmarkAdmission measures what admission adds to every invocation:
// the concurrency check, taking an idle environment (none here) and
// returning the ticket, for a function with and without a reservation.
func BenchmarkAdmission(b *testing.B) {
	cfg := DefaultConfig()
	cfg.CodeDir = b.TempDir()
	r, err := New(cfg, nil, sandbox.NewNone(sandbox.NoneConfig{}), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	r.SetConcurrency(&stratus.ConcurrencyConfig{Reserved: map[string]int{"reserved": 800}})
	for _, name := range []string{"unreserved", "reserved"} {
		fn := &stratus.Function{Name: name, Version: stratus.LatestVersion, RevisionID: "r"}
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				t, _, err := r.admit(fn, "")
				if err != nil {
					b.Fatal(err)
				}
				r.finish(t)
			}
		})
		b.Run(name+"-parallel", func(b *testing.B) {
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					t, _, err := r.admit(fn, "")
					if err != nil {
						b.Fatal(err)
					}
					r.finish(t)
				}
			})
		})
	}
}
