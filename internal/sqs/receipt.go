package sqs

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
)

// A receipt handle names one receive of one message. It is opaque to
// clients and tamper-evident: the fields are authenticated with an
// HMAC-SHA256 (truncated to 16 bytes) under a key that every node of the
// deployment shares through the catalog bucket.
//
//	version(1) | queue id(8) | bundle seq(8) | index(2) | nonce(8) | mac(16)
//
// encoded with unpadded base64url. The nonce is random per receive, so a
// handle from an earlier receive of the same message is recognisably
// stale.
const (
	receiptVersion = 1
	receiptFields  = 1 + 8 + 8 + 2 + 8
	receiptMACLen  = 16
	receiptLen     = receiptFields + receiptMACLen
)

// receipt is a decoded receipt handle.
type receipt struct {
	queueID [8]byte
	seq     uint64
	idx     uint16
	nonce   uint64
}

// receiptCodec signs and verifies receipt handles.
type receiptCodec struct{ key []byte }

func (c receiptCodec) encode(r receipt) string {
	var b [receiptLen]byte
	b[0] = receiptVersion
	copy(b[1:9], r.queueID[:])
	binary.BigEndian.PutUint64(b[9:17], r.seq)
	binary.BigEndian.PutUint16(b[17:19], r.idx)
	binary.BigEndian.PutUint64(b[19:27], r.nonce)
	copy(b[receiptFields:], c.mac(b[:receiptFields]))
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// decode verifies s and returns its fields; ok is false for anything that
// this deployment did not issue.
func (c receiptCodec) decode(s string) (r receipt, ok bool) {
	if base64.RawURLEncoding.DecodedLen(len(s)) != receiptLen {
		return r, false
	}
	var b [receiptLen]byte
	if n, err := base64.RawURLEncoding.Decode(b[:], []byte(s)); err != nil || n != receiptLen {
		return r, false
	}
	if b[0] != receiptVersion || !hmac.Equal(b[receiptFields:], c.mac(b[:receiptFields])) {
		return r, false
	}
	copy(r.queueID[:], b[1:9])
	r.seq = binary.BigEndian.Uint64(b[9:17])
	r.idx = binary.BigEndian.Uint16(b[17:19])
	r.nonce = binary.BigEndian.Uint64(b[19:27])
	return r, true
}

func (c receiptCodec) mac(fields []byte) []byte {
	m := hmac.New(sha256.New, c.key)
	m.Write(fields)
	return m.Sum(nil)[:receiptMACLen]
}
