package router

import (
	"bytes"
	"os"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/stratus-dev/stratus"
)

// tailBytes is how much of an invocation's log X-Amz-Log-Result carries.
const tailBytes = 4096

// maxLine splits longer output lines, as CloudWatch caps event size.
const maxLine = 256 << 10

// logPump reads an environment's stdout+stderr pipe, splits it into lines
// and sends them to the log sink; while an invocation asked for its log
// tail it also keeps the last 4 KB.
type logPump struct {
	r      *os.File
	sink   stratus.LogSink
	group  string
	stream string
	eof    chan struct{}

	// initDur is the init time of a fresh environment, reported with its
	// first invocation; owned by whoever holds the environment.
	initDur time.Duration

	// mu guards the fields below, and every read of the pipe happens under
	// it together with consuming what it read: output is either still in
	// the pipe or already emitted, never in between (see drain).
	mu      sync.Mutex
	rbuf    []byte // read buffer
	partial []byte // an unterminated line
	capture bool   // an invocation is being logged
	keep    bool   // that invocation wants its tail
	buf     []byte // captured log text
}

func newLogPump(r *os.File, sink stratus.LogSink, group, stream string) *logPump {
	p := &logPump{r: r, sink: sink, group: group, stream: stream, eof: make(chan struct{})}
	p.capture = true // a cold start's init output belongs to its first invocation
	go p.loop()
	return p
}

func (p *logPump) loop() {
	defer close(p.eof)
	rc, err := p.r.SyscallConn()
	for err == nil {
		var done bool
		err = rc.Read(func(fd uintptr) bool {
			p.mu.Lock()
			defer p.mu.Unlock()
			var again bool
			done, again = p.readLocked(fd)
			return !again // false: wait until the pipe is readable
		})
		if done {
			break
		}
	}
	p.mu.Lock()
	p.flushPartialLocked()
	p.mu.Unlock()
}

// readLocked reads the pipe (non-blocking) once and consumes what it
// got; again says the pipe was empty, done that it is closed or broken.
// p.mu must be held.
func (p *logPump) readLocked(fd uintptr) (done, again bool) {
	if p.rbuf == nil {
		p.rbuf = make([]byte, 64<<10)
	}
	n, err := unix.Read(int(fd), p.rbuf)
	for err == unix.EINTR {
		n, err = unix.Read(int(fd), p.rbuf)
	}
	switch {
	case n > 0:
		p.consumeLocked(p.rbuf[:n])
		return false, false
	case err == unix.EAGAIN:
		return false, true
	}
	return true, false // EOF (n == 0) or an error
}

// consumeLocked emits every complete line of b; p.mu must be held.
func (p *logPump) consumeLocked(b []byte) {
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			p.partial = append(p.partial, b...)
			if len(p.partial) >= maxLine {
				p.flushPartialLocked()
			}
			return
		}
		line := b[:i]
		if len(p.partial) > 0 {
			line = append(p.partial, line...)
			p.partial = p.partial[:0]
		}
		p.emitLocked(string(line))
		b = b[i+1:]
	}
}

func (p *logPump) flushPartialLocked() {
	if len(p.partial) > 0 {
		p.emitLocked(string(p.partial))
		p.partial = p.partial[:0]
	}
}

func (p *logPump) emitLocked(line string) {
	if p.sink != nil {
		p.sink.PutLogEvents(p.group, p.stream, stratus.LogEvent{Timestamp: time.Now(), Message: line})
	}
	if p.capture && p.keep {
		p.buf = append(p.buf, line...)
		p.buf = append(p.buf, '\n')
		if len(p.buf) > 4*tailBytes {
			p.buf = append(p.buf[:0], p.buf[len(p.buf)-tailBytes:]...)
		}
	}
}

// platform logs a line written by the platform (START, END, REPORT, ...).
func (p *logPump) platform(line string) {
	p.mu.Lock()
	p.emitLocked(line)
	p.mu.Unlock()
}

// begin starts capturing an invocation's log; keep says whether its tail
// is wanted. A fresh environment is already capturing its init output.
func (p *logPump) begin(keep bool) {
	p.mu.Lock()
	p.capture = true
	p.keep = keep
	p.mu.Unlock()
}

// end stops capturing and returns the last 4 KB captured.
func (p *logPump) end() []byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	b := p.buf
	if len(b) > tailBytes {
		b = b[len(b)-tailBytes:]
	}
	out := append([]byte(nil), b...)
	p.buf, p.capture, p.keep = p.buf[:0], false, false
	return out
}

// drain makes output the runtime wrote before answering land before the
// END line: it reads (under p.mu, as the pump does) whatever the pipe
// still holds and emits it, and the unterminated last line too. The common
// case, an empty pipe, costs one read that returns EAGAIN.
func (p *logPump) drain() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if rc, err := p.r.SyscallConn(); err == nil {
		_ = rc.Control(func(fd uintptr) {
			for {
				if done, again := p.readLocked(fd); done || again {
					return
				}
			}
		})
	}
	p.flushPartialLocked()
}

// waitEOF waits up to d for the pipe to close (the sandbox is gone).
func (p *logPump) waitEOF(d time.Duration) {
	select {
	case <-p.eof:
	case <-time.After(d):
	}
}

func (p *logPump) close() { _ = p.r.Close() }
