package sqs

import (
	"bytes"
	"encoding/base64"
	"encoding/xml"
	"net/http"
	"slices"
	"strconv"
)

// xmlNamespace is the namespace of SQS query protocol documents.
const xmlNamespace = "http://queue.amazonaws.com/doc/2012-11-05/"

// xmlBuilder writes the small XML documents of the query protocol.
type xmlBuilder struct{ bytes.Buffer }

func (b *xmlBuilder) open(name string)  { b.WriteString("<" + name + ">") }
func (b *xmlBuilder) close(name string) { b.WriteString("</" + name + ">") }

// elem writes <name>value</name> with value escaped (carriage returns
// and tabs as character references, so that they survive parsing).
func (b *xmlBuilder) elem(name, value string) {
	b.open(name)
	_ = xml.EscapeText(b, []byte(value))
	b.close(name)
}

// opt writes elem unless value is empty.
func (b *xmlBuilder) opt(name, value string) {
	if value != "" {
		b.elem(name, value)
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// writeXMLResponse writes an operation's output as
// <ActionResponse><ActionResult>...</ActionResult><ResponseMetadata/>.
func writeXMLResponse(w http.ResponseWriter, action string, out any, reqID string) {
	var b xmlBuilder
	b.WriteString(`<?xml version="1.0"?>` + "\n")
	b.WriteString("<" + action + `Response xmlns="` + xmlNamespace + `">`)
	if _, empty := out.(*emptyOutput); !empty {
		b.open(action + "Result")
		writeResult(&b, action, out)
		b.close(action + "Result")
	}
	b.open("ResponseMetadata")
	b.elem("RequestId", reqID)
	b.close("ResponseMetadata")
	b.close(action + "Response")
	writeXML(w, http.StatusOK, b.Bytes())
}

func writeResult(b *xmlBuilder, action string, out any) {
	switch o := out.(type) {
	case *queueURLOutput:
		b.elem("QueueUrl", o.QueueUrl)
	case *listQueuesOutput:
		for _, u := range o.QueueUrls {
			b.elem("QueueUrl", u)
		}
		b.opt("NextToken", o.NextToken)
	case *listDeadLetterSourceQueuesOutput:
		for _, u := range o.QueueUrls {
			b.elem("QueueUrl", u)
		}
		b.opt("NextToken", o.NextToken)
	case *attributesOutput:
		for _, k := range sortedKeys(o.Attributes) {
			b.open("Attribute")
			b.elem("Name", k)
			b.elem("Value", o.Attributes[k])
			b.close("Attribute")
		}
	case *tagsOutput:
		for _, k := range sortedKeys(o.Tags) {
			b.open("Tag")
			b.elem("Key", k)
			b.elem("Value", o.Tags[k])
			b.close("Tag")
		}
	case *sendMessageOutput:
		writeSendResult(b, o)
	case *sendMessageBatchOutput:
		for _, e := range o.Successful {
			b.open("SendMessageBatchResultEntry")
			b.elem("Id", e.Id)
			writeSendResult(b, &e.sendMessageOutput)
			b.close("SendMessageBatchResultEntry")
		}
		writeBatchErrors(b, o.Failed)
	case *batchIDOutput:
		entry := action + "ResultEntry"
		for _, e := range o.Successful {
			b.open(entry)
			b.elem("Id", e.Id)
			b.close(entry)
		}
		writeBatchErrors(b, o.Failed)
	case *receiveMessageOutput:
		for i := range o.Messages {
			writeMessage(b, &o.Messages[i])
		}
	}
}

func writeSendResult(b *xmlBuilder, o *sendMessageOutput) {
	b.elem("MD5OfMessageBody", o.MD5OfMessageBody)
	b.opt("MD5OfMessageAttributes", o.MD5OfMessageAttributes)
	b.opt("MD5OfMessageSystemAttributes", o.MD5OfMessageSystemAttributes)
	b.elem("MessageId", o.MessageId)
	b.opt("SequenceNumber", o.SequenceNumber)
}

func writeBatchErrors(b *xmlBuilder, failed []batchResultErrorEntry) {
	for _, e := range failed {
		b.open("BatchResultErrorEntry")
		b.elem("Id", e.Id)
		b.elem("SenderFault", strconv.FormatBool(e.SenderFault))
		b.elem("Code", e.Code)
		b.opt("Message", e.Message)
		b.close("BatchResultErrorEntry")
	}
}

func writeMessage(b *xmlBuilder, m *messageOutput) {
	b.open("Message")
	b.elem("MessageId", m.MessageId)
	b.elem("ReceiptHandle", m.ReceiptHandle)
	b.elem("MD5OfBody", m.MD5OfBody)
	b.elem("Body", m.Body)
	for _, k := range sortedKeys(m.Attributes) {
		b.open("Attribute")
		b.elem("Name", k)
		b.elem("Value", m.Attributes[k])
		b.close("Attribute")
	}
	b.opt("MD5OfMessageAttributes", m.MD5OfMessageAttributes)
	for _, k := range sortedKeys(m.MessageAttributes) {
		a := m.MessageAttributes[k]
		b.open("MessageAttribute")
		b.elem("Name", k)
		b.open("Value")
		if a.StringValue != nil {
			b.elem("StringValue", *a.StringValue)
		}
		if a.BinaryValue != nil {
			b.elem("BinaryValue", base64.StdEncoding.EncodeToString(a.BinaryValue))
		}
		b.elem("DataType", a.DataType)
		b.close("Value")
		b.close("MessageAttribute")
	}
	b.close("Message")
}

// writeXMLError writes err as a query protocol ErrorResponse.
func writeXMLError(w http.ResponseWriter, err error, reqID string) {
	we, msg := lookupError(err)
	fault := "Sender"
	if !we.Sender {
		fault = "Receiver"
	}
	var b xmlBuilder
	b.WriteString(`<?xml version="1.0"?>` + "\n")
	b.WriteString(`<ErrorResponse xmlns="` + xmlNamespace + `">`)
	b.open("Error")
	b.elem("Type", fault)
	b.elem("Code", we.Query)
	b.elem("Message", msg)
	b.WriteString("<Detail/>")
	b.close("Error")
	b.elem("RequestId", reqID)
	b.close("ErrorResponse")
	writeXML(w, we.Status, b.Bytes())
}

func writeXML(w http.ResponseWriter, status int, body []byte) {
	hd := w.Header()
	hd.Set("Content-Type", "text/xml")
	hd.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
