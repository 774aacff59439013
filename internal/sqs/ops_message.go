package sqs

import (
	"strings"
	"time"

	"github.com/stratus-dev/stratus"
)

// toSendInput converts the message members of a request.
func toSendInput(f *messageFields, sender string) (*sendInput, map[string]stratus.MessageAttribute, error) {
	if f.MessageBody == nil {
		return nil, nil, errMissing("MessageBody")
	}
	in := &sendInput{Sender: sender}
	in.Body = *f.MessageBody
	in.DelaySeconds = f.DelaySeconds
	in.GroupID = deref(f.MessageGroupId)
	in.DeduplicationID = deref(f.MessageDeduplicationId)
	if f.MessageGroupId != nil && *f.MessageGroupId == "" {
		return nil, nil, errParamValue("", "MessageGroupId", "MessageGroupId can only include alphanumeric and punctuation characters. 1 to 128 in length.")
	}
	if f.MessageDeduplicationId != nil && *f.MessageDeduplicationId == "" {
		return nil, nil, errParamValue("", "MessageDeduplicationId", "MessageDeduplicationId can only include alphanumeric and punctuation characters. 1 to 128 in length.")
	}
	var err error
	if in.Attributes, err = toAttributes(f.MessageAttributes); err != nil {
		return nil, nil, err
	}
	sys, err := toAttributes(f.MessageSystemAttributes)
	if err != nil {
		return nil, nil, err
	}
	for name, a := range sys {
		if name != "AWSTraceHeader" {
			return nil, nil, errInvalidParam("Message system attribute name '%s' is invalid.", name)
		}
		if a.DataType != "String" || a.StringValue == "" {
			return nil, nil, errInvalidParam("The message system attribute AWSTraceHeader must be a non-empty String.")
		}
		in.Trace = a.StringValue
	}
	return in, sys, nil
}

func toAttributes(m map[string]messageAttributeValue) (map[string]stratus.MessageAttribute, error) {
	if len(m) == 0 {
		return nil, nil
	}
	out := make(map[string]stratus.MessageAttribute, len(m))
	for name, v := range m {
		if len(v.StringListValues) > 0 || len(v.BinaryListValues) > 0 {
			return nil, errInvalidParam("Message attribute list values in '%s' are not supported.", name)
		}
		out[name] = stratus.MessageAttribute{DataType: v.DataType, StringValue: deref(v.StringValue), BinaryValue: v.BinaryValue}
	}
	return out, nil
}

func sendOutput(r sendResult, sys map[string]stratus.MessageAttribute) sendMessageOutput {
	return sendMessageOutput{
		MD5OfMessageBody:             r.MD5Body,
		MD5OfMessageAttributes:       r.MD5Attrs,
		MD5OfMessageSystemAttributes: md5OfAttributes(sys),
		MessageId:                    r.MessageID,
		SequenceNumber:               r.SequenceNumber,
	}
}

func (h *Handler) sendMessage(c *call, in *sendMessageInput) (any, error) {
	name, err := h.queueName(c, in.QueueUrl)
	if err != nil {
		return nil, err
	}
	si, sys, err := toSendInput(&in.messageFields, c.sender)
	if err != nil {
		return nil, err
	}
	res, err := h.svc.send(c.ctx, name, []*sendInput{si})
	if err != nil {
		return nil, err
	}
	if res[0].Err != nil {
		return nil, res[0].Err
	}
	out := sendOutput(res[0], sys)
	return &out, nil
}

func (h *Handler) sendMessageBatch(c *call, in *sendMessageBatchInput) (any, error) {
	name, err := h.queueName(c, in.QueueUrl)
	if err != nil {
		return nil, err
	}
	ids := make([]string, len(in.Entries))
	for i, e := range in.Entries {
		ids[i] = e.Id
	}
	if err := checkBatchIDs(ids); err != nil {
		return nil, err
	}
	eng, err := h.svc.engine(name)
	if err != nil {
		return nil, err
	}
	limit := eng.config().MaxSize
	total := 0
	for _, e := range in.Entries {
		total += len(deref(e.MessageBody))
		for n, a := range e.MessageAttributes {
			total += len(n) + len(a.DataType) + len(deref(a.StringValue)) + len(a.BinaryValue)
		}
	}
	if total > limit {
		return nil, sqsErr(stratus.EINVALID, "BatchRequestTooLong",
			"Batch requests cannot be longer than %d bytes. You have sent %d bytes.", limit, total)
	}
	out := &sendMessageBatchOutput{Successful: []sendMessageBatchResultEntry{}, Failed: []batchResultErrorEntry{}}
	var ins []*sendInput
	var sysAttrs []map[string]stratus.MessageAttribute
	var inIDs []string
	for _, e := range in.Entries {
		si, sys, err := toSendInput(&e.messageFields, c.sender)
		if err != nil {
			out.Failed = append(out.Failed, batchError(e.Id, err))
			continue
		}
		ins, sysAttrs, inIDs = append(ins, si), append(sysAttrs, sys), append(inIDs, e.Id)
	}
	if len(ins) > 0 {
		res, err := h.svc.send(c.ctx, name, ins)
		if err != nil {
			return nil, err
		}
		for i, r := range res {
			if r.Err != nil {
				out.Failed = append(out.Failed, batchError(inIDs[i], r.Err))
				continue
			}
			out.Successful = append(out.Successful, sendMessageBatchResultEntry{Id: inIDs[i], sendMessageOutput: sendOutput(r, sysAttrs[i])})
		}
	}
	return out, nil
}

// systemAttributeNames are the names ReceiveMessage accepts for message
// system attributes (besides "All").
var systemAttributeNames = map[string]bool{
	"SenderId": true, "SentTimestamp": true, "ApproximateReceiveCount": true,
	"ApproximateFirstReceiveTimestamp": true, "SequenceNumber": true, "MessageDeduplicationId": true,
	"MessageGroupId": true, "AWSTraceHeader": true, "DeadLetterQueueSourceArn": true,
}

func (h *Handler) receiveMessage(c *call, in *receiveMessageInput) (any, error) {
	name, err := h.queueName(c, in.QueueUrl)
	if err != nil {
		return nil, err
	}
	eng, err := h.svc.engine(name)
	if err != nil {
		return nil, err
	}
	cfg := eng.config()
	r := receiveReq{max: 1, wait: cfg.WaitTime, visibility: cfg.Visibility, attemptID: in.ReceiveRequestAttemptId}
	if n := in.MaxNumberOfMessages; n != nil {
		if *n < 1 || *n > maxReceiveMessages {
			return nil, errParamValue(*n, "MaxNumberOfMessages", "Must be between 1 and 10, if provided.")
		}
		r.max = *n
	}
	if n := in.WaitTimeSeconds; n != nil {
		if *n < 0 || *n > maxWaitSeconds {
			return nil, errParamValue(*n, "WaitTimeSeconds", "Must be >= 0 and <= 20, if provided.")
		}
		r.wait = time.Duration(*n) * time.Second
	}
	if n := in.VisibilityTimeout; n != nil {
		if *n < 0 || *n > maxVisibility {
			return nil, errParamValue(*n, "VisibilityTimeout", "Must be >= 0 and <= 43200, if provided.")
		}
		r.visibility = time.Duration(*n) * time.Second
	}
	if id := in.ReceiveRequestAttemptId; id != "" && !validPunctuatedID(id) {
		return nil, errParamValue(id, "ReceiveRequestAttemptId", "ReceiveRequestAttemptId can only include alphanumeric and punctuation characters. 1 to 128 in length.")
	}
	sysNames := append(append([]string(nil), in.AttributeNames...), in.MessageSystemAttributeNames...)
	msgs, err := eng.receive(c.ctx, r)
	if err != nil {
		return nil, err
	}
	out := &receiveMessageOutput{}
	for _, m := range msgs {
		out.Messages = append(out.Messages, messageOut(m, sysNames, in.MessageAttributeNames))
	}
	return out, nil
}

// messageOut renders a received message with the system and user
// attributes the caller asked for. MD5OfMessageAttributes covers the
// returned attributes.
func messageOut(m *stratus.ReceivedMessage, sysNames, attrNames []string) messageOutput {
	mo := messageOutput{MessageId: m.MessageID, ReceiptHandle: m.ReceiptHandle, MD5OfBody: m.MD5OfBody, Body: m.Body}
	all := false
	for _, n := range sysNames {
		all = all || n == "All"
	}
	for k, v := range m.SystemAttributes {
		if all || contains(sysNames, k) {
			if mo.Attributes == nil {
				mo.Attributes = map[string]string{}
			}
			mo.Attributes[k] = v
		}
	}
	selected := map[string]stratus.MessageAttribute{}
	for k, v := range m.Attributes {
		if attrSelected(attrNames, k) {
			selected[k] = v
		}
	}
	if len(selected) > 0 {
		mo.MessageAttributes = make(map[string]messageAttributeValue, len(selected))
		for k, v := range selected {
			av := messageAttributeValue{DataType: v.DataType}
			if isBinaryType(v.DataType) {
				av.BinaryValue = v.BinaryValue
			} else {
				s := v.StringValue
				av.StringValue = &s
			}
			mo.MessageAttributes[k] = av
		}
		mo.MD5OfMessageAttributes = md5OfAttributes(selected)
	}
	return mo
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// attrSelected reports whether a message attribute name matches one of
// the requested names: "All", ".*", a prefix "foo.*" or the exact name.
func attrSelected(names []string, name string) bool {
	for _, n := range names {
		switch {
		case n == "All" || n == ".*" || n == name:
			return true
		case strings.HasSuffix(n, ".*") && strings.HasPrefix(name, strings.TrimSuffix(n, "*")):
			return true
		}
	}
	return false
}
