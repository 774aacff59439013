// Package sqs is Stratus's SQS-compatible queue service: one engine
// (queues, messages, visibility, FIFO groups, redrive) behind both of
// SQS's wire protocols, JSON 1.0 (X-Amz-Target: AmazonSQS.*, current SDKs)
// and query (form Action=..., XML; AWS CLI v2 before 2.13.34). Both decode
// into the same inputs (shapes.go), run the same operations (ops*.go) and
// map errors through one table (errors.go, codes from botocore's SQS
// model); in JSON mode the query code also travels in x-amzn-query-error,
// from which query-compatible SDKs take it.
//
// # Storage
//
// Queue records (attributes, tags, a random 64-bit queue id) live in the
// KV bucket stratus_sqs, followed by a watch-fed cache like
// internal/store; the bucket also holds the receipt-handle key. Each queue
// has its own stream SQS_<queue id> with two subjects:
//
//   - sqs.<id>.m holds messages in bundles: one JetStream message per
//     group commit, carrying every message of a SendMessageBatch, or of
//     concurrent SendMessage calls that arrived while the previous bundle
//     was being written. A header lists each message's metadata (id,
//     sent time, delay, group, de-duplication id, size), so recovery scans
//     headers only; the payload holds attributes and bodies.
//   - sqs.<id>.s is the state log: receive ops (receive count, visible-at,
//     first receive, receipt nonce), visibility changes and deletions,
//     also group-committed: one record per receive or delete call, or per
//     group of concurrent calls.
//
// One stream per queue because retention (MaxAge), purge and deletion are
// per queue and map onto stream operations directly, and because
// JetStream fsyncs per stream: separate queues do not queue behind each
// other's fsyncs, and in a cluster their leaders spread over nodes. A
// bundle is deleted from the stream once all its messages are deleted
// (FIFO bundles are kept five minutes, so that de-duplication survives a
// restart); the state log is compacted by rewriting the live state and
// purging older records once it holds twice as many ops as that.
//
// # Durability
//
// The server runs JetStream with fsync before acknowledgement (DESIGN
// principle 7): a SendMessage answers only after its bundle is stored, a
// receive only after its state op is stored. Every fsync costs ~0.3 ms
// and the server does not group commits, so the engine does: throughput
// is bounded by fsyncs per second, not by messages. After a crash the
// engine rebuilds its index from the stream: every acknowledged message is
// there, received messages keep their receive count and stay invisible
// until their visibility timeout ends, then reappear.
//
// # Engine
//
// The engine (engine.go, index.go) keeps every undeleted message's
// metadata in memory, never its body (bodies are read back from the
// stream, with a small cache of recently stored bundles). Messages move
// through the states of msgState. Delays and visibility timeouts are a
// heap of deadlines that a clock goroutine serves; long polls wait on a
// channel that is closed whenever messages may have become visible, so a
// receive returns as soon as a message arrives and never busy-polls.
// DelaySeconds (queue default and per message) is part of the stored
// metadata, at millisecond precision; no JetStream schedule is involved.
// A receive whose next receive count would exceed the redrive policy's
// maxReceiveCount moves the message to the dead-letter queue (same
// MessageId and SentTimestamp, DeadLetterQueueSourceArn added) instead of
// delivering it.
//
// FIFO queues are exact per message group, not partitioned: each group
// keeps its messages in order; a group is available when none of its
// messages is in flight and its first one is visible; receives serve the
// available group whose first message is oldest, taking as many of its
// messages as the receive asks for, then the next group. Groups never
// block each other, however many there are. De-duplication keys
// (MessageDeduplicationId, or the SHA-256 of the body with
// ContentBasedDeduplication, per group with DeduplicationScope
// messageGroup) are remembered for five minutes, across restarts; a
// duplicate gets the first message's MessageId and SequenceNumber.
// ReceiveRequestAttemptId replays the earlier receive's messages and
// handles while they are still in flight from it.
//
// # Receipt handles
//
// A receipt handle encodes the queue id, the message's bundle sequence and
// position and a random per-receive nonce, authenticated with HMAC-SHA256
// under the deployment's key (receipt.go). Forged, truncated or other
// queues' handles are ReceiptHandleIsInvalid. A stale handle (the message
// was received again since) deletes nothing but succeeds, as AWS
// documents for DeleteMessage; ChangeMessageVisibility with it is
// MessageNotInflight (our choice; AWS leaves it unspecified).
//
// # Not done
//
// Queue ownership in a cluster: an engine assumes it is the only one
// serving its queue. Several nodes need a per-queue owner (a KV lease)
// and forwarding of the other nodes' calls over NATS request/reply; the
// engine's API is already message-shaped for that. AddPermission,
// RemovePermission and message move tasks are UnsupportedOperation;
// KmsMasterKeyId is rejected (no KMS); Policy and SqsManagedSseEnabled are
// stored and returned but enforce nothing (Stratus has no IAM).
package sqs
