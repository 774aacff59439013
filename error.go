package stratus

import (
	"errors"
	"fmt"
)

// Domain error codes. They say what went wrong, independent of any wire
// protocol; each API maps them to its service's error names and statuses.
// Codes are append-only.
const (
	EINTERNAL     = "internal"     // a bug or an unexpected failure
	ENOTFOUND     = "not_found"    // the resource does not exist
	ECONFLICT     = "conflict"     // the resource exists or is busy
	EINVALID      = "invalid"      // a parameter value is not acceptable
	EBADREQUEST   = "bad_request"  // the request body cannot be parsed
	ETOOLARGE     = "too_large"    // the request or payload is too big
	EPRECONDITION = "precondition" // an optimistic-lock guard failed
	ETHROTTLED    = "throttled"    // a concurrency or rate limit was hit
	EUNSUPPORTED  = "unsupported"  // valid, but not implemented here
	EUNAVAILABLE  = "unavailable"  // temporarily unable to serve
	EVALIDATION   = "validation"   // a value breaks the API model's constraints
)

// Error is the domain error. Code is one of the E* constants; Message is
// meant for the user; Reason refines Code where AWS has a reason field
// (e.g. the throttling reason).
type Error struct {
	Code    string
	Message string
	Reason  string
}

func (e *Error) Error() string {
	return fmt.Sprintf("stratus error: code=%s message=%s", e.Code, e.Message)
}

// Errorf returns an *Error with the given code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the *Error in err's chain, "" for nil and
// EINTERNAL for any other error.
func ErrorCode(err error) string {
	if err == nil { // on every invocation's path: no allocation
		return ""
	}
	if e := asError(err); e != nil {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the message of the *Error in err's chain, "" for
// nil and a generic text for foreign errors, whose text is not for users.
func ErrorMessage(err error) string {
	if err == nil {
		return ""
	}
	if e := asError(err); e != nil {
		return e.Message
	}
	return "Internal error."
}

// asError finds the *Error in err's chain.
func asError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return nil
}
