package sqs

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
)

// FIFO queues de-duplicate sends for five minutes. The table maps a
// de-duplication key (the MessageDeduplicationId, or the hex SHA-256 of
// the body with content-based de-duplication; prefixed with the group
// when DeduplicationScope is messageGroup) to the message first sent
// with it. An entry is pending from the moment a send claims the key
// until its bundle is stored; a concurrent duplicate waits for it.
type dedupTable struct {
	entries map[string]*dedupEntry
	queue   []*dedupEntry // in insertion order, which is expiry order
}

type dedupEntry struct {
	key     string
	expires int64 // ms
	// Set once stored; pending entries have a nil msg and an open done.
	msgID  string
	seqNum string
	done   chan struct{}
	failed bool
}

func newDedupTable() *dedupTable { return &dedupTable{entries: make(map[string]*dedupEntry)} }

// lookup returns the live entry for key, or nil.
func (d *dedupTable) lookup(key string, now int64) *dedupEntry {
	e := d.entries[key]
	if e == nil || e.expires <= now || e.failed {
		return nil
	}
	return e
}

// claim adds a pending entry for key.
func (d *dedupTable) claim(key string, expires int64) *dedupEntry {
	e := &dedupEntry{key: key, expires: expires, done: make(chan struct{})}
	d.entries[key] = e
	d.queue = append(d.queue, e)
	return e
}

// restore adds a stored entry found by recovery.
func (d *dedupTable) restore(key string, m *message, expires int64) {
	if cur := d.entries[key]; cur != nil && cur.expires >= expires {
		return
	}
	e := &dedupEntry{key: key, expires: expires, msgID: m.meta.ID, seqNum: sequenceNumber(m.key), done: make(chan struct{})}
	close(e.done)
	d.entries[key] = e
	d.queue = append(d.queue, e)
}

// resolve completes a pending entry.
func (e *dedupEntry) resolve(msgID, seqNum string) {
	e.msgID, e.seqNum = msgID, seqNum
	close(e.done)
}

// fail abandons a pending entry: its send failed, so the key is free.
func (d *dedupTable) fail(e *dedupEntry) {
	e.failed = true
	if d.entries[e.key] == e {
		delete(d.entries, e.key)
	}
	close(e.done)
}

func (d *dedupTable) expire(now int64) {
	i := 0
	for ; i < len(d.queue) && d.queue[i].expires <= now; i++ {
		if e := d.queue[i]; d.entries[e.key] == e {
			delete(d.entries, e.key)
		}
	}
	if i > 0 {
		n := copy(d.queue, d.queue[i:])
		clear(d.queue[n:])
		d.queue = d.queue[:n]
	}
}

// dedupKey is the table key of a FIFO send. e.mu guards e.cfg.
func (e *engine) dedupKey(group, dedupID string) string {
	return dedupKeyFor(e.cfg.DedupPerGroup, group, dedupID)
}

// dedupKeyFor is the table key of a FIFO send: the de-duplication id,
// prefixed with the group when de-duplication is per message group.
func dedupKeyFor(perGroup bool, group, dedupID string) string {
	if perGroup {
		return strconv.Itoa(len(group)) + ":" + group + ":" + dedupID
	}
	return dedupID
}

// contentDedupID is the de-duplication id of content-based
// de-duplication: the hex SHA-256 of the body.
func contentDedupID(body string) string {
	sum := sha256.Sum256([]byte(body))
	return hex.EncodeToString(sum[:])
}

// sequenceNumber is the SequenceNumber of a FIFO message: increasing
// with the stored order, as a 20-digit decimal.
func sequenceNumber(k msgKey) string {
	return fmt.Sprintf("%020d", k.seq<<16|uint64(k.idx))
}

// attempt remembers the outcome of a FIFO receive with a
// ReceiveRequestAttemptId for five minutes: a retry with the same id
// returns the same messages and receipt handles while they are still in
// flight from that receive.
type attempt struct {
	expires int64
	keys    []msgKey
	nonces  []uint64
}

// bundleCache keeps recently stored bundles' payloads, so that receiving
// a message soon after it was sent does not read it back from the
// stream. It is bounded by bytes and evicts the oldest bundle first.
type bundleCache struct {
	max   int
	bytes int
	data  map[uint64][]byte
	order []uint64
}

func newBundleCache(maxBytes int) *bundleCache {
	return &bundleCache{max: maxBytes, data: make(map[uint64][]byte)}
}

func (c *bundleCache) put(seq uint64, data []byte) {
	if len(data) > c.max {
		return
	}
	c.data[seq] = data
	c.bytes += len(data)
	c.order = append(c.order, seq)
	for c.bytes > c.max && len(c.order) > 0 {
		old := c.order[0]
		c.order = c.order[1:]
		if d, ok := c.data[old]; ok {
			c.bytes -= len(d)
			delete(c.data, old)
		}
	}
}

func (c *bundleCache) get(seq uint64) ([]byte, bool) {
	d, ok := c.data[seq]
	return d, ok
}

func (c *bundleCache) drop(seq uint64) {
	if d, ok := c.data[seq]; ok {
		c.bytes -= len(d)
		delete(c.data, seq)
	}
}
