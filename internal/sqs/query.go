package sqs

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"strconv"

	"github.com/stratus-dev/stratus"
)

// maxQueryMembers bounds how many numbered members of one list the query
// decoder reads; more are reported as too many by the operation.
const maxQueryMembers = 64

// form is the parameters of a query protocol request.
type form url.Values

// readForm returns the request's parameters: the URL's query, overridden
// by a form body.
func readForm(r *http.Request) (form, error) {
	v, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, sqsErr(stratus.EBADREQUEST, "MalformedQueryString", "The query string is malformed.")
	}
	if r.Method == http.MethodPost {
		body, err := readBody(r)
		if err != nil {
			return nil, err
		}
		bv, err := url.ParseQuery(string(body))
		if err != nil {
			return nil, sqsErr(stratus.EBADREQUEST, "MalformedQueryString", "The request body is not a valid form.")
		}
		for k, vs := range bv {
			v[k] = vs
		}
	}
	return form(v), nil
}

// get returns the value of k, nil if absent.
func (f form) get(k string) *string {
	vs, ok := f[k]
	if !ok || len(vs) == 0 {
		return nil
	}
	return &vs[0]
}

func (f form) str(k string) string { return deref(f.get(k)) }

func (f form) int(k string) (*int, error) {
	s := f.get(k)
	if s == nil {
		return nil, nil
	}
	n, err := strconv.Atoi(*s)
	if err != nil {
		return nil, errParamValue(*s, k, "Must be an integer.")
	}
	return &n, nil
}

// count returns how many numbered members prefix.1, prefix.2, ... exist
// (contiguously from 1), reading keys with suffix after the number.
func (f form) count(prefix, suffix string) int {
	n := 0
	for n < maxQueryMembers+1 {
		if _, ok := f[prefix+"."+strconv.Itoa(n+1)+suffix]; !ok {
			break
		}
		n++
	}
	return n
}

// list reads prefix.1, prefix.2, ...
func (f form) list(prefix string) []string {
	var out []string
	for i := 1; i <= f.count(prefix, ""); i++ {
		out = append(out, f.str(prefix+"."+strconv.Itoa(i)))
	}
	return out
}

// pairs reads a flattened map prefix.N.<key>/prefix.N.<value>.
func (f form) pairs(prefix, key, value string) map[string]string {
	n := f.count(prefix, "."+key)
	if n == 0 {
		return nil
	}
	out := make(map[string]string, n)
	for i := 1; i <= n; i++ {
		p := prefix + "." + strconv.Itoa(i) + "."
		out[f.str(p+key)] = f.str(p + value)
	}
	return out
}

// messageAttributes reads prefix.N.Name and prefix.N.Value.DataType /
// .StringValue / .BinaryValue (base64).
func (f form) messageAttributes(prefix string) (map[string]messageAttributeValue, error) {
	n := f.count(prefix, ".Name")
	if n == 0 {
		return nil, nil
	}
	out := make(map[string]messageAttributeValue, n)
	for i := 1; i <= n; i++ {
		p := prefix + "." + strconv.Itoa(i) + "."
		v := messageAttributeValue{DataType: f.str(p + "Value.DataType"), StringValue: f.get(p + "Value.StringValue")}
		if b := f.get(p + "Value.BinaryValue"); b != nil {
			raw, err := base64.StdEncoding.DecodeString(*b)
			if err != nil {
				return nil, errParamValue(*b, p+"Value.BinaryValue", "Binary values must be base64.")
			}
			v.BinaryValue = raw
		}
		if f.count(p+"Value.StringListValue", "") > 0 || f.count(p+"Value.BinaryListValue", "") > 0 {
			v.StringListValues = []string{""}
		}
		out[f.str(p+"Name")] = v
	}
	return out, nil
}

// messageFields reads the message members of SendMessage (prefix "") or
// of a batch entry (prefix "SendMessageBatchRequestEntry.N.").
func (f form) messageFields(prefix string) (messageFields, error) {
	m := messageFields{
		MessageBody:            f.get(prefix + "MessageBody"),
		MessageDeduplicationId: f.get(prefix + "MessageDeduplicationId"),
		MessageGroupId:         f.get(prefix + "MessageGroupId"),
	}
	var err error
	if m.DelaySeconds, err = f.int(prefix + "DelaySeconds"); err != nil {
		return m, err
	}
	if m.MessageAttributes, err = f.messageAttributes(prefix + "MessageAttribute"); err != nil {
		return m, err
	}
	m.MessageSystemAttributes, err = f.messageAttributes(prefix + "MessageSystemAttribute")
	return m, err
}

// entries returns the prefixes of the numbered entries of a batch.
func (f form) entries(prefix string) []string {
	n := f.count(prefix, ".Id")
	out := make([]string, n)
	for i := range out {
		out[i] = prefix + "." + strconv.Itoa(i+1) + "."
	}
	return out
}

// decodeQuery fills an operation's input from query parameters.
func decodeQuery(f form, in any) error {
	var err error
	switch v := in.(type) {
	case *createQueueInput:
		v.QueueName = f.get("QueueName")
		v.Attributes = f.pairs("Attribute", "Name", "Value")
		v.Tags = f.pairs("Tag", "Key", "Value")
	case *getQueueURLInput:
		v.QueueName, v.QueueOwnerAWSAccountId = f.get("QueueName"), f.str("QueueOwnerAWSAccountId")
	case *queueInput:
		v.QueueUrl = f.get("QueueUrl")
	case *listQueuesInput:
		v.QueueNamePrefix, v.NextToken = f.str("QueueNamePrefix"), f.str("NextToken")
		v.MaxResults, err = f.int("MaxResults")
	case *getQueueAttributesInput:
		v.QueueUrl, v.AttributeNames = f.get("QueueUrl"), f.list("AttributeName")
	case *setQueueAttributesInput:
		v.QueueUrl, v.Attributes = f.get("QueueUrl"), f.pairs("Attribute", "Name", "Value")
	case *sendMessageInput:
		v.QueueUrl = f.get("QueueUrl")
		v.messageFields, err = f.messageFields("")
	case *sendMessageBatchInput:
		v.QueueUrl = f.get("QueueUrl")
		for _, p := range f.entries("SendMessageBatchRequestEntry") {
			e := sendMessageBatchEntry{Id: f.str(p + "Id")}
			if e.messageFields, err = f.messageFields(p); err != nil {
				return err
			}
			v.Entries = append(v.Entries, e)
		}
	case *receiveMessageInput:
		v.QueueUrl = f.get("QueueUrl")
		v.AttributeNames = f.list("AttributeName")
		v.MessageSystemAttributeNames = f.list("MessageSystemAttributeName")
		v.MessageAttributeNames = f.list("MessageAttributeName")
		v.ReceiveRequestAttemptId = f.str("ReceiveRequestAttemptId")
		for k, p := range map[string]**int{"MaxNumberOfMessages": &v.MaxNumberOfMessages,
			"VisibilityTimeout": &v.VisibilityTimeout, "WaitTimeSeconds": &v.WaitTimeSeconds} {
			if *p, err = f.int(k); err != nil {
				return err
			}
		}
	case *deleteMessageInput:
		v.QueueUrl, v.ReceiptHandle = f.get("QueueUrl"), f.get("ReceiptHandle")
	case *deleteMessageBatchInput:
		v.QueueUrl = f.get("QueueUrl")
		for _, p := range f.entries("DeleteMessageBatchRequestEntry") {
			v.Entries = append(v.Entries, deleteMessageBatchEntry{Id: f.str(p + "Id"), ReceiptHandle: f.get(p + "ReceiptHandle")})
		}
	case *changeVisibilityInput:
		v.QueueUrl, v.ReceiptHandle = f.get("QueueUrl"), f.get("ReceiptHandle")
		v.VisibilityTimeout, err = f.int("VisibilityTimeout")
	case *changeVisibilityBatchInput:
		v.QueueUrl = f.get("QueueUrl")
		for _, p := range f.entries("ChangeMessageVisibilityBatchRequestEntry") {
			e := changeVisibilityBatchEntry{Id: f.str(p + "Id"), ReceiptHandle: f.get(p + "ReceiptHandle")}
			if e.VisibilityTimeout, err = f.int(p + "VisibilityTimeout"); err != nil {
				return err
			}
			v.Entries = append(v.Entries, e)
		}
	case *listDeadLetterSourceQueuesInput:
		v.QueueUrl, v.NextToken = f.get("QueueUrl"), f.str("NextToken")
		v.MaxResults, err = f.int("MaxResults")
	case *tagQueueInput:
		v.QueueUrl, v.Tags = f.get("QueueUrl"), f.pairs("Tag", "Key", "Value")
	case *untagQueueInput:
		v.QueueUrl, v.TagKeys = f.get("QueueUrl"), f.list("TagKey")
	}
	return err
}

// serveQuery serves the query protocol.
func (h *Handler) serveQuery(w http.ResponseWriter, r *http.Request, c *call, reqID string) {
	out, action, err := h.runQuery(r, c)
	if err != nil {
		h.logFailure(r, err)
		writeXMLError(w, err, reqID)
		return
	}
	writeXMLResponse(w, action, out, reqID)
}

func (h *Handler) runQuery(r *http.Request, c *call) (any, string, error) {
	if r.Method != http.MethodPost && r.Method != http.MethodGet {
		return nil, "", sqsErr(stratus.EINVALID, "InvalidAction", "Method %s is not supported.", r.Method)
	}
	f, err := readForm(r)
	if err != nil {
		return nil, "", err
	}
	action := f.str("Action")
	if action == "" {
		return nil, "", errMissing("Action")
	}
	spec, err := lookupOp(action)
	if err != nil {
		return nil, action, err
	}
	in := spec.input()
	if err := decodeQuery(f, in); err != nil {
		return nil, action, err
	}
	out, err := spec.run(h, c, in)
	return out, action, err
}
