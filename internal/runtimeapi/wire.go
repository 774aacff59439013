package runtimeapi

import (
	"encoding/json"
	"io"
	"net/http"
	"strconv"
)

var acceptedBody = []byte(`{"status":"OK"}`)

func writeAccepted(w http.ResponseWriter) {
	h := w.Header()
	h["Content-Type"] = []string{"application/json"}
	h["Content-Length"] = []string{"15"}
	w.WriteHeader(http.StatusAccepted)
	_, _ = w.Write(acceptedBody)
}

// writeError answers with the Runtime API's error shape.
func writeError(w http.ResponseWriter, status int, typ, msg string) {
	body := errorJSON(typ, msg)
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// errorJSON renders {"errorMessage":..., "errorType":...}.
func errorJSON(typ, msg string) []byte {
	b, _ := json.Marshal(struct {
		ErrorMessage string `json:"errorMessage"`
		ErrorType    string `json:"errorType"`
	}{msg, typ})
	return b
}

// readBody reads at most MaxResponseBytes of r's body. tooLarge reports a
// longer body; the rest is drained so the connection stays usable.
func readBody(r *http.Request) (body []byte, tooLarge bool, err error) {
	if n := r.ContentLength; n >= 0 {
		if n > MaxResponseBytes {
			_, err = io.Copy(io.Discard, r.Body)
			return nil, true, err
		}
		body = make([]byte, n)
		_, err = io.ReadFull(r.Body, body)
		return body, false, err
	}
	body, err = io.ReadAll(io.LimitReader(r.Body, MaxResponseBytes+1))
	if err != nil {
		return nil, false, err
	}
	if len(body) > MaxResponseBytes {
		_, err = io.Copy(io.Discard, r.Body)
		return nil, true, err
	}
	return body, false, nil
}
