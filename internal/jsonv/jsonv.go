// Package jsonv validates JSON text without decoding it.
//
// Valid is a drop-in replacement for encoding/json.Valid on hot paths: the
// Invoke API must reject a payload that is not JSON, and for a 100 KB
// event encoding/json's byte-at-a-time scanner was the largest single cost
// of a warm invoke. Valid does the same check several times faster by
// walking the input once without function-pointer dispatch per byte, and
// by scanning string bodies, which make up most of a typical event, eight
// bytes per step.
//
// # Equivalence
//
// Valid(b) == json.Valid(b) for every b. That includes the behaviour that
// is looser or stricter than a reader of RFC 8259 might expect:
//
//   - bytes of 0x20 and above other than '"' and '\\' are accepted inside
//     strings, so invalid UTF-8 and lone surrogate escapes such as
//     "\ud800" are valid;
//   - bytes below 0x20 are rejected inside strings;
//   - whitespace is exactly space, \t, \n and \r; a leading byte order
//     mark, an empty input and trailing non-space bytes are invalid;
//   - nesting deeper than 10000 arrays and objects is invalid, the limit of
//     encoding/json's scanner (maxNestingDepth in scanner.go).
//
// The guarantee is checked by differential tests against encoding/json: a
// table of edge cases, an exhaustive comparison over all short inputs from
// a small alphabet, and FuzzValid, whose committed corpus lives in
// testdata/fuzz/FuzzValid. Run the fuzzer after any change here:
//
//	go test -run XXX -fuzz FuzzValid -fuzztime 3m ./internal/jsonv/
package jsonv

import (
	"encoding/binary"
	"math/bits"
)

// maxDepth is encoding/json's maxNestingDepth: its scanner fails as soon
// as an open bracket would make the nesting deeper than this.
const maxDepth = 10000

// Valid reports whether data is a valid JSON encoding, deciding exactly
// as encoding/json.Valid does.
//
// Valid is iterative: the kinds of the enclosing containers are kept as a
// bit stack (1 for an object) whose first 256 levels live on the
// goroutine stack, so ordinary input never allocates and hostile nesting
// can't grow the call stack.
func Valid(data []byte) bool {
	var small [4]uint64
	kinds := small[:] // bit d: the container holding depth d+1 is an object
	depth := 0
	inObj := false // the innermost open container is an object
	n := len(data)
	i := 0
	for {
		// A value is expected at data[i], after optional whitespace.
		i = skipSpace(data, i)
		if i >= n {
			return false
		}
		switch c := data[i]; c {
		case '"':
			if i = stringEnd(data, i+1); i < 0 {
				return false
			}
		case '{', '[':
			if depth == maxDepth {
				return false
			}
			w, bit := depth>>6, uint64(1)<<(depth&63)
			if w == len(kinds) {
				kinds = append(kinds, 0)
			}
			if inObj {
				kinds[w] |= bit
			} else {
				kinds[w] &^= bit
			}
			depth++
			inObj = c == '{'
			if i = skipSpace(data, i+1); i >= n {
				return false
			}
			// An empty container: leave the closing bracket for the
			// loop below, which pops it.
			if data[i] == c+2 { // '{'+2 == '}', '['+2 == ']'
				break
			}
			if inObj {
				if i = keyEnd(data, i); i < 0 {
					return false
				}
			}
			continue
		case 't':
			if n-i < 4 || string(data[i:i+4]) != "true" {
				return false
			}
			i += 4
		case 'f':
			if n-i < 5 || string(data[i:i+5]) != "false" {
				return false
			}
			i += 5
		case 'n':
			if n-i < 4 || string(data[i:i+4]) != "null" {
				return false
			}
			i += 4
		default:
			if i = numberEnd(data, i); i < 0 {
				return false
			}
		}

		// A value ended before data[i]: close containers until a comma
		// asks for the next value.
		for {
			i = skipSpace(data, i)
			if depth == 0 {
				return i == n
			}
			if i >= n {
				return false
			}
			c := data[i]
			i++
			if c == ',' {
				if inObj {
					if i = keyEnd(data, skipSpace(data, i)); i < 0 {
						return false
					}
				}
				break
			}
			if inObj && c != '}' || !inObj && c != ']' {
				return false
			}
			depth--
			inObj = kinds[depth>>6]>>(depth&63)&1 != 0
		}
	}
}

// skipSpace returns the index of the first non-whitespace byte at or
// after i, or len(data).
func skipSpace(data []byte, i int) int {
	for i < len(data) && data[i] <= ' ' && isSpace[data[i]] {
		i++
	}
	return i
}

// keyEnd checks an object key and its colon starting at data[i] and
// returns the index just after the colon, or -1.
func keyEnd(data []byte, i int) int {
	if i >= len(data) || data[i] != '"' {
		return -1
	}
	if i = stringEnd(data, i+1); i < 0 {
		return -1
	}
	if i = skipSpace(data, i); i >= len(data) || data[i] != ':' {
		return -1
	}
	return i + 1
}

// SWAR constants: one byte value repeated in every byte of a word.
const (
	ones        = 0x0101010101010101
	highs       = 0x8080808080808080
	quotes      = '"' * ones
	backslashes = '\\' * ones
	spaces      = ' ' * ones
)

// stringEnd checks a string body starting at data[i], just after the
// opening quote, and returns the index just after the closing quote, or
// -1.
//
// Eight bytes are tested per step for '"', '\\' or a byte below 0x20.
// (x - ones*k) &^ x & highs flags the bytes of x below k; it is applied
// with k = 1 to w^quotes and w^backslashes (zero bytes where w holds '"'
// or '\\') and with k = 0x20 to w. A borrow can flag a byte falsely
// only above a byte that truly matches, so the lowest flagged byte of
// the combined mask is exactly the first special byte. The three &^
// share w as operand because xor with a byte below 0x80 keeps each
// byte's high bit, the only bit the mask keeps.
func stringEnd(data []byte, i int) int {
	n := len(data)
	for {
		for i+8 <= n {
			w := binary.LittleEndian.Uint64(data[i : i+8])
			q, s := w^quotes, w^backslashes
			if m := ((q - ones) | (s - ones) | (w - spaces)) &^ w & highs; m != 0 {
				i += bits.TrailingZeros64(m) >> 3
				goto found
			}
			i += 8
		}
		for ; i < n; i++ {
			if special[data[i]] {
				goto found
			}
		}
		return -1
	found:
		switch data[i] {
		case '"':
			return i + 1
		case '\\':
			if i+1 >= n {
				return -1
			}
			switch data[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if n-i < 6 || !isHex[data[i+2]] || !isHex[data[i+3]] || !isHex[data[i+4]] || !isHex[data[i+5]] {
					return -1
				}
				i += 6
			default:
				return -1
			}
		default: // a control byte
			return -1
		}
	}
}

// numberEnd checks a number starting at data[i] and returns the index
// just after it, or -1. The grammar is RFC 8259's:
// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func numberEnd(data []byte, i int) int {
	n := len(data)
	if data[i] == '-' {
		if i++; i >= n {
			return -1
		}
	}
	switch c := data[i]; {
	case c == '0':
		i++
	case '1' <= c && c <= '9':
		i = digitsEnd(data, i+1)
	default:
		return -1
	}
	if i < n && data[i] == '.' {
		if i++; i >= n || !isDigit(data[i]) {
			return -1
		}
		i = digitsEnd(data, i+1)
	}
	if i < n && data[i]|0x20 == 'e' {
		if i++; i < n && (data[i] == '+' || data[i] == '-') {
			i++
		}
		if i >= n || !isDigit(data[i]) {
			return -1
		}
		i = digitsEnd(data, i+1)
	}
	return i
}

func digitsEnd(data []byte, i int) int {
	for i < len(data) && isDigit(data[i]) {
		i++
	}
	return i
}

func isDigit(c byte) bool { return c-'0' < 10 }

// Byte classes, as tables so each test is one load.
var (
	isSpace = [256]bool{' ': true, '\t': true, '\n': true, '\r': true}
	special = func() (t [256]bool) {
		for c := range 0x20 {
			t[c] = true
		}
		t['"'], t['\\'] = true, true
		return t
	}()
	isHex = func() (t [256]bool) {
		for _, c := range "0123456789abcdefABCDEF" {
			t[c] = true
		}
		return t
	}()
)
