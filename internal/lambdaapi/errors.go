package lambdaapi

import (
	"errors"
	"net/http"

	"github.com/stratus-dev/stratus"
	"github.com/stratus-dev/stratus/internal/awsapi"
)

// awsError is how one domain error code looks on the wire.
type awsError struct {
	Code   string // X-Amzn-ErrorType
	Status int
	// UpperMessage writes "Message" instead of "message" (observed for
	// ResourceNotFoundException; AWS does the same for ServiceException).
	UpperMessage bool
}

// errorTable maps every domain error code to Lambda's error. It is the one
// place where a stratus code becomes an AWS code; codes are append-only.
var errorTable = map[string]awsError{
	stratus.ENOTFOUND:     {"ResourceNotFoundException", http.StatusNotFound, true},
	stratus.ECONFLICT:     {"ResourceConflictException", http.StatusConflict, false},
	stratus.EINVALID:      {"InvalidParameterValueException", http.StatusBadRequest, false},
	stratus.EBADREQUEST:   {"InvalidRequestContentException", http.StatusBadRequest, false},
	stratus.ETOOLARGE:     {"RequestEntityTooLargeException", http.StatusRequestEntityTooLarge, false},
	stratus.EPRECONDITION: {"PreconditionFailedException", http.StatusPreconditionFailed, false},
	stratus.ETHROTTLED:    {"TooManyRequestsException", http.StatusTooManyRequests, false},
	stratus.EUNSUPPORTED:  {"InvalidParameterValueException", http.StatusBadRequest, false},
	stratus.EUNAVAILABLE:  {"ServiceException", http.StatusServiceUnavailable, true},
	stratus.EINTERNAL:     {"ServiceException", http.StatusInternalServerError, true},
	stratus.EVALIDATION:   {"ValidationException", http.StatusBadRequest, false},
}

// Throttling defaults when the domain error does not say.
const (
	defaultThrottleReason = "ConcurrentInvocationLimitExceeded"
	retryAfterSeconds     = "1"
)

// Header names, in canonical form so that lookups need no conversion.
// AWS spells the request id header x-amzn-RequestId; header names are
// case-insensitive.
const (
	hdrRequestID       = "X-Amzn-Requestid"
	hdrContentType     = "Content-Type"
	hdrContentLength   = "Content-Length"
	hdrExecutedVersion = "X-Amz-Executed-Version"
	hdrFunctionError   = "X-Amz-Function-Error"
	hdrLogResult       = "X-Amz-Log-Result"
)

func setRequestID(w http.ResponseWriter, id string) {
	w.Header()[hdrRequestID] = []string{id}
}

// writeError writes err in the rest-json envelope. Foreign errors become
// 500 ServiceException with a generic message; 5xx errors are logged.
func (h *Handler) writeError(w http.ResponseWriter, r *http.Request, err error) {
	if w.Header().Get(hdrRequestID) == "" {
		setRequestID(w, awsapi.NewRequestID())
	}
	code := stratus.ErrorCode(err)
	ae, ok := errorTable[code]
	if !ok {
		ae = errorTable[stratus.EINTERNAL]
	}
	e := &awsapi.RestJSONError{
		Status:       ae.Status,
		Code:         ae.Code,
		Message:      stratus.ErrorMessage(err),
		UpperMessage: ae.UpperMessage,
	}
	if code == stratus.ETHROTTLED {
		reason := defaultThrottleReason
		var se *stratus.Error
		if errors.As(err, &se) && se.Reason != "" {
			reason = se.Reason
		}
		e.Fields = map[string]any{"Reason": reason}
		w.Header().Set("Retry-After", retryAfterSeconds)
	}
	if ae.Status >= 500 && h.cfg.Logger != nil {
		h.cfg.Logger.Error("lambda API request failed",
			"method", r.Method, "path", r.URL.Path,
			"requestId", w.Header().Get(hdrRequestID), "err", err)
	}
	e.Write(w)
}

// writeUnknownOperation answers a path or method that is not a Lambda
// operation served here. AWS answers unknown operations with
// UnknownOperationException; 404 keeps SDKs from retrying.
func writeUnknownOperation(w http.ResponseWriter, r *http.Request) {
	(&awsapi.RestJSONError{
		Status:  http.StatusNotFound,
		Code:    "UnknownOperationException",
		Message: "Unknown operation: " + r.Method + " " + r.URL.EscapedPath() + " is not supported by this server",
	}).Write(w)
}

// Errors shared by several operations.

func notFound(h *Handler, name, qualifier string) error {
	return stratus.Errorf(stratus.ENOTFOUND, "Function not found: %s", FunctionARN(h.cfg.Region, h.cfg.AccountID, name, qualifier))
}

func invalidf(format string, args ...any) error {
	return stratus.Errorf(stratus.EINVALID, format, args...)
}

// unsupported rejects a parameter this server cannot honour.
func unsupported(format string, args ...any) error {
	return stratus.Errorf(stratus.EUNSUPPORTED, format, args...)
}

// constraint builds AWS's model-validation error: AWS checks the model's
// constraints (lengths, ranges, patterns, enums) before the operation runs
// and answers ValidationException.
func constraint(value any, field, rule string) error {
	return stratus.Errorf(stratus.EVALIDATION, "1 validation error detected: Value '%v' at '%s' failed to satisfy constraint: %s", value, field, rule)
}

// notNull is AWS's message for a required member that is missing.
func notNull(field string) error {
	return stratus.Errorf(stratus.EVALIDATION, "1 validation error detected: Value null at '%s' failed to satisfy constraint: Member must not be null", field)
}

// orNotFound replaces an ENOTFOUND from the store by Lambda's message,
// which names the function by its full ARN.
func (h *Handler) orNotFound(err error, name, qualifier string) error {
	if stratus.ErrorCode(err) == stratus.ENOTFOUND {
		return notFound(h, name, qualifier)
	}
	return err
}
