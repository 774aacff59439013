package sqs

import (
	"math/big"
	"strings"
	"unicode/utf8"

	"github.com/stratus-dev/stratus"
)

// Limits of the SQS API.
const (
	maxQueueNameLen     = 80
	maxBatchEntries     = 10
	maxBatchIDLen       = 80
	maxMessageAttrs     = 10
	maxAttrNameLen      = 256
	maxDataTypeLen      = 256
	maxGroupIDLen       = 128
	maxDedupIDLen       = 128
	maxTags             = 50
	maxTagKeyLen        = 128
	maxTagValueLen      = 256
	maxDelaySeconds     = 900
	maxVisibility       = 43200 // 12 hours
	maxWaitSeconds      = 20
	maxReceiveMessages  = 10
	maxListResults      = 1000
	fifoSuffix          = ".fifo"
	maxMessageSizeLimit = 1 << 20
)

// validQueueName reports whether name is a valid queue name: 1–80
// characters of [A-Za-z0-9_-], FIFO names with ".fifo" appended (which
// counts towards the 80).
func validQueueName(name string, fifo bool) bool {
	if len(name) > maxQueueNameLen {
		return false
	}
	if fifo {
		var ok bool
		if name, ok = strings.CutSuffix(name, fifoSuffix); !ok {
			return false
		}
	}
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		if !isNameByte(name[i]) {
			return false
		}
	}
	return true
}

func isNameByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-'
}

// validBatchID matches batch entry ids: [A-Za-z0-9_-]{1,80}.
func validBatchID(id string) bool {
	if id == "" || len(id) > maxBatchIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		if !isNameByte(id[i]) {
			return false
		}
	}
	return true
}

// validMessageChars reports whether s is valid UTF-8 made only of the
// characters SQS allows: #x9 | #xA | #xD | #x20-#xD7FF | #xE000-#xFFFD |
// #x10000-#x10FFFF.
func validMessageChars(s string) bool {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c < 0x20 && c != '\t' && c != '\n' && c != '\r' {
				return false
			}
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			return false
		}
		if r >= 0xD800 && r <= 0xDFFF || r == 0xFFFE || r == 0xFFFF {
			return false
		}
		i += n
	}
	return true
}

// validPunctuatedID matches MessageGroupId and MessageDeduplicationId:
// 1–128 characters, alphanumeric or punctuation (!"#$%&'()*+,-./:;<=>?@[\]^_`{|}~).
func validPunctuatedID(s string) bool {
	if s == "" || len(s) > maxGroupIDLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x21 || c > 0x7e {
			return false
		}
	}
	return true
}

// checkMessageAttributes validates user message attributes and returns
// their size as SQS counts it towards the message size (names, types and
// values).
func checkMessageAttributes(attrs map[string]stratus.MessageAttribute) (int, error) {
	if len(attrs) > maxMessageAttrs {
		return 0, errInvalidParam("Number of message attributes [%d] exceeds the allowed maximum [%d].", len(attrs), maxMessageAttrs)
	}
	size := 0
	for name, a := range attrs {
		if err := checkAttributeName(name); err != nil {
			return 0, err
		}
		if err := checkAttributeValue(name, a); err != nil {
			return 0, err
		}
		size += len(name) + len(a.DataType) + len(a.StringValue) + len(a.BinaryValue)
	}
	return size, nil
}

func checkAttributeName(name string) error {
	bad := name == "" || len(name) > maxAttrNameLen || name[0] == '.' || name[len(name)-1] == '.' ||
		strings.Contains(name, "..")
	lower := strings.ToLower(name)
	if strings.HasPrefix(lower, "aws.") || strings.HasPrefix(lower, "amazon.") {
		return errInvalidParam("Message (user) attribute name '%s' is reserved for use by SQS.", name)
	}
	for i := 0; !bad && i < len(name); i++ {
		c := name[i]
		bad = !(isNameByte(c) || c == '.')
	}
	if bad {
		return errInvalidParam("Message (user) attribute name '%s' is invalid. Names can only contain alphanumeric characters, hyphens, underscores and periods, must be 1 to 256 characters long, and must not start or end with a period or contain consecutive periods.", name)
	}
	return nil
}

func checkAttributeValue(name string, a stratus.MessageAttribute) error {
	if a.DataType == "" {
		return errInvalidParam("The message attribute '%s' must contain non-empty message attribute type.", name)
	}
	if len(a.DataType) > maxDataTypeLen || !validMessageChars(a.DataType) {
		return errInvalidParam("The message attribute '%s' has an invalid message attribute type.", name)
	}
	switch baseType(a.DataType) {
	case "String":
		if a.StringValue == "" || a.BinaryValue != nil {
			return errInvalidParam("The message attribute '%s' with type 'String' must use field 'String'.", name)
		}
		if !validMessageChars(a.StringValue) {
			return errInvalidParam("Message (user) attribute '%s' value contains invalid characters.", name)
		}
	case "Number":
		if a.StringValue == "" || a.BinaryValue != nil {
			return errInvalidParam("The message attribute '%s' with type 'Number' must use field 'String'.", name)
		}
		if !validNumber(a.StringValue) {
			return errInvalidParam("Can't cast the value of message (user) attribute '%s' to a number.", name)
		}
	case "Binary":
		if len(a.BinaryValue) == 0 || a.StringValue != "" {
			return errInvalidParam("The message attribute '%s' with type 'Binary' must use field 'Binary'.", name)
		}
	default:
		return errInvalidParam("The type of message (user) attribute '%s' is invalid. You must use only the following supported type prefixes: Binary, Number, String.", name)
	}
	return nil
}

// validNumber accepts the numbers SQS does: up to 38 significant digits
// between -10^128 and 10^126.
func validNumber(s string) bool {
	r, ok := new(big.Rat).SetString(s)
	if !ok || strings.ContainsAny(s, "/xXpP_") {
		return false
	}
	digits := 0
	for _, c := range strings.TrimLeft(strings.SplitN(strings.ToLower(s), "e", 2)[0], "+-0.") {
		if c >= '0' && c <= '9' {
			digits++
		}
	}
	if digits > 38 {
		return false
	}
	lo := new(big.Rat).SetFrac(new(big.Int).Neg(new(big.Int).Exp(big.NewInt(10), big.NewInt(128), nil)), big.NewInt(1))
	hi := new(big.Rat).SetFrac(new(big.Int).Exp(big.NewInt(10), big.NewInt(126), nil), big.NewInt(1))
	return r.Cmp(lo) >= 0 && r.Cmp(hi) <= 0
}

// checkBatchIDs validates the ids of a batch request's entries.
func checkBatchIDs(ids []string) error {
	if len(ids) == 0 {
		return sqsErr(stratus.EINVALID, "EmptyBatchRequest", "There should be at least one entry in the request.")
	}
	if len(ids) > maxBatchEntries {
		return sqsErr(stratus.EINVALID, "TooManyEntriesInBatchRequest", "Maximum number of entries per request are %d. You have sent %d.", maxBatchEntries, len(ids))
	}
	seen := make(map[string]bool, len(ids))
	for _, id := range ids {
		if !validBatchID(id) {
			return sqsErr(stratus.EINVALID, "InvalidBatchEntryId", "A batch entry id can only contain alphanumeric characters, hyphens and underscores. It can be at most 80 letters long.")
		}
		if seen[id] {
			return sqsErr(stratus.EINVALID, "BatchEntryIdsNotDistinct", "Id %s repeated.", id)
		}
		seen[id] = true
	}
	return nil
}

// checkTags validates tags to set on a queue.
func checkTags(tags map[string]string) error {
	if len(tags) > maxTags {
		return errInvalidParam("Too many tags added for queue. A queue can have at most %d tags.", maxTags)
	}
	for k, v := range tags {
		if k == "" || len(k) > maxTagKeyLen || !validMessageChars(k) {
			return errInvalidParam("Tag keys must be between 1 and %d characters in length.", maxTagKeyLen)
		}
		if strings.HasPrefix(strings.ToLower(k), "aws:") {
			return errInvalidParam("Tag keys can't start with the reserved prefix aws:.")
		}
		if len(v) > maxTagValueLen || !validMessageChars(v) {
			return errInvalidParam("Tag values may be at most %d characters in length.", maxTagValueLen)
		}
	}
	return nil
}
