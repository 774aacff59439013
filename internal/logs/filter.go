package logs

import (
	"bytes"
	"strings"
)

// pattern is a parsed filterPattern of the term syntax:
//
//	ERROR Exception      both terms must appear
//	"task timed out"     a quoted phrase must appear (\" escapes a quote)
//	?ERROR ?WARN         at least one of the ?-terms must appear
//	ERROR -Exiting       the event must not contain the -term
//
// Matching is case-sensitive substring matching, as on AWS. Not
// supported (rejected with InvalidParameterException): JSON patterns
// ({ $.field = ... }), space-delimited patterns ([ip, user, ...]) and
// regular expressions (%...%).
type pattern struct {
	all, any, none [][]byte
}

// parsePattern parses p; an empty pattern matches everything (nil).
func parsePattern(p string) (*pattern, error) {
	p = strings.TrimSpace(p)
	if p == "" {
		return nil, nil
	}
	switch {
	case p[0] == '{':
		return nil, invalidParam("JSON filter patterns are not supported; use terms or quoted phrases.")
	case p[0] == '[':
		return nil, invalidParam("Space-delimited filter patterns are not supported; use terms or quoted phrases.")
	case strings.Contains(p, "%"):
		return nil, invalidParam("Regular expressions in filter patterns are not supported; use terms or quoted phrases.")
	}
	pt := &pattern{}
	for i := 0; i < len(p); {
		if p[i] == ' ' || p[i] == '\t' {
			i++
			continue
		}
		kind := byte(0)
		if (p[i] == '?' || p[i] == '-') && i+1 < len(p) && p[i+1] != ' ' {
			kind = p[i]
			i++
		}
		var term []byte
		if p[i] == '"' {
			i++
			closed := false
			for i < len(p) {
				c := p[i]
				i++
				if c == '\\' && i < len(p) {
					term = append(term, p[i])
					i++
					continue
				}
				if c == '"' {
					closed = true
					break
				}
				term = append(term, c)
			}
			if !closed {
				return nil, invalidParam("Invalid filter pattern: unterminated quoted phrase.")
			}
		} else {
			j := i
			for j < len(p) && p[j] != ' ' && p[j] != '\t' {
				j++
			}
			term = []byte(p[i:j])
			i = j
		}
		if len(term) == 0 {
			continue
		}
		switch kind {
		case '?':
			pt.any = append(pt.any, term)
		case '-':
			pt.none = append(pt.none, term)
		default:
			pt.all = append(pt.all, term)
		}
	}
	return pt, nil
}

// match reports whether msg satisfies pt; a nil pattern matches all.
func (pt *pattern) match(msg []byte) bool {
	if pt == nil {
		return true
	}
	for _, t := range pt.all {
		if !bytes.Contains(msg, t) {
			return false
		}
	}
	for _, t := range pt.none {
		if bytes.Contains(msg, t) {
			return false
		}
	}
	if len(pt.any) == 0 {
		return true
	}
	for _, t := range pt.any {
		if bytes.Contains(msg, t) {
			return true
		}
	}
	return false
}
