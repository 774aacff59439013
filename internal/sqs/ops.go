package sqs

import (
	"context"
	"strings"
	"time"
)

// call is one API request, whatever its protocol.
type call struct {
	ctx    context.Context
	scheme string // of the queue URLs to return
	host   string // the edge as the client addressed it
	path   string // request path: a queue URL path in the query protocol
	sender string // SenderId of sent messages
}

// queueURL is the URL of queue name as this client reaches it.
func (c *call) queueURL(h *Handler, name string) string {
	return c.scheme + "://" + c.host + "/" + h.svc.cfg.AccountID + "/" + name
}

// opSpec is one operation: how to make its input and how to run it.
type opSpec struct {
	input func() any
	run   func(h *Handler, c *call, in any) (any, error)
}

func newOp[I any](run func(*Handler, *call, *I) (any, error)) opSpec {
	return opSpec{
		input: func() any { return new(I) },
		run:   func(h *Handler, c *call, in any) (any, error) { return run(h, c, in.(*I)) },
	}
}

// operations are the SQS operations served, by name.
var operations = map[string]opSpec{
	"CreateQueue":                  newOp((*Handler).createQueue),
	"GetQueueUrl":                  newOp((*Handler).getQueueURL),
	"DeleteQueue":                  newOp((*Handler).deleteQueue),
	"ListQueues":                   newOp((*Handler).listQueues),
	"GetQueueAttributes":           newOp((*Handler).getQueueAttributes),
	"SetQueueAttributes":           newOp((*Handler).setQueueAttributes),
	"PurgeQueue":                   newOp((*Handler).purgeQueue),
	"SendMessage":                  newOp((*Handler).sendMessage),
	"SendMessageBatch":             newOp((*Handler).sendMessageBatch),
	"ReceiveMessage":               newOp((*Handler).receiveMessage),
	"DeleteMessage":                newOp((*Handler).deleteMessage),
	"DeleteMessageBatch":           newOp((*Handler).deleteMessageBatch),
	"ChangeMessageVisibility":      newOp((*Handler).changeVisibility),
	"ChangeMessageVisibilityBatch": newOp((*Handler).changeVisibilityBatch),
	"ListDeadLetterSourceQueues":   newOp((*Handler).listDeadLetterSourceQueues),
	"TagQueue":                     newOp((*Handler).tagQueue),
	"UntagQueue":                   newOp((*Handler).untagQueue),
	"ListQueueTags":                newOp((*Handler).listQueueTags),
}

// unsupportedOps are SQS operations this server does not implement.
var unsupportedOps = map[string]bool{
	"AddPermission": true, "RemovePermission": true, "StartMessageMoveTask": true,
	"CancelMessageMoveTask": true, "ListMessageMoveTasks": true,
}

// queueName resolves the QueueUrl parameter (or, in the query protocol,
// the queue URL the request was posted to) to a queue name.
func (h *Handler) queueName(c *call, u *string) (string, error) {
	s := ""
	if u != nil {
		s = *u
	} else if c.path != "" && c.path != "/" {
		s = c.path
	}
	if s == "" {
		return "", errMissing("QueueUrl")
	}
	if i := strings.Index(s, "://"); i >= 0 {
		rest := s[i+3:]
		j := strings.IndexByte(rest, '/')
		if j < 0 {
			return "", errNoQueue()
		}
		s = rest[j:]
	}
	account, name, ok := strings.Cut(strings.TrimPrefix(s, "/"), "/")
	if !ok || account != h.svc.cfg.AccountID || name == "" || strings.Contains(name, "/") {
		return "", errNoQueue()
	}
	return name, nil
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

func (h *Handler) createQueue(c *call, in *createQueueInput) (any, error) {
	if in.QueueName == nil {
		return nil, errMissing("QueueName")
	}
	if err := h.svc.CreateQueue(c.ctx, *in.QueueName, in.Attributes, in.Tags); err != nil {
		return nil, err
	}
	return &queueURLOutput{QueueUrl: c.queueURL(h, *in.QueueName)}, nil
}

func (h *Handler) getQueueURL(c *call, in *getQueueURLInput) (any, error) {
	if in.QueueName == nil {
		return nil, errMissing("QueueName")
	}
	if in.QueueOwnerAWSAccountId != "" && in.QueueOwnerAWSAccountId != h.svc.cfg.AccountID {
		return nil, errNoQueue()
	}
	if !h.svc.QueueExists(*in.QueueName) {
		return nil, errNoQueue()
	}
	return &queueURLOutput{QueueUrl: c.queueURL(h, *in.QueueName)}, nil
}

func (h *Handler) deleteQueue(c *call, in *queueInput) (any, error) {
	name, err := h.queueName(c, in.QueueUrl)
	if err != nil {
		return nil, err
	}
	return &emptyOutput{}, h.svc.DeleteQueue(c.ctx, name)
}

func (h *Handler) purgeQueue(c *call, in *queueInput) (any, error) {
	name, err := h.queueName(c, in.QueueUrl)
	if err != nil {
		return nil, err
	}
	eng, err := h.svc.engine(name)
	if err != nil {
		return nil, err
	}
	return &emptyOutput{}, eng.purge(c.ctx)
}

func (h *Handler) listQueues(c *call, in *listQueuesInput) (any, error) {
	p, err := h.svc.ListQueues(in.QueueNamePrefix, deref(in.MaxResults), in.NextToken)
	if err != nil {
		return nil, err
	}
	out := &listQueuesOutput{NextToken: p.Next}
	for _, n := range p.Names {
		out.QueueUrls = append(out.QueueUrls, c.queueURL(h, n))
	}
	return out, nil
}

func (h *Handler) getQueueAttributes(c *call, in *getQueueAttributesInput) (any, error) {
	name, err := h.queueName(c, in.QueueUrl)
	if err != nil {
		return nil, err
	}
	attrs, err := h.svc.GetQueueAttributes(name, in.AttributeNames)
	if err != nil {
		return nil, err
	}
	return &attributesOutput{Attributes: attrs}, nil
}

func (h *Handler) setQueueAttributes(c *call, in *setQueueAttributesInput) (any, error) {
	name, err := h.queueName(c, in.QueueUrl)
	if err != nil {
		return nil, err
	}
	if in.Attributes == nil {
		return nil, errMissing("Attributes")
	}
	return &emptyOutput{}, h.svc.SetQueueAttributes(c.ctx, name, in.Attributes)
}

func (h *Handler) listDeadLetterSourceQueues(c *call, in *listDeadLetterSourceQueuesInput) (any, error) {
	name, err := h.queueName(c, in.QueueUrl)
	if err != nil {
		return nil, err
	}
	p, err := h.svc.ListDeadLetterSourceQueues(name, deref(in.MaxResults), in.NextToken)
	if err != nil {
		return nil, err
	}
	out := &listDeadLetterSourceQueuesOutput{QueueUrls: []string{}, NextToken: p.Next}
	for _, n := range p.Names {
		out.QueueUrls = append(out.QueueUrls, c.queueURL(h, n))
	}
	return out, nil
}

func (h *Handler) tagQueue(c *call, in *tagQueueInput) (any, error) {
	name, err := h.queueName(c, in.QueueUrl)
	if err != nil {
		return nil, err
	}
	if len(in.Tags) == 0 {
		return nil, errMissing("Tags")
	}
	return &emptyOutput{}, h.svc.TagQueue(c.ctx, name, in.Tags)
}

func (h *Handler) untagQueue(c *call, in *untagQueueInput) (any, error) {
	name, err := h.queueName(c, in.QueueUrl)
	if err != nil {
		return nil, err
	}
	if len(in.TagKeys) == 0 {
		return nil, errMissing("TagKeys")
	}
	return &emptyOutput{}, h.svc.UntagQueue(c.ctx, name, in.TagKeys)
}

func (h *Handler) listQueueTags(c *call, in *queueInput) (any, error) {
	name, err := h.queueName(c, in.QueueUrl)
	if err != nil {
		return nil, err
	}
	tags, err := h.svc.ListQueueTags(name)
	if err != nil {
		return nil, err
	}
	return &tagsOutput{Tags: tags}, nil
}

// batchError renders a failed batch entry.
func batchError(id string, err error) batchResultErrorEntry {
	we, msg := lookupError(err)
	return batchResultErrorEntry{Id: id, SenderFault: we.Sender, Code: we.Query, Message: msg}
}

// receiptHandle checks a required ReceiptHandle member.
func receiptHandle(p *string) (string, error) {
	if p == nil || *p == "" {
		return "", errMissing("ReceiptHandle")
	}
	return *p, nil
}

// visibility checks a VisibilityTimeout member: required, 0–43200.
func visibility(p *int) (time.Duration, error) {
	if p == nil {
		return 0, errMissing("VisibilityTimeout")
	}
	if *p < 0 || *p > maxVisibility {
		return 0, errParamValue(*p, "VisibilityTimeout", "VisibilityTimeout must be an integer between 0 and 43200")
	}
	return time.Duration(*p) * time.Second, nil
}

func (h *Handler) deleteMessage(c *call, in *deleteMessageInput) (any, error) {
	name, err := h.queueName(c, in.QueueUrl)
	if err != nil {
		return nil, err
	}
	rh, err := receiptHandle(in.ReceiptHandle)
	if err != nil {
		return nil, err
	}
	eng, err := h.svc.engine(name)
	if err != nil {
		return nil, err
	}
	errs, err := eng.deleteMessages(c.ctx, []string{rh})
	if err != nil {
		return nil, err
	}
	return &emptyOutput{}, errs[0]
}

func (h *Handler) deleteMessageBatch(c *call, in *deleteMessageBatchInput) (any, error) {
	ids := make([]string, len(in.Entries))
	for i, e := range in.Entries {
		ids[i] = e.Id
	}
	eng, err := h.batchEngine(c, in.QueueUrl, ids)
	if err != nil {
		return nil, err
	}
	return handleBatch(ids,
		func(i int) (string, struct{}, error) {
			rh, err := receiptHandle(in.Entries[i].ReceiptHandle)
			return rh, struct{}{}, err
		},
		func(handles []string, _ []struct{}) ([]error, error) { return eng.deleteMessages(c.ctx, handles) })
}

func (h *Handler) changeVisibility(c *call, in *changeVisibilityInput) (any, error) {
	name, err := h.queueName(c, in.QueueUrl)
	if err != nil {
		return nil, err
	}
	rh, err := receiptHandle(in.ReceiptHandle)
	if err != nil {
		return nil, err
	}
	vt, err := visibility(in.VisibilityTimeout)
	if err != nil {
		return nil, err
	}
	eng, err := h.svc.engine(name)
	if err != nil {
		return nil, err
	}
	errs, err := eng.changeVisibility(c.ctx, []string{rh}, []time.Duration{vt})
	if err != nil {
		return nil, err
	}
	return &emptyOutput{}, errs[0]
}

func (h *Handler) changeVisibilityBatch(c *call, in *changeVisibilityBatchInput) (any, error) {
	ids := make([]string, len(in.Entries))
	for i, e := range in.Entries {
		ids[i] = e.Id
	}
	eng, err := h.batchEngine(c, in.QueueUrl, ids)
	if err != nil {
		return nil, err
	}
	return handleBatch(ids,
		func(i int) (string, time.Duration, error) {
			rh, err := receiptHandle(in.Entries[i].ReceiptHandle)
			if err != nil {
				return "", 0, err
			}
			vt, err := visibility(in.Entries[i].VisibilityTimeout)
			return rh, vt, err
		},
		func(handles []string, timeouts []time.Duration) ([]error, error) {
			return eng.changeVisibility(c.ctx, handles, timeouts)
		})
}

// batchEngine checks a receipt-handle batch's queue and entry ids and
// returns the queue's engine.
func (h *Handler) batchEngine(c *call, queueURL *string, ids []string) (*engine, error) {
	name, err := h.queueName(c, queueURL)
	if err != nil {
		return nil, err
	}
	if err := checkBatchIDs(ids); err != nil {
		return nil, err
	}
	return h.svc.engine(name)
}

// handleBatch runs one engine operation over the entries of a batch whose
// receipt handle (and per-entry value) parse; an entry that does not parse
// fails on its own, as do entries the engine refuses.
func handleBatch[V any](ids []string, parse func(i int) (string, V, error),
	apply func(handles []string, vals []V) ([]error, error)) (*batchIDOutput, error) {
	out := &batchIDOutput{Successful: []batchIDEntry{}, Failed: []batchResultErrorEntry{}}
	var handles, handleIDs []string
	var vals []V
	for i, id := range ids {
		rh, v, err := parse(i)
		if err != nil {
			out.Failed = append(out.Failed, batchError(id, err))
			continue
		}
		handles, handleIDs, vals = append(handles, rh), append(handleIDs, id), append(vals, v)
	}
	errs, err := apply(handles, vals)
	if err != nil {
		return nil, err
	}
	for i, err := range errs {
		if err != nil {
			out.Failed = append(out.Failed, batchError(handleIDs[i], err))
		} else {
			out.Successful = append(out.Successful, batchIDEntry{Id: handleIDs[i]})
		}
	}
	return out, nil
}
