package jsonv_test

import (
	"encoding/json"
	"testing"

	"github.com/stratus-dev/stratus/internal/jsonv"
)

// FuzzValid is the equivalence check: jsonv.Valid must agree with
// encoding/json.Valid on every input. The seed corpus in
// testdata/fuzz/FuzzValid holds the tricky cases and every input the
// fuzzer has ever failed on.
func FuzzValid(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		if got, want := jsonv.Valid(b), json.Valid(b); got != want {
			t.Errorf("Valid(%q) = %v, encoding/json says %v", b, got, want)
		}
	})
}
