package sqs

import (
	"container/heap"
)

// msgState is where a message is in its life:
//
//	send ──> DELAYED ──(delay over)──> VISIBLE <──(visibility over, or changed to 0)──┐
//	  │                                  │                                           │
//	  └──────────(no delay)──────────────┘──(receive)──> IN FLIGHT ────────────────────┘
//	                                     │                  │
//	                      (receive count above maxReceiveCount)  (delete)
//	                                     v                  v
//	                                  MOVING ──(stored in DLQ)──> DELETED
//
// Retention removes a message from any state but MOVING.
type msgState uint8

const (
	stDelayed msgState = iota
	stVisible
	stInFlight
	stMoving
	stDeleted
)

func (s msgState) String() string {
	return [...]string{"delayed", "visible", "in flight", "moving", "deleted"}[s]
}

// msgKey identifies a stored message: its bundle's stream sequence and
// its position in the bundle.
type msgKey struct {
	seq uint64
	idx uint16
}

func (k msgKey) less(o msgKey) bool { return k.seq < o.seq || k.seq == o.seq && k.idx < o.idx }

// message is the engine's view of one stored message; its body stays in
// JetStream.
type message struct {
	key       msgKey
	meta      meta
	state     msgState
	visibleAt int64  // ms: end of the delay or of the visibility timeout
	receives  uint32 // ApproximateReceiveCount
	firstRecv int64  // ms, 0 before the first receive
	recvAt    int64  // ms: when the latest receive happened
	nonce     uint64 // of the latest receive's handle; 0 before any
	gen       uint32 // bumped whenever visibleAt changes; stale heap entries differ
	group     *group // FIFO queues only
}

// bundle tracks the live messages of one stored bundle, so that the
// bundle is removed from the stream once all of them are deleted.
type bundle struct {
	seq  uint64
	sent int64 // ms
	live int
	n    int
	dead []uint16 // deleted messages, while the bundle is stored
}

// group is a FIFO message group: its undeleted messages in order and how
// many of them are in flight (or moving). A group is available for
// receiving when none is in flight and its first message is visible.
type group struct {
	id       string
	msgs     []*message
	inflight int
	queued   bool // in the index's available heap
}

func (g *group) available() bool {
	return g.inflight == 0 && len(g.msgs) > 0 && g.msgs[0].state == stVisible
}

func (g *group) remove(m *message) {
	for i, x := range g.msgs {
		if x == m {
			copy(g.msgs[i:], g.msgs[i+1:])
			g.msgs[len(g.msgs)-1] = nil
			g.msgs = g.msgs[:len(g.msgs)-1]
			return
		}
	}
}

// insert adds m in sequence order (normally at the end).
func (g *group) insert(m *message) {
	i := len(g.msgs)
	for i > 0 && m.key.less(g.msgs[i-1].key) {
		i--
	}
	g.msgs = append(g.msgs, nil)
	copy(g.msgs[i+1:], g.msgs[i:])
	g.msgs[i] = m
}

// timerEntry says that m becomes visible at at, if m.gen is still gen.
type timerEntry struct {
	at  int64
	m   *message
	gen uint32
}

type timerHeap []timerEntry

func (h timerHeap) Len() int           { return len(h) }
func (h timerHeap) Less(i, j int) bool { return h[i].at < h[j].at }
func (h timerHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *timerHeap) Push(x any)        { *h = append(*h, x.(timerEntry)) }
func (h *timerHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	old[len(old)-1] = timerEntry{}
	*h = old[:len(old)-1]
	return e
}

// readyEntry is a visible message of a standard queue, valid while
// m.gen is gen and m is visible.
type readyEntry struct {
	m   *message
	gen uint32
}

type readyHeap []readyEntry

func (h readyHeap) Len() int           { return len(h) }
func (h readyHeap) Less(i, j int) bool { return h[i].m.key.less(h[j].m.key) }
func (h readyHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *readyHeap) Push(x any)        { *h = append(*h, x.(readyEntry)) }
func (h *readyHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	old[len(old)-1] = readyEntry{}
	*h = old[:len(old)-1]
	return e
}

// groupHeap orders available FIFO groups by their first message, so that
// the oldest waiting message is served first.
type groupHeap []*group

func (h groupHeap) Len() int { return len(h) }
func (h groupHeap) Less(i, j int) bool {
	a, b := h[i], h[j]
	if len(a.msgs) == 0 || len(b.msgs) == 0 {
		return len(a.msgs) == 0
	}
	return a.msgs[0].key.less(b.msgs[0].key)
}
func (h groupHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *groupHeap) Push(x any)   { *h = append(*h, x.(*group)) }
func (h *groupHeap) Pop() any {
	old := *h
	g := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return g
}

// index holds every undeleted message of one queue and schedules them.
// It is not safe for concurrent use: the engine's mutex guards it.
type index struct {
	fifo    bool
	msgs    map[msgKey]*message
	bundles map[uint64]*bundle
	order   []*message // messages in sequence order; deleted ones are dropped lazily
	ready   readyHeap  // standard queues: visible messages
	timers  timerHeap  // delayed and in-flight messages
	groups  map[string]*group
	avail   groupHeap // FIFO queues: available groups

	visible, inflight, delayed int64 // counts by state (moving counts as in flight)
}

func newIndex(fifo bool) *index {
	return &index{
		fifo:    fifo,
		msgs:    make(map[msgKey]*message),
		bundles: make(map[uint64]*bundle),
		groups:  make(map[string]*group),
	}
}

// bundleFor returns the bundle record of seq, creating it.
func (x *index) bundleFor(seq uint64, sent int64) *bundle {
	b := x.bundles[seq]
	if b == nil {
		b = &bundle{seq: seq, sent: sent}
		x.bundles[seq] = b
	}
	return b
}

// add inserts a message. It becomes delayed (never received) or in
// flight (received before) when visibleAt lies after now, visible
// otherwise. Messages must be added in sequence order.
func (x *index) add(m *message, now int64) {
	x.msgs[m.key] = m
	b := x.bundleFor(m.key.seq, m.meta.Sent)
	b.live++
	b.n++
	x.order = append(x.order, m)
	if x.fifo {
		g := x.groups[m.meta.Group]
		if g == nil {
			g = &group{id: m.meta.Group}
			x.groups[g.id] = g
		}
		m.group = g
		g.insert(m)
	}
	m.state = stDeleted // counted nowhere yet
	if m.visibleAt > now {
		s := stDelayed
		if m.receives > 0 {
			s = stInFlight
		}
		x.setState(m, s)
		heap.Push(&x.timers, timerEntry{at: m.visibleAt, m: m, gen: m.gen})
		return
	}
	x.makeVisible(m)
}

// addDead records a deleted message of a bundle that is still stored, so
// that the bundle's accounting (and the next compaction) knows it.
func (x *index) addDead(k msgKey, sent int64) *bundle {
	b := x.bundleFor(k.seq, sent)
	b.n++
	b.dead = append(b.dead, k.idx)
	return b
}

// setState moves m from its current state's count to s's.
func (x *index) setState(m *message, s msgState) {
	switch m.state {
	case stVisible:
		x.visible--
	case stInFlight, stMoving:
		x.inflight--
		if m.group != nil {
			m.group.inflight--
		}
	case stDelayed:
		x.delayed--
	}
	m.state = s
	switch s {
	case stVisible:
		x.visible++
	case stInFlight, stMoving:
		x.inflight++
		if m.group != nil {
			m.group.inflight++
		}
	case stDelayed:
		x.delayed++
	}
}

// makeVisible makes m receivable now.
func (x *index) makeVisible(m *message) {
	x.setState(m, stVisible)
	m.gen++
	if !x.fifo {
		heap.Push(&x.ready, readyEntry{m: m, gen: m.gen})
		return
	}
	x.offer(m.group)
}

// offer queues g as available if it is.
func (x *index) offer(g *group) {
	if !g.queued && g.available() {
		g.queued = true
		heap.Push(&x.avail, g)
	}
}

// hide makes m invisible until at (in flight, or moving when at is 0).
func (x *index) hide(m *message, s msgState, at int64) {
	x.setState(m, s)
	m.visibleAt = at
	m.gen++
	if s == stInFlight {
		heap.Push(&x.timers, timerEntry{at: at, m: m, gen: m.gen})
	}
}

// remove deletes m and returns its bundle if no live message remains in
// it.
func (x *index) remove(m *message) *bundle {
	if m.state == stDeleted {
		return nil
	}
	x.setState(m, stDeleted)
	m.gen++
	delete(x.msgs, m.key)
	if g := m.group; g != nil {
		g.remove(m)
		if len(g.msgs) == 0 && g.inflight == 0 {
			delete(x.groups, g.id)
		} else {
			x.offer(g)
		}
	}
	b := x.bundles[m.key.seq]
	if b == nil {
		return nil
	}
	b.live--
	b.dead = append(b.dead, m.key.idx)
	if b.live == 0 {
		return b
	}
	return nil
}

// advance makes visible every message whose delay or visibility timeout
// ended by now. It reports whether any became visible.
func (x *index) advance(now int64) bool {
	woke := false
	for len(x.timers) > 0 && x.timers[0].at <= now {
		e := heap.Pop(&x.timers).(timerEntry)
		m := e.m
		if m.gen != e.gen || (m.state != stDelayed && m.state != stInFlight) {
			continue
		}
		x.makeVisible(m)
		woke = true
	}
	return woke
}

// nextTimer returns when the next delayed or in-flight message becomes
// visible, or 0.
func (x *index) nextTimer() int64 {
	for len(x.timers) > 0 {
		e := x.timers[0]
		if e.m.gen == e.gen && (e.m.state == stDelayed || e.m.state == stInFlight) {
			return e.at
		}
		heap.Pop(&x.timers)
	}
	return 0
}

// popReady returns the oldest visible message of a standard queue, or nil.
func (x *index) popReady() *message {
	for len(x.ready) > 0 {
		e := heap.Pop(&x.ready).(readyEntry)
		if e.m.gen == e.gen && e.m.state == stVisible {
			return e.m
		}
	}
	return nil
}

// popGroup returns the available FIFO group with the oldest first
// message, or nil. The caller takes messages from its front and must
// offer it again if it leaves it available.
func (x *index) popGroup() *group {
	for len(x.avail) > 0 {
		g := heap.Pop(&x.avail).(*group)
		g.queued = false
		if g.available() {
			return g
		}
	}
	return nil
}

// compactOrder drops deleted messages from the front of order and calls
// expire for live ones until it returns false (not expired).
func (x *index) sweep(expired func(*message) bool, drop func(*message)) {
	i := 0
	for ; i < len(x.order); i++ {
		m := x.order[i]
		if m.state == stDeleted {
			continue
		}
		if m.state == stMoving || !expired(m) {
			break
		}
		drop(m)
	}
	if i > 0 {
		n := copy(x.order, x.order[i:])
		clear(x.order[n:])
		x.order = x.order[:n]
	}
	// Keep order from growing without bound when messages are deleted
	// out of order (standard queues).
	if len(x.order) > 1024 && len(x.order) > 2*len(x.msgs) {
		live := x.order[:0]
		for _, m := range x.order {
			if m.state != stDeleted {
				live = append(live, m)
			}
		}
		clear(x.order[len(live):])
		x.order = live
	}
}
