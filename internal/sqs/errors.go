package sqs

import (
	"errors"
	"fmt"

	"github.com/stratus-dev/stratus"
)

// wireError is how one SQS error looks on the wire in both protocols.
type wireError struct {
	// Shape is the error shape of the JSON protocol: __type is
	// "com.amazonaws.sqs#" + Shape.
	Shape string
	// Query is the query protocol's code, sent in the XML ErrorResponse
	// and, in JSON mode, in the x-amzn-query-error header.
	Query  string
	Status int
	// Sender is the fault: true for the caller's, false for ours.
	Sender bool
}

// errorTable is the one place where an SQS error name becomes its wire
// form (botocore's SQS model, awsQueryError traits). Domain errors name
// their SQS error in stratus.Error.Reason; errors without a reason are
// mapped by domain code through codeTable. Append-only.
var errorTable = map[string]wireError{
	"QueueDoesNotExist":            {"QueueDoesNotExist", "AWS.SimpleQueueService.NonExistentQueue", 400, true},
	"QueueNameExists":              {"QueueNameExists", "QueueAlreadyExists", 400, true},
	"QueueDeletedRecently":         {"QueueDeletedRecently", "AWS.SimpleQueueService.QueueDeletedRecently", 400, true},
	"MessageNotInflight":           {"MessageNotInflight", "AWS.SimpleQueueService.MessageNotInflight", 400, true},
	"ReceiptHandleIsInvalid":       {"ReceiptHandleIsInvalid", "ReceiptHandleIsInvalid", 404, true},
	"BatchEntryIdsNotDistinct":     {"BatchEntryIdsNotDistinct", "AWS.SimpleQueueService.BatchEntryIdsNotDistinct", 400, true},
	"BatchRequestTooLong":          {"BatchRequestTooLong", "AWS.SimpleQueueService.BatchRequestTooLong", 400, true},
	"EmptyBatchRequest":            {"EmptyBatchRequest", "AWS.SimpleQueueService.EmptyBatchRequest", 400, true},
	"InvalidBatchEntryId":          {"InvalidBatchEntryId", "AWS.SimpleQueueService.InvalidBatchEntryId", 400, true},
	"TooManyEntriesInBatchRequest": {"TooManyEntriesInBatchRequest", "AWS.SimpleQueueService.TooManyEntriesInBatchRequest", 400, true},
	"PurgeQueueInProgress":         {"PurgeQueueInProgress", "AWS.SimpleQueueService.PurgeQueueInProgress", 403, true},
	"UnsupportedOperation":         {"UnsupportedOperation", "AWS.SimpleQueueService.UnsupportedOperation", 400, true},
	"OverLimit":                    {"OverLimit", "OverLimit", 403, true},
	"RequestThrottled":             {"RequestThrottled", "RequestThrottled", 403, true},
	"InvalidAttributeName":         {"InvalidAttributeName", "InvalidAttributeName", 400, true},
	"InvalidAttributeValue":        {"InvalidAttributeValue", "InvalidAttributeValue", 400, true},
	"InvalidMessageContents":       {"InvalidMessageContents", "InvalidMessageContents", 400, true},
	"InvalidAddress":               {"InvalidAddress", "InvalidAddress", 404, true},
	"ResourceNotFoundException":    {"ResourceNotFoundException", "ResourceNotFoundException", 404, true},
	// Errors outside the model (common to AWS query services).
	"InvalidParameterValue":  {"InvalidParameterValue", "InvalidParameterValue", 400, true},
	"MissingParameter":       {"MissingParameter", "MissingParameter", 400, true},
	"InvalidAction":          {"InvalidAction", "InvalidAction", 400, true},
	"MalformedQueryString":   {"MalformedQueryString", "MalformedQueryString", 400, true},
	"SerializationException": {"SerializationException", "SerializationException", 400, true},
	"RequestEntityTooLarge":  {"RequestEntityTooLarge", "RequestEntityTooLarge", 413, true},
	"ServiceUnavailable":     {"ServiceUnavailable", "ServiceUnavailable", 503, false},
	"InternalError":          {"InternalError", "InternalError", 500, false},
}

// codeTable maps domain codes of errors without an SQS reason.
var codeTable = map[string]string{
	stratus.ENOTFOUND:     "QueueDoesNotExist",
	stratus.ECONFLICT:     "QueueNameExists",
	stratus.EINVALID:      "InvalidParameterValue",
	stratus.EVALIDATION:   "InvalidParameterValue",
	stratus.EBADREQUEST:   "MalformedQueryString",
	stratus.ETOOLARGE:     "RequestEntityTooLarge",
	stratus.EPRECONDITION: "InvalidParameterValue",
	stratus.ETHROTTLED:    "RequestThrottled",
	stratus.EUNSUPPORTED:  "UnsupportedOperation",
	stratus.EUNAVAILABLE:  "ServiceUnavailable",
	stratus.EINTERNAL:     "InternalError",
}

// lookupError returns the wire form of err and the message to send.
func lookupError(err error) (wireError, string) {
	name := codeTable[stratus.ErrorCode(err)]
	var e *stratus.Error
	if errors.As(err, &e) && e.Reason != "" {
		if _, known := errorTable[e.Reason]; known {
			name = e.Reason
		}
	}
	we, ok := errorTable[name]
	if !ok {
		we = errorTable["InternalError"]
	}
	return we, stratus.ErrorMessage(err)
}

// sqsErr returns a domain error with code and SQS error name reason.
func sqsErr(code, reason, format string, args ...any) *stratus.Error {
	return &stratus.Error{Code: code, Reason: reason, Message: fmt.Sprintf(format, args...)}
}

func errNoQueue() error {
	return sqsErr(stratus.ENOTFOUND, "QueueDoesNotExist", "The specified queue does not exist.")
}

func errInvalidParam(format string, args ...any) error {
	return sqsErr(stratus.EINVALID, "InvalidParameterValue", format, args...)
}

// errParamValue is AWS's "Value v for parameter p is invalid. Reason: r."
func errParamValue(value any, param, reason string) error {
	return errInvalidParam("Value %v for parameter %s is invalid. Reason: %s", value, param, reason)
}

func errMissing(param string) error {
	return sqsErr(stratus.EINVALID, "MissingParameter", "The request must contain the parameter %s.", param)
}

func errAttrName(name string) error {
	return sqsErr(stratus.EINVALID, "InvalidAttributeName", "Unknown Attribute %s.", name)
}

func errAttrValue(name, reason string) error {
	if reason == "" {
		return sqsErr(stratus.EINVALID, "InvalidAttributeValue", "Invalid value for the parameter %s.", name)
	}
	return sqsErr(stratus.EINVALID, "InvalidAttributeValue", "Invalid value for the parameter %s. Reason: %s", name, reason)
}

func errReceiptHandle(handle string) error {
	return sqsErr(stratus.EINVALID, "ReceiptHandleIsInvalid", "The input receipt handle %q is not a valid receipt handle.", handle)
}

func errNotInflight() error {
	return sqsErr(stratus.EINVALID, "MessageNotInflight", "The message referred to is not in flight.")
}

func errUnsupported(format string, args ...any) error {
	return sqsErr(stratus.EUNSUPPORTED, "UnsupportedOperation", format, args...)
}
