package sqs

import (
	"crypto/md5"
	"encoding/binary"
	"encoding/hex"
	"hash"
	"sort"
	"strings"

	"github.com/stratus-dev/stratus"
)

// md5Hex returns the lower-case hex MD5 of s: SQS's MD5OfMessageBody.
func md5Hex(s string) string {
	sum := md5.Sum([]byte(s))
	return hex.EncodeToString(sum[:])
}

// md5OfAttributes computes MD5OfMessageAttributes as SQS does (reference
// §7.2): the attributes sorted by name, each encoded as a 4-byte
// big-endian length and the UTF-8 name, the same for the data type, one
// transport byte (1 for String and Number types, 2 for Binary) and the
// length-prefixed value; then the hex MD5 of the whole. It returns "" for
// no attributes, when SQS omits the member.
func md5OfAttributes(attrs map[string]stratus.MessageAttribute) string {
	if len(attrs) == 0 {
		return ""
	}
	names := make([]string, 0, len(attrs))
	for n := range attrs {
		names = append(names, n)
	}
	sort.Strings(names)
	h := md5.New()
	for _, n := range names {
		a := attrs[n]
		writeLenPrefixed(h, n)
		writeLenPrefixed(h, a.DataType)
		if isBinaryType(a.DataType) {
			h.Write([]byte{2})
			writeLenPrefixedBytes(h, a.BinaryValue)
		} else {
			h.Write([]byte{1})
			writeLenPrefixed(h, a.StringValue)
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}

func writeLenPrefixed(h hash.Hash, s string) {
	var n [4]byte
	binary.BigEndian.PutUint32(n[:], uint32(len(s)))
	h.Write(n[:])
	h.Write([]byte(s))
}

func writeLenPrefixedBytes(h hash.Hash, b []byte) {
	var n [4]byte
	binary.BigEndian.PutUint32(n[:], uint32(len(b)))
	h.Write(n[:])
	h.Write(b)
}

// baseType returns the part of a data type before its custom suffix:
// "Number" for "Number.int".
func baseType(dataType string) string {
	if i := strings.IndexByte(dataType, '.'); i >= 0 {
		return dataType[:i]
	}
	return dataType
}

func isBinaryType(dataType string) bool { return baseType(dataType) == "Binary" }
