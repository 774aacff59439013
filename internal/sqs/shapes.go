package sqs

// The shapes of the SQS API, named and tagged as the JSON 1.0 protocol
// spells them. The query protocol decoder fills the same input structs
// from form fields, and the XML encoder renders the same outputs, so both
// protocols share every operation.

// messageAttributeValue is a MessageAttributeValue (and a
// MessageSystemAttributeValue). Binary values are base64 in both
// protocols; encoding/json decodes them into BinaryValue.
type messageAttributeValue struct {
	DataType         string   `json:"DataType"`
	StringValue      *string  `json:"StringValue,omitempty"`
	BinaryValue      []byte   `json:"BinaryValue,omitempty"`
	StringListValues []string `json:"StringListValues,omitempty"`
	BinaryListValues [][]byte `json:"BinaryListValues,omitempty"`
}

type createQueueInput struct {
	QueueName  *string           `json:"QueueName"`
	Attributes map[string]string `json:"Attributes"`
	Tags       map[string]string `json:"tags"`
}

type queueURLOutput struct {
	QueueUrl string `json:"QueueUrl"`
}

type getQueueURLInput struct {
	QueueName              *string `json:"QueueName"`
	QueueOwnerAWSAccountId string  `json:"QueueOwnerAWSAccountId"`
}

// queueInput is the input of operations that only name a queue.
type queueInput struct {
	QueueUrl *string `json:"QueueUrl"`
}

type listQueuesInput struct {
	QueueNamePrefix string `json:"QueueNamePrefix"`
	NextToken       string `json:"NextToken"`
	MaxResults      *int   `json:"MaxResults"`
}

type listQueuesOutput struct {
	QueueUrls []string `json:"QueueUrls,omitempty"`
	NextToken string   `json:"NextToken,omitempty"`
}

type getQueueAttributesInput struct {
	QueueUrl       *string  `json:"QueueUrl"`
	AttributeNames []string `json:"AttributeNames"`
}

type attributesOutput struct {
	Attributes map[string]string `json:"Attributes,omitempty"`
}

type setQueueAttributesInput struct {
	QueueUrl   *string           `json:"QueueUrl"`
	Attributes map[string]string `json:"Attributes"`
}

// messageFields are the members SendMessage and a SendMessageBatch entry
// share.
type messageFields struct {
	MessageBody             *string                          `json:"MessageBody"`
	DelaySeconds            *int                             `json:"DelaySeconds"`
	MessageAttributes       map[string]messageAttributeValue `json:"MessageAttributes"`
	MessageSystemAttributes map[string]messageAttributeValue `json:"MessageSystemAttributes"`
	MessageDeduplicationId  *string                          `json:"MessageDeduplicationId"`
	MessageGroupId          *string                          `json:"MessageGroupId"`
}

type sendMessageInput struct {
	QueueUrl *string `json:"QueueUrl"`
	messageFields
}

type sendMessageOutput struct {
	MD5OfMessageBody             string `json:"MD5OfMessageBody"`
	MD5OfMessageAttributes       string `json:"MD5OfMessageAttributes,omitempty"`
	MD5OfMessageSystemAttributes string `json:"MD5OfMessageSystemAttributes,omitempty"`
	MessageId                    string `json:"MessageId"`
	SequenceNumber               string `json:"SequenceNumber,omitempty"`
}

type sendMessageBatchEntry struct {
	Id string `json:"Id"`
	messageFields
}

type sendMessageBatchInput struct {
	QueueUrl *string                 `json:"QueueUrl"`
	Entries  []sendMessageBatchEntry `json:"Entries"`
}

type sendMessageBatchResultEntry struct {
	Id string `json:"Id"`
	sendMessageOutput
}

// batchResultErrorEntry is a failed entry of a batch operation.
type batchResultErrorEntry struct {
	Id          string `json:"Id"`
	SenderFault bool   `json:"SenderFault"`
	Code        string `json:"Code"`
	Message     string `json:"Message,omitempty"`
}

type sendMessageBatchOutput struct {
	Successful []sendMessageBatchResultEntry `json:"Successful"`
	Failed     []batchResultErrorEntry       `json:"Failed"`
}

type receiveMessageInput struct {
	QueueUrl                    *string  `json:"QueueUrl"`
	AttributeNames              []string `json:"AttributeNames"`
	MessageSystemAttributeNames []string `json:"MessageSystemAttributeNames"`
	MessageAttributeNames       []string `json:"MessageAttributeNames"`
	MaxNumberOfMessages         *int     `json:"MaxNumberOfMessages"`
	VisibilityTimeout           *int     `json:"VisibilityTimeout"`
	WaitTimeSeconds             *int     `json:"WaitTimeSeconds"`
	ReceiveRequestAttemptId     string   `json:"ReceiveRequestAttemptId"`
}

type messageOutput struct {
	MessageId              string                           `json:"MessageId"`
	ReceiptHandle          string                           `json:"ReceiptHandle"`
	MD5OfBody              string                           `json:"MD5OfBody"`
	Body                   string                           `json:"Body"`
	Attributes             map[string]string                `json:"Attributes,omitempty"`
	MD5OfMessageAttributes string                           `json:"MD5OfMessageAttributes,omitempty"`
	MessageAttributes      map[string]messageAttributeValue `json:"MessageAttributes,omitempty"`
}

type receiveMessageOutput struct {
	Messages []messageOutput `json:"Messages,omitempty"`
}

type deleteMessageInput struct {
	QueueUrl      *string `json:"QueueUrl"`
	ReceiptHandle *string `json:"ReceiptHandle"`
}

type deleteMessageBatchEntry struct {
	Id            string  `json:"Id"`
	ReceiptHandle *string `json:"ReceiptHandle"`
}

type deleteMessageBatchInput struct {
	QueueUrl *string                   `json:"QueueUrl"`
	Entries  []deleteMessageBatchEntry `json:"Entries"`
}

// batchIDEntry is a successful entry of DeleteMessageBatch and
// ChangeMessageVisibilityBatch.
type batchIDEntry struct {
	Id string `json:"Id"`
}

type batchIDOutput struct {
	Successful []batchIDEntry          `json:"Successful"`
	Failed     []batchResultErrorEntry `json:"Failed"`
}

type changeVisibilityInput struct {
	QueueUrl          *string `json:"QueueUrl"`
	ReceiptHandle     *string `json:"ReceiptHandle"`
	VisibilityTimeout *int    `json:"VisibilityTimeout"`
}

type changeVisibilityBatchEntry struct {
	Id                string  `json:"Id"`
	ReceiptHandle     *string `json:"ReceiptHandle"`
	VisibilityTimeout *int    `json:"VisibilityTimeout"`
}

type changeVisibilityBatchInput struct {
	QueueUrl *string                      `json:"QueueUrl"`
	Entries  []changeVisibilityBatchEntry `json:"Entries"`
}

type listDeadLetterSourceQueuesInput struct {
	QueueUrl   *string `json:"QueueUrl"`
	NextToken  string  `json:"NextToken"`
	MaxResults *int    `json:"MaxResults"`
}

type listDeadLetterSourceQueuesOutput struct {
	QueueUrls []string `json:"queueUrls"`
	NextToken string   `json:"NextToken,omitempty"`
}

type tagQueueInput struct {
	QueueUrl *string           `json:"QueueUrl"`
	Tags     map[string]string `json:"Tags"`
}

type untagQueueInput struct {
	QueueUrl *string  `json:"QueueUrl"`
	TagKeys  []string `json:"TagKeys"`
}

type tagsOutput struct {
	Tags map[string]string `json:"Tags,omitempty"`
}

// emptyOutput is the output of operations that return nothing.
type emptyOutput struct{}
