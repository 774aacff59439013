package jsonv_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stratus-dev/stratus/internal/jsonv"
)

// nest returns depth open brackets, inner, and the matching closers.
func nest(open, close, inner string, depth int) string {
	return strings.Repeat(open, depth) + inner + strings.Repeat(close, depth)
}

func TestValid(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want bool
	}{
		{"empty", "", false},
		{"only space", " \t\r\n", false},
		{"null", "null", true},
		{"true", "true", true},
		{"false", "false", true},
		{"literal with space", " \n\ttrue\r ", true},
		{"truncated true", "tru", false},
		{"truncated false", "fals", false},
		{"truncated null", "nul", false},
		{"literal suffix", "truex", false},
		{"capital literal", "True", false},
		{"nan", "NaN", false},

		{"zero", "0", true},
		{"negative zero", "-0", true},
		{"int", "1234567890", true},
		{"negative", "-12", true},
		{"fraction", "0.5", true},
		{"exponent", "1e5", true},
		{"capital exponent", "1E5", true},
		{"signed exponent", "1e+5", true},
		{"negative exponent", "-1.25e-10", true},
		{"big exponent", "1e99999999999999999999", true},
		{"long mantissa", "123456789012345678901234567890.123456789012345678901234567890", true},
		{"leading zero", "01", false},
		{"negative leading zero", "-01", false},
		{"zero zero", "00", false},
		{"dot no fraction", "1.", false},
		{"dot exponent", "1.e5", false},
		{"leading dot", ".5", false},
		{"plus sign", "+1", false},
		{"lone minus", "-", false},
		{"minus dot", "-.5", false},
		{"empty exponent", "1e", false},
		{"sign no exponent", "1e+", false},
		{"double sign", "1e+-5", false},
		{"hex number", "0x10", false},
		{"number then letter", "1a", false},
		{"two numbers", "1 2", false},
		{"number minus", "1-", false},
		{"number in array", "[1,-0,2.5e3]", true},
		{"number before close", "[1]", true},
		{"number before colon", `{"a":1:2}`, false},

		{"string", `"hello"`, true},
		{"empty string", `""`, true},
		{"unterminated string", `"abc`, false},
		{"unterminated long string", `"` + strings.Repeat("a", 100), false},
		{"every short escape", `"\"\\\/\b\f\n\r\t"`, true},
		{"unicode escape", `"\u00e9\uABCD\u0000"`, true},
		{"lone high surrogate", `"\ud800"`, true},
		{"lone low surrogate", `"\udc00x"`, true},
		{"short unicode escape", `"\u12"`, false},
		{"bad hex", `"\u12g4"`, false},
		{"unknown escape", `"\a"`, false},
		{"escaped quote at end", `"\"`, false},
		{"backslash at end", `"\`, false},
		{"escape in long string", `"` + strings.Repeat("x", 13) + `\n` + strings.Repeat("y", 20) + `"`, true},
		{"bad escape in long string", `"` + strings.Repeat("x", 13) + `\x` + strings.Repeat("y", 20) + `"`, false},
		{"raw tab", "\"a\tb\"", false},
		{"raw newline", "\"a\nb\"", false},
		{"raw nul", "\"a\x00b\"", false},
		{"raw 0x1f", "\"a\x1fb\"", false},
		{"raw control deep in long string", `"` + strings.Repeat("z", 21) + "\x01" + strings.Repeat("z", 21) + `"`, false},
		{"del", "\"a\x7fb\"", true},
		{"utf-8", `"héllo, 世界 🎉"`, true},
		{"invalid utf-8", "\"\xff\xfe\x80\xc0\"", true},
		{"high bytes in long string", "\"" + strings.Repeat("\x80\xff\xa2\xdc", 9) + "\"", true},
		{"string suffix", `"a"b`, false},

		{"empty array", "[]", true},
		{"empty array with space", "[ \n ]", true},
		{"array", `[1, "a", true, null, {}, []]`, true},
		{"trailing comma array", "[1,]", false},
		{"leading comma array", "[,1]", false},
		{"missing comma array", "[1 2]", false},
		{"unclosed array", "[1", false},
		{"unopened array", "1]", false},
		{"mismatched array", "[}", false},
		{"empty object", "{}", true},
		{"empty object with space", "{ \t}", true},
		{"object", `{"a": 1, "b": [true], "c": {"d": null}}`, true},
		{"object with space everywhere", " { \"a\" \n : \r 1 \t , \"b\" : 2 } ", true},
		{"trailing comma object", `{"a":1,}`, false},
		{"missing colon", `{"a" 1}`, false},
		{"missing value", `{"a":}`, false},
		{"non-string key", `{1:2}`, false},
		{"bare key", `{a:1}`, false},
		{"unclosed object", `{"a":1`, false},
		{"mismatched object", `{"a":1]`, false},
		{"key only", `{"a"}`, false},
		{"two values", `{} {}`, false},

		{"leading bom", "\xef\xbb\xbf{}", false},
		{"vertical tab", "\v1", false},
		{"form feed", "\f1", false},
		{"nul after value", "1\x00", false},
		{"nbsp", "\u00a01", false},
		{"trailing garbage", "{}x", false},

		{"depth 10000 arrays", nest("[", "]", "", 10000), true},
		{"depth 10001 arrays", nest("[", "]", "", 10001), false},
		{"depth 10000 objects", nest(`{"a":`, "}", "1", 10000), true},
		{"depth 10001 objects", nest(`{"a":`, "}", "1", 10001), false},
		{"depth 10000 mixed", nest(`[{"a":`, "}]", "1", 5000), true},
		{"depth 10001 truncated", strings.Repeat("[", 10001), false},
		{"depth 300 mixed", nest(`{"k":[`, "]}", `"v"`, 150), true},
		{"depth 300 mismatched", nest(`{"k":[`, "}]", `"v"`, 150), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if std := json.Valid([]byte(tc.in)); std != tc.want {
				t.Fatalf("test table disagrees with encoding/json: want %v, json.Valid = %v", tc.want, std)
			}
			if got := jsonv.Valid([]byte(tc.in)); got != tc.want {
				t.Errorf("Valid(%.60q) = %v, want %v", tc.in, got, tc.want)
			}
		})
	}
}

// TestValidExhaustive compares with encoding/json on every input up to a
// few bytes long over an alphabet of the bytes that matter to the
// grammar, which covers every short state transition, not only the ones a
// table author thought of.
func TestValidExhaustive(t *testing.T) {
	const alphabet = "{}[],:\" \\tnu0123e.-+a\x01\x80"
	maxLen := 5
	if testing.Short() {
		maxLen = 4
	}
	buf := make([]byte, 0, maxLen)
	var walk func()
	walk = func() {
		if got, want := jsonv.Valid(buf), json.Valid(buf); got != want {
			t.Fatalf("Valid(%q) = %v, encoding/json says %v", buf, got, want)
		}
		if len(buf) == maxLen {
			return
		}
		for i := range len(alphabet) {
			buf = append(buf, alphabet[i])
			walk()
			buf = buf[:len(buf)-1]
		}
	}
	walk()
}

func TestValidDoesNotAllocate(t *testing.T) {
	in := []byte(nest(`{"a":[`, "]}", `"b"`, 100))
	if n := testing.AllocsPerRun(100, func() { jsonv.Valid(in) }); n != 0 {
		t.Errorf("Valid allocated %v times for 200 levels of nesting", n)
	}
}

// TestValidStringBytes puts every pair of bytes at every offset of an
// eight-byte word inside a string, so each lane of the word-at-a-time
// scan sees every byte value, every escape start, and a word boundary in
// the middle of an escape.
func TestValidStringBytes(t *testing.T) {
	body := []byte(`"` + strings.Repeat("a", 20) + `"`)
	var in []byte
	for p := 1; p <= 10; p++ {
		for b1 := range 256 {
			for b2 := range 256 {
				in = append(in[:0], body...)
				in[p], in[p+1] = byte(b1), byte(b2)
				if got, want := jsonv.Valid(in), json.Valid(in); got != want {
					t.Fatalf("Valid(%q) = %v, encoding/json says %v", in, got, want)
				}
			}
		}
	}
}
