// Package awsapi holds the pieces of AWS's wire protocols that every service
// API shares: request ids, JSON bodies and the error envelopes of the
// rest-json and JSON 1.x protocols.
package awsapi

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strconv"
)

// NewRequestID returns a random UUID (version 4) as AWS request ids look.
func NewRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	var s [36]byte
	hex.Encode(s[0:8], b[0:4])
	s[8] = '-'
	hex.Encode(s[9:13], b[4:6])
	s[13] = '-'
	hex.Encode(s[14:18], b[6:8])
	s[18] = '-'
	hex.Encode(s[19:23], b[8:10])
	s[23] = '-'
	hex.Encode(s[24:], b[10:])
	return string(s[:])
}

// WriteJSON writes v as a JSON body with the given status.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		status, body = http.StatusInternalServerError, []byte(`{"Type":"Service","message":"Internal error."}`)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// RestJSONError is an error in the rest-json protocol (Lambda, API Gateway):
// the code travels in the X-Amzn-ErrorType header and the body.
type RestJSONError struct {
	Status  int
	Code    string // e.g. ResourceNotFoundException
	Message string
	// Fields holds extra body members (e.g. "Reason" for throttles).
	Fields map[string]any
	// UpperMessage writes the message as "Message" instead of "message",
	// as AWS does for some shapes.
	UpperMessage bool
}

// Write sends e. The body follows the observed Lambda shape:
// {"Type":"User","message":"..."}; Type is "Service" for 5xx.
func (e *RestJSONError) Write(w http.ResponseWriter) {
	body := make(map[string]any, len(e.Fields)+2)
	for k, v := range e.Fields {
		body[k] = v
	}
	typ := "User"
	if e.Status >= 500 {
		typ = "Service"
	}
	body["Type"] = typ
	if e.UpperMessage {
		body["Message"] = e.Message
	} else {
		body["message"] = e.Message
	}
	w.Header().Set("X-Amzn-ErrorType", e.Code)
	WriteJSON(w, e.Status, body)
}

// WriteJSON1Error writes an error in the JSON 1.0/1.1 protocols (SQS JSON,
// CloudWatch Logs, Scheduler): the code goes in "__type".
func WriteJSON1Error(w http.ResponseWriter, status int, code, message string) {
	w.Header().Set("X-Amzn-ErrorType", code)
	body := map[string]string{"__type": code, "message": message}
	body2, _ := json.Marshal(body)
	h := w.Header()
	h.Set("Content-Type", "application/x-amz-json-1.1")
	h.Set("Content-Length", strconv.Itoa(len(body2)))
	w.WriteHeader(status)
	_, _ = w.Write(body2)
}
