package lambdaapi

import (
	"net/url"
	"strings"

	"github.com/stratus-dev/stratus"
)

// FunctionARN returns the ARN of a function in AWS's format,
// arn:aws:lambda:<region>:<account>:function:<name>, with ":<qualifier>"
// appended when qualifier is not empty.
func FunctionARN(region, account, name, qualifier string) string {
	n := len("arn:aws:lambda:") + len(region) + 1 + len(account) + len(":function:") + len(name)
	if qualifier != "" {
		n += 1 + len(qualifier)
	}
	var b strings.Builder
	b.Grow(n)
	b.WriteString("arn:aws:lambda:")
	b.WriteString(region)
	b.WriteByte(':')
	b.WriteString(account)
	b.WriteString(":function:")
	b.WriteString(name)
	if qualifier != "" {
		b.WriteByte(':')
		b.WriteString(qualifier)
	}
	return b.String()
}

// functionRef is a parsed FunctionName parameter.
type functionRef struct {
	Name      string // bare function name
	Qualifier string // version or alias; "" when none was given
}

// Length limits of the FunctionName parameter and of qualifiers.
const (
	maxFunctionNameParam = 256
	maxNameLen           = 64
	maxQualifierLen      = 128
)

const functionNamePattern = `(arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{2}(-gov)?-[a-z]+-\d{1}:)?(\d{12}:)?(function:)?([a-zA-Z0-9-_]+)(:(\$LATEST|[a-zA-Z0-9-_]+))?`

// parseFunctionName parses a FunctionName parameter in any of its forms:
//
//	name
//	name:qualifier
//	123456789012:function:name[:qualifier]              (partial ARN)
//	arn:aws:lambda:region:123456789012:function:name[:qualifier]
//
// A region other than the configured one is ResourceNotFound ("Functions
// from 'X' are not reachable in this region"), as AWS answers; another
// account or partition is ResourceNotFound for that ARN, since no such
// function is visible here.
func (h *Handler) parseFunctionName(s string) (functionRef, error) {
	if len(s) == 0 || len(s) > maxFunctionNameParam {
		return functionRef{}, constraint(s, "functionName", "Member must have length between 1 and 256")
	}
	var parts [9]string
	n := 0
	for rest := s; ; n++ {
		if n == len(parts) {
			return functionRef{}, badFunctionName(s)
		}
		i := strings.IndexByte(rest, ':')
		if i < 0 {
			parts[n] = rest
			n++
			break
		}
		parts[n], rest = rest[:i], rest[i+1:]
	}
	var ref functionRef
	var partition, region, account string
	hasQualifier := n == 2 || n == 4 || n == 8
	switch {
	case parts[0] == "arn" && (n == 7 || n == 8):
		if !isPartition(parts[1]) || parts[2] != "lambda" || !isRegion(parts[3]) ||
			!isAccountID(parts[4]) || parts[5] != "function" {
			return functionRef{}, badFunctionName(s)
		}
		partition, region, account = parts[1], parts[3], parts[4]
		ref.Name = parts[6]
		if n == 8 {
			ref.Qualifier = parts[7]
		}
	case (n == 3 || n == 4) && parts[1] == "function":
		if !isAccountID(parts[0]) {
			return functionRef{}, badFunctionName(s)
		}
		account = parts[0]
		ref.Name = parts[2]
		if n == 4 {
			ref.Qualifier = parts[3]
		}
	case n == 1 || n == 2:
		ref.Name = parts[0]
		if n == 2 {
			ref.Qualifier = parts[1]
		}
	default:
		return functionRef{}, badFunctionName(s)
	}
	if !isFunctionName(ref.Name) || (hasQualifier && !isQualifier(ref.Qualifier)) {
		return functionRef{}, badFunctionName(s)
	}
	if region != "" && region != h.cfg.Region {
		return functionRef{}, stratus.Errorf(stratus.ENOTFOUND,
			"Functions from '%s' are not reachable in this region ('%s')", region, h.cfg.Region)
	}
	if (partition != "" && partition != "aws") || (account != "" && account != h.cfg.AccountID) {
		return functionRef{}, stratus.Errorf(stratus.ENOTFOUND, "Function not found: %s",
			FunctionARN(h.cfg.Region, account, ref.Name, ref.Qualifier))
	}
	return ref, nil
}

func badFunctionName(s string) error {
	return constraint(s, "functionName", "Member must satisfy regular expression pattern: "+functionNamePattern)
}

// parseFunctionParam decodes the escaped path parameter, parses it, and
// merges the ?Qualifier= query parameter (q, "" when absent). A qualifier
// in both places must agree; otherwise the request fails with AWS's
// InvalidParameterValueException "The derived qualifier from the function
// name does not match the specified qualifier."
func (h *Handler) parseFunctionParam(escaped, q string) (functionRef, error) {
	s := escaped
	if strings.IndexByte(s, '%') >= 0 {
		var err error
		if s, err = url.PathUnescape(escaped); err != nil {
			return functionRef{}, badFunctionName(escaped)
		}
	}
	ref, err := h.parseFunctionName(s)
	if err != nil {
		return ref, err
	}
	if q != "" {
		if !isQualifier(q) {
			return ref, constraint(q, "qualifier", `Member must satisfy regular expression pattern: (|[a-zA-Z0-9$_-]+)`)
		}
		if ref.Qualifier != "" && ref.Qualifier != q {
			return ref, invalidf("The derived qualifier from the function name does not match the specified qualifier.")
		}
		ref.Qualifier = q
	}
	return ref, nil
}

// isLatest reports whether q names $LATEST (or nothing, which means it).
func isLatest(q string) bool { return q == "" || q == stratus.LatestVersion }

// isFunctionName matches ^[a-zA-Z0-9-_]{1,64}$.
func isFunctionName(s string) bool {
	if len(s) == 0 || len(s) > maxNameLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isNameByte(s[i]) {
			return false
		}
	}
	return true
}

// isQualifier matches $LATEST or ^[a-zA-Z0-9-_]{1,128}$.
func isQualifier(s string) bool {
	if s == stratus.LatestVersion {
		return true
	}
	if len(s) == 0 || len(s) > maxQualifierLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isNameByte(s[i]) {
			return false
		}
	}
	return true
}

func isNameByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_'
}

// isAccountID matches ^\d{12}$.
func isAccountID(s string) bool {
	if len(s) != 12 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// isPartition matches ^aws[a-zA-Z-]*$.
func isPartition(s string) bool {
	rest, ok := strings.CutPrefix(s, "aws")
	if !ok {
		return false
	}
	for i := 0; i < len(rest); i++ {
		c := rest[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '-') {
			return false
		}
	}
	return true
}

// isRegion matches ^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d+$ loosely: dash
// separated lower-case words ending in a number, e.g. us-east-1.
func isRegion(s string) bool {
	if len(s) < 4 || len(s) > 32 {
		return false
	}
	if strings.IndexByte(s, '-') != 2 || strings.Count(s, "-") < 2 {
		return false
	}
	last := strings.LastIndexByte(s, '-')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '-':
			if s[i-1] == '-' || i == len(s)-1 {
				return false
			}
		case i > last:
			if c < '0' || c > '9' {
				return false
			}
		case c < 'a' || c > 'z':
			return false
		}
	}
	return true
}
