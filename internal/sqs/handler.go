package sqs

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/stratus-dev/stratus"
	"github.com/stratus-dev/stratus/internal/awsapi"
)

// TargetPrefix starts the X-Amz-Target header of SQS's JSON protocol.
const TargetPrefix = "AmazonSQS."

// maxRequestBytes bounds a request body: a batch of 1 MiB of messages,
// form-encoded (up to three bytes per byte) or base64 in JSON.
const maxRequestBytes = 4<<20 + 64<<10

// Handler serves the SQS API in both wire protocols: JSON 1.0
// (X-Amz-Target: AmazonSQS.<Operation>, current SDKs) and query (form
// field Action=<Operation>, XML responses, AWS CLI v2 before 2.13.34).
// Both decode into the same inputs, run the same operations and map
// errors through the same table.
type Handler struct {
	svc *Service
	log *slog.Logger
}

var _ http.Handler = (*Handler)(nil)

// Handler returns the service's HTTP handler.
func (s *Service) Handler() *Handler { return &Handler{svc: s, log: s.log} }

// Match reports whether r is an SQS request. JSON requests are
// recognised by their X-Amz-Target header alone; any other X-Amz-Target
// (CloudWatch Logs, ...) is not SQS. Query requests must go to "/" or to
// a queue URL path /<12 digits>/<queue>, so Lambda's date-prefixed paths
// never match; a SigV4 signature then names the service, and unsigned
// requests are recognised by an SQS Action, read from the URL or, for
// form posts, from the body, which is restored for the handler.
func Match(r *http.Request) bool {
	if t := r.Header.Get("X-Amz-Target"); t != "" {
		return strings.HasPrefix(t, TargetPrefix)
	}
	if !queryPath(r.URL.Path) {
		return false
	}
	if svc := signedService(r); svc != "" {
		return svc == "sqs"
	}
	action := r.URL.Query().Get("Action")
	if action == "" && r.Method == http.MethodPost && isForm(r) {
		action = peekAction(r)
	}
	_, ok := operations[action]
	return ok || unsupportedOps[action]
}

// queryPath reports whether p is "/" or a queue URL path.
func queryPath(p string) bool {
	if p == "" || p == "/" {
		return true
	}
	account, name, ok := strings.Cut(strings.TrimPrefix(p, "/"), "/")
	if !ok || len(account) != 12 || name == "" || strings.Contains(name, "/") {
		return false
	}
	for i := 0; i < len(account); i++ {
		if account[i] < '0' || account[i] > '9' {
			return false
		}
	}
	return true
}

// signedService returns the service of a SigV4 credential scope
// (Authorization header or presigned X-Amz-Credential), or "".
func signedService(r *http.Request) string {
	cred := ""
	if a := r.Header.Get("Authorization"); a != "" {
		if i := strings.Index(a, "Credential="); i >= 0 {
			cred = a[i+len("Credential="):]
			if j := strings.IndexAny(cred, ", "); j >= 0 {
				cred = cred[:j]
			}
		}
	} else {
		cred = r.URL.Query().Get("X-Amz-Credential")
	}
	parts := strings.Split(cred, "/")
	if len(parts) != 5 {
		return ""
	}
	return parts[3]
}

// accessKey returns the access key id of a signed request, or "".
func accessKey(r *http.Request) string {
	a := r.Header.Get("Authorization")
	i := strings.Index(a, "Credential=")
	if i < 0 {
		return ""
	}
	cred := a[i+len("Credential="):]
	if j := strings.IndexByte(cred, '/'); j >= 0 {
		cred = cred[:j]
	}
	for k := 0; k < len(cred); k++ {
		if !isNameByte(cred[k]) {
			return ""
		}
	}
	return cred
}

func isForm(r *http.Request) bool {
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return ct == "application/x-www-form-urlencoded"
}

// peekAction reads the body of a form post, puts it back and returns its
// Action field.
func peekAction(r *http.Request) string {
	buf, err := io.ReadAll(io.LimitReader(r.Body, maxRequestBytes+1))
	r.Body = struct {
		io.Reader
		io.Closer
	}{io.MultiReader(bytes.NewReader(buf), r.Body), r.Body}
	if err != nil {
		return ""
	}
	v, err := url.ParseQuery(string(buf))
	if err != nil {
		return ""
	}
	return v.Get("Action")
}

// ServeHTTP serves one request in the protocol it uses.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	reqID := awsapi.NewRequestID()
	w.Header().Set("X-Amzn-Requestid", reqID)
	c := &call{ctx: r.Context(), scheme: "http", host: r.Host, path: r.URL.Path, sender: accessKey(r)}
	if r.TLS != nil {
		c.scheme = "https"
	}
	if c.sender == "" {
		c.sender = h.svc.cfg.AccountID
	}
	if t := r.Header.Get("X-Amz-Target"); t != "" {
		h.serveJSON(w, r, c, strings.TrimPrefix(t, TargetPrefix))
		return
	}
	h.serveQuery(w, r, c, reqID)
}

// readBody reads a request body up to maxRequestBytes.
func readBody(r *http.Request) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r.Body, maxRequestBytes+1))
	if err != nil {
		return nil, sqsErr(stratus.EBADREQUEST, "MalformedQueryString", "Reading the request body failed.")
	}
	if len(b) > maxRequestBytes {
		return nil, sqsErr(stratus.ETOOLARGE, "RequestEntityTooLarge", "The request is larger than %d bytes.", maxRequestBytes)
	}
	return b, nil
}

// lookupOp returns the operation named name.
func lookupOp(name string) (opSpec, error) {
	if spec, ok := operations[name]; ok {
		return spec, nil
	}
	if unsupportedOps[name] {
		return opSpec{}, errUnsupported("%s is not supported by this server.", name)
	}
	return opSpec{}, sqsErr(stratus.EINVALID, "InvalidAction", "The action %s is not valid for this endpoint.", name)
}

// serveJSON serves the JSON 1.0 protocol.
func (h *Handler) serveJSON(w http.ResponseWriter, r *http.Request, c *call, name string) {
	spec, err := lookupOp(name)
	if err == nil && r.Method != http.MethodPost {
		err = sqsErr(stratus.EINVALID, "InvalidAction", "The JSON protocol requires POST.")
	}
	var out any
	if err == nil {
		out, err = h.runJSON(r, c, spec)
	}
	if err != nil {
		h.logFailure(r, err)
		writeJSONError(w, err)
		return
	}
	body, err := json.Marshal(out)
	if err != nil {
		writeJSONError(w, err)
		return
	}
	hd := w.Header()
	hd.Set("Content-Type", "application/x-amz-json-1.0")
	hd.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}

func (h *Handler) runJSON(r *http.Request, c *call, spec opSpec) (any, error) {
	body, err := readBody(r)
	if err != nil {
		return nil, err
	}
	in := spec.input()
	if len(bytes.TrimSpace(body)) > 0 {
		if err := json.Unmarshal(body, in); err != nil {
			return nil, sqsErr(stratus.EBADREQUEST, "SerializationException", "The request body could not be parsed: %s", jsonProblem(err))
		}
	}
	return spec.run(h, c, in)
}

// jsonProblem describes a JSON decoding error without echoing input.
func jsonProblem(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return "member " + te.Field + " must be of type " + te.Type.String()
	}
	return "malformed JSON"
}

// writeJSONError writes err in the JSON 1.0 protocol with the query
// protocol's code in x-amzn-query-error, from which query-compatible
// SDKs take the error code.
func writeJSONError(w http.ResponseWriter, err error) {
	we, msg := lookupError(err)
	fault := "Sender"
	if !we.Sender {
		fault = "Receiver"
	}
	body, _ := json.Marshal(map[string]string{"__type": "com.amazonaws.sqs#" + we.Shape, "message": msg})
	hd := w.Header()
	hd.Set("x-amzn-query-error", we.Query+";"+fault)
	hd.Set("Content-Type", "application/x-amz-json-1.0")
	hd.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(we.Status)
	_, _ = w.Write(body)
}

// logFailure logs server-side failures; client errors are the client's.
func (h *Handler) logFailure(r *http.Request, err error) {
	if we, _ := lookupError(err); !we.Sender && h.log != nil {
		h.log.Error("SQS request failed", "target", r.Header.Get("X-Amz-Target"), "path", r.URL.Path, "err", err)
	}
}
