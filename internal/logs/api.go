package logs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/stratus-dev/stratus/internal/awsapi"
)

// TargetPrefix starts the X-Amz-Target header of every CloudWatch Logs
// operation.
const TargetPrefix = "Logs_20140328."

const (
	contentType    = "application/x-amz-json-1.1"
	maxRequestBody = 1 << 20
	requestTimeout = 30 * time.Second
)

// Match reports whether r is a CloudWatch Logs API request.
func Match(r *http.Request) bool {
	return strings.HasPrefix(r.Header.Get("X-Amz-Target"), TargetPrefix)
}

// apiError is an error of the CloudWatch Logs API.
type apiError struct {
	status  int
	code    string
	message string
}

func (e *apiError) Error() string { return e.code + ": " + e.message }

func invalidParam(format string, args ...any) error {
	return &apiError{http.StatusBadRequest, "InvalidParameterException", fmt.Sprintf(format, args...)}
}

func groupNotFound() error {
	return &apiError{http.StatusBadRequest, "ResourceNotFoundException", "The specified log group does not exist."}
}

func streamNotFound() error {
	return &apiError{http.StatusBadRequest, "ResourceNotFoundException", "The specified log stream does not exist."}
}

func invalidToken() error { return invalidParam("The specified nextToken is invalid.") }

// checkLimit validates a limit parameter and applies its default.
func checkLimit(limit, def, maxLimit int) (int, error) {
	switch {
	case limit == 0:
		return def, nil
	case limit < 1 || limit > maxLimit:
		return 0, invalidParam("1 validation error detected: Value '%d' at 'limit' failed to satisfy constraint: "+
			"Member must have value between 1 and %d", limit, maxLimit)
	}
	return limit, nil
}

// Handler returns the CloudWatch Logs API (JSON 1.1 protocol): POST with
// X-Amz-Target Logs_20140328.<Operation>. It serves DescribeLogGroups,
// DescribeLogStreams, GetLogEvents and FilterLogEvents; any other
// operation gets UnknownOperationException.
func (l *Logs) Handler() http.Handler { return http.HandlerFunc(l.serveHTTP) }

func (l *Logs) serveHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Amzn-RequestId", awsapi.NewRequestID())
	op, _ := strings.CutPrefix(r.Header.Get("X-Amz-Target"), TargetPrefix)
	if r.Method != http.MethodPost {
		awsapi.WriteJSON1Error(w, http.StatusBadRequest, "UnknownOperationException", "Only POST is supported.")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxRequestBody))
	if err != nil {
		awsapi.WriteJSON1Error(w, http.StatusRequestEntityTooLarge, "SerializationException", "Request body is too large.")
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), requestTimeout)
	defer cancel()
	switch op {
	case "DescribeLogGroups":
		serve(ctx, l, w, op, body, l.describeLogGroups)
	case "DescribeLogStreams":
		serve(ctx, l, w, op, body, l.describeLogStreams)
	case "GetLogEvents":
		serve(ctx, l, w, op, body, l.getLogEvents)
	case "FilterLogEvents":
		serve(ctx, l, w, op, body, l.filterLogEvents)
	default:
		awsapi.WriteJSON1Error(w, http.StatusBadRequest, "UnknownOperationException",
			"Unknown operation "+strconv.Quote(op)+".")
	}
}

// serve decodes the request, runs op and writes its result or error. It
// is the edge where internal errors are logged.
func serve[In, Out any](ctx context.Context, l *Logs, w http.ResponseWriter, name string, body []byte,
	op func(context.Context, *In) (*Out, error)) {
	in := new(In)
	if len(body) > 0 {
		if err := json.Unmarshal(body, in); err != nil {
			awsapi.WriteJSON1Error(w, http.StatusBadRequest, "SerializationException",
				"Cannot parse the request body: "+err.Error())
			return
		}
	}
	out, err := op(ctx, in)
	var ae *apiError
	switch {
	case errors.As(err, &ae):
		awsapi.WriteJSON1Error(w, ae.status, ae.code, ae.message)
		return
	case err != nil:
		l.log.Error("serving CloudWatch Logs request", "operation", name, "err", err)
		awsapi.WriteJSON1Error(w, http.StatusInternalServerError, "ServiceUnavailableException",
			"The service cannot complete the request.")
		return
	}
	b, err := json.Marshal(out)
	if err != nil {
		l.log.Error("encoding CloudWatch Logs response", "operation", name, "err", err)
		awsapi.WriteJSON1Error(w, http.StatusInternalServerError, "ServiceUnavailableException",
			"The service cannot complete the request.")
		return
	}
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
}

// groupName returns the log group named by a logGroupName or a
// logGroupIdentifier (a name or an ARN).
func groupName(name, identifier string) (string, error) {
	switch {
	case name != "" && identifier != "":
		return "", invalidParam("LogGroup name and LogGroup ARN are mutually exclusive parameters.")
	case name != "":
		return name, nil
	case identifier == "":
		return "", invalidParam("Either logGroupName or logGroupIdentifier must be specified.")
	}
	if _, rest, ok := strings.Cut(identifier, ":log-group:"); ok && strings.HasPrefix(identifier, "arn:") {
		return strings.TrimSuffix(rest, ":*"), nil
	}
	return identifier, nil
}

func (l *Logs) groupARN(group string) string {
	return "arn:aws:logs:" + l.cfg.Region + ":" + l.cfg.AccountID + ":log-group:" + group
}

func (l *Logs) streamARN(group, stream string) string {
	return l.groupARN(group) + ":log-stream:" + stream
}

// groupExists reports whether a log group holds any event.
func (l *Logs) groupExists(ctx context.Context, group string) (bool, error) {
	m, err := l.firstMsg(ctx, groupFilter(l.cfg.SubjectPrefix, group))
	return m != nil, err
}
