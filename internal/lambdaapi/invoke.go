package lambdaapi

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"strconv"

	"github.com/stratus-dev/stratus"
	"github.com/stratus-dev/stratus/internal/awsapi"
	"github.com/stratus-dev/stratus/internal/jsonv"
)

// Invoke limits (reference §1.1).
const (
	maxSyncPayload   = 6291456 // wire check of the 6 MB limit
	maxAsyncPayload  = 1048576 // 1 MB
	maxClientContext = 3583    // bytes of base64
)

// Shared header values; never appended to (len == cap).
var (
	jsonContentType     = []string{"application/json"}
	latestVersionHeader = []string{stratus.LatestVersion}
	unhandledHeader     = []string{"Unhandled"}
)

// invoke serves Invoke: POST /2015-03-31/functions/{name}/invocations.
//
// RequestResponse answers 200 with the function's bytes as the body
// whether or not the function failed (X-Amz-Function-Error says so).
// DryRun answers 204 when the function exists. Event answers 202 once the
// event is stored durably (see invokeEvent).
func (h *Handler) invoke(w http.ResponseWriter, r *http.Request, arg string) {
	req, typ, err := h.decodeInvoke(r, arg)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	switch typ {
	case stratus.DryRun:
		if err := h.dryRun(r, req); err != nil {
			h.writeError(w, r, err)
			return
		}
		setRequestID(w, awsapi.NewRequestID())
		w.WriteHeader(http.StatusNoContent)
	case stratus.Event:
		h.invokeEvent(w, r, req)
	default:
		resp, err := h.inv.Invoke(r.Context(), req)
		if err != nil {
			h.writeError(w, r, h.orNotFound(err, req.FunctionName, req.Qualifier))
			return
		}
		writeInvokeResponse(w, req, resp)
	}
}

// dryRun checks that the function, version or alias exists.
func (h *Handler) dryRun(r *http.Request, req *stratus.InvokeRequest) error {
	_, err := h.resolveQualified(r.Context(), functionRef{Name: req.FunctionName, Qualifier: req.Qualifier})
	return err
}

// decodeInvoke parses and checks everything about an Invoke request that
// does not need the function: name, headers, payload size and syntax.
func (h *Handler) decodeInvoke(r *http.Request, arg string) (*stratus.InvokeRequest, stratus.InvocationType, error) {
	qualifier := ""
	if r.URL.RawQuery != "" {
		qualifier = r.URL.Query().Get("Qualifier")
	}
	ref, err := h.parseFunctionParam(arg, qualifier)
	if err != nil {
		return nil, "", err
	}
	typ := stratus.RequestResponse
	switch t := r.Header.Get("X-Amz-Invocation-Type"); t {
	case "", string(stratus.RequestResponse):
	case string(stratus.Event):
		typ = stratus.Event
	case string(stratus.DryRun):
		typ = stratus.DryRun
	default:
		return nil, "", constraint(t, "invocationType", "Member must satisfy enum value set: [Event, RequestResponse, DryRun]")
	}
	tail := false
	switch t := r.Header.Get("X-Amz-Log-Type"); t {
	case "", "None":
	case "Tail":
		tail = typ == stratus.RequestResponse
	default:
		return nil, "", constraint(t, "logType", "Member must satisfy enum value set: [None, Tail]")
	}
	req := &stratus.InvokeRequest{
		FunctionName: ref.Name,
		Qualifier:    ref.Qualifier,
		TraceID:      r.Header.Get("X-Amzn-Trace-Id"),
		TailLog:      tail,
	}
	if cc := r.Header.Get("X-Amz-Client-Context"); cc != "" {
		if req.ClientContext, err = decodeClientContext(cc); err != nil {
			return nil, "", err
		}
	}
	if req.Payload, err = readPayload(r, typ); err != nil {
		return nil, "", err
	}
	return req, typ, nil
}

// decodeClientContext decodes X-Amz-Client-Context. Over 3583 bytes is
// InvalidParameterValueException (a parameter limit); undecodable is
// InvalidRequestContentException.
func decodeClientContext(cc string) (string, error) {
	if len(cc) > maxClientContext {
		return "", invalidf("Client context must be at most %d bytes of base64-encoded data.", maxClientContext)
	}
	b, err := base64.StdEncoding.DecodeString(cc)
	if err != nil || !jsonv.Valid(b) {
		return "", stratus.Errorf(stratus.EBADREQUEST, "Client context must be a valid Base64-encoded JSON object.")
	}
	return string(b), nil
}

// readPayload reads the event in one allocation when the length is known.
// An empty body is the empty JSON object; anything else must be JSON.
func readPayload(r *http.Request, typ stratus.InvocationType) ([]byte, error) {
	limit := int64(maxSyncPayload)
	if typ == stratus.Event {
		limit = maxAsyncPayload
	}
	var payload []byte
	var err error
	switch n := r.ContentLength; {
	case n > limit:
		return nil, payloadTooLarge(typ, n)
	case n > 0:
		payload = make([]byte, n)
		_, err = io.ReadFull(r.Body, payload)
	case n < 0:
		payload, err = io.ReadAll(io.LimitReader(r.Body, limit+1))
		if int64(len(payload)) > limit {
			return nil, payloadTooLarge(typ, int64(len(payload)))
		}
	}
	if err != nil {
		return nil, stratus.Errorf(stratus.EBADREQUEST, "Could not read request body: %v", err)
	}
	if len(bytes.TrimSpace(payload)) == 0 {
		return []byte("{}"), nil
	}
	// jsonv.Valid decides exactly as json.Valid does, several times
	// faster; encoding/json only explains the rare rejection.
	if !jsonv.Valid(payload) {
		var raw json.RawMessage
		msg := "invalid JSON"
		if err := json.Unmarshal(payload, &raw); err != nil {
			msg = err.Error()
		}
		return nil, stratus.Errorf(stratus.EBADREQUEST, "Could not parse request body into json: Could not parse payload into json: %s", msg)
	}
	return payload, nil
}

func payloadTooLarge(typ stratus.InvocationType, n int64) error {
	if typ == stratus.Event {
		return stratus.Errorf(stratus.ETOOLARGE, "%d byte payload is too large for the Event invocation type (limit %d bytes)", n, maxAsyncPayload)
	}
	return stratus.Errorf(stratus.ETOOLARGE, "Request must be smaller than %d bytes for the InvokeFunction operation", maxSyncPayload)
}

// writeInvokeResponse writes a synchronous result: the payload bytes as
// they are, no re-encoding.
func writeInvokeResponse(w http.ResponseWriter, req *stratus.InvokeRequest, resp *stratus.InvokeResponse) {
	hd := w.Header()
	id := resp.RequestID
	if id == "" {
		id = awsapi.NewRequestID()
	}
	hd[hdrRequestID] = []string{id}
	hd[hdrContentType] = jsonContentType
	switch v := resp.ExecutedVersion; {
	case v == stratus.LatestVersion, v == "" && isLatest(req.Qualifier):
		hd[hdrExecutedVersion] = latestVersionHeader
	case v != "":
		hd[hdrExecutedVersion] = []string{v}
	}
	switch fe := resp.FunctionError; fe {
	case "":
	case "Unhandled":
		hd[hdrFunctionError] = unhandledHeader
	default:
		hd[hdrFunctionError] = []string{fe}
	}
	if req.TailLog && len(resp.LogTail) > 0 {
		hd[hdrLogResult] = []string{base64.StdEncoding.EncodeToString(resp.LogTail)}
	}
	hd[hdrContentLength] = []string{strconv.Itoa(len(resp.Payload))}
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(resp.Payload)
}
