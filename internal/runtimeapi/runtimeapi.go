// Package runtimeapi serves the Lambda Runtime API (2018-06-01) of one
// execution environment: the runtime inside the sandbox long-polls
// invocation/next, then posts a response or an error for that invocation.
//
// States of a Server, as the runtime drives them:
//
//	INIT ──(GET next)──> IDLE ──(Invoke hands over an event)──> BUSY
//	  │                   ^                                      │
//	  │                   └───(POST .../response or .../error)───┘
//	  └──(POST init/error)──> init failed (InitError fires)
//
// The platform side calls Invoke; the runtime side speaks HTTP. A Server
// knows which environment is calling from the listener alone: each
// environment gets its own listener.
package runtimeapi

import (
	"bufio"
	"context"
	"encoding/base64"
	"errors"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// MaxResponseBytes is the largest response or error body a runtime may post
// (the limit AWS reports in its 413 message).
const MaxResponseBytes = 6291556

// Header names of the Runtime API.
const (
	HeaderRequestID       = "Lambda-Runtime-Aws-Request-Id"
	HeaderDeadlineMs      = "Lambda-Runtime-Deadline-Ms"
	HeaderInvokedARN      = "Lambda-Runtime-Invoked-Function-Arn"
	HeaderTraceID         = "Lambda-Runtime-Trace-Id"
	HeaderClientContext   = "Lambda-Runtime-Client-Context"
	HeaderCognitoIdentity = "Lambda-Runtime-Cognito-Identity"
	HeaderErrorType       = "Lambda-Runtime-Function-Error-Type"
	HeaderResponseMode    = "Lambda-Runtime-Function-Response-Mode"
	// HeaderErrorBody is a trailer: the base64 error JSON of a response
	// that failed while its body was being sent.
	HeaderErrorBody = "Lambda-Runtime-Function-Error-Body"
)

// Errors returned by Invoke.
var (
	// ErrDeadline means the invocation's context ended before the runtime
	// answered (the function timed out).
	ErrDeadline = errors.New("runtimeapi: invocation deadline exceeded")
	// ErrDied means the runtime process went away before answering.
	ErrDied = errors.New("runtimeapi: runtime exited")
	// ErrClosed means the server was closed.
	ErrClosed = errors.New("runtimeapi: server closed")
)

// Invocation is one event handed to the runtime.
type Invocation struct {
	RequestID       string
	Payload         []byte
	Deadline        time.Time
	InvokedARN      string
	TraceID         string
	ClientContext   string
	CognitoIdentity string

	result chan Result
}

// Result is what the runtime posted for an invocation or for its init.
type Result struct {
	// Payload is the response body, or the error JSON when Failed.
	Payload []byte
	// Failed is set when the runtime reported an error (or the response
	// was too large, with ErrorType Function.ResponseSizeTooLarge).
	Failed bool
	// ErrorType is the Lambda-Runtime-Function-Error-Type header, if any.
	ErrorType string
}

// Server is the Runtime API of one environment. Create it with New, serve
// a listener with Serve, and drive invocations with Invoke.
type Server struct {
	ready     chan struct{}
	readyOnce sync.Once
	initErr   chan Result
	closed    chan struct{}
	closeOnce sync.Once

	mu         sync.Mutex
	current    *Invocation   // mu guards current: the invocation being executed
	pending    *Invocation   // mu guards pending: handed over, waiting for the runtime to ask
	waiter     *conn         // mu guards waiter: the connection waiting in next
	inited     bool          // mu guards inited: next has been called once
	waiting    chan struct{} // mu guards waiting: closed while the runtime waits in next
	waitClosed bool          // mu guards waitClosed: waiting is closed

	cmu   sync.Mutex
	lns   map[net.Listener]struct{} // cmu guards lns: listeners being served
	conns map[net.Conn]struct{}     // cmu guards conns: open client connections
	shut  bool                      // cmu guards shut: Close was called
}

// New returns a Server that serves no listener yet.
func New() *Server {
	return &Server{
		ready:   make(chan struct{}),
		initErr: make(chan Result, 1),
		closed:  make(chan struct{}),
		waiting: make(chan struct{}),
		lns:     make(map[net.Listener]struct{}),
		conns:   make(map[net.Conn]struct{}),
	}
}

// Serve answers Runtime API requests on l until Close.
func (s *Server) Serve(l net.Listener) error {
	s.cmu.Lock()
	if s.shut {
		s.cmu.Unlock()
		_ = l.Close()
		return nil
	}
	s.lns[l] = struct{}{}
	s.cmu.Unlock()
	for {
		nc, err := l.Accept()
		if err != nil {
			select {
			case <-s.closed:
				return nil
			default:
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				time.Sleep(10 * time.Millisecond)
				continue
			}
			return err
		}
		s.cmu.Lock()
		if s.shut {
			s.cmu.Unlock()
			_ = nc.Close()
			return nil
		}
		s.conns[nc] = struct{}{}
		s.cmu.Unlock()
		c := &conn{s: s, nc: nc, br: bufio.NewReaderSize(nc, readBufSize)}
		go c.serve()
	}
}

// forget closes and forgets a client connection.
func (s *Server) forget(nc net.Conn) {
	_ = nc.Close()
	s.cmu.Lock()
	delete(s.conns, nc)
	s.cmu.Unlock()
}

// Close stops serving: pending and future next calls get 500 and Invoke
// returns ErrClosed.
func (s *Server) Close() error {
	s.closeOnce.Do(func() { close(s.closed) })
	s.cmu.Lock()
	defer s.cmu.Unlock()
	s.shut = true
	for l := range s.lns {
		_ = l.Close()
	}
	for nc := range s.conns {
		_ = nc.Close()
	}
	return nil
}

// Ready is closed when the runtime first asks for an invocation, which ends
// its initialisation.
func (s *Server) Ready() <-chan struct{} { return s.ready }

// Waiting is closed while the runtime is blocked in invocation/next, ready
// to take an invocation. A runtime that answered its last invocation but
// has not asked for the next one (it may be about to exit, as aws-lambda-go
// does after a panic) is not waiting.
func (s *Server) Waiting() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.waiting
}

// InitError delivers the error the runtime posted to init/error, if any.
func (s *Server) InitError() <-chan Result { return s.initErr }

// ErrBusy is returned by Invoke while another invocation is in progress:
// an environment runs one invocation at a time.
var ErrBusy = errors.New("runtimeapi: an invocation is already in progress")

// Invoke hands inv to the runtime and waits for its result. It returns
// ErrDeadline when ctx ends first, ErrDied when died is closed first (the
// runtime process exited) and ErrClosed when the server closes.
//
// When the runtime is waiting in invocation/next, the caller writes the
// event to the runtime's connection itself: no goroutine has to be woken
// to deliver it. Otherwise the event waits for the runtime's next call.
func (s *Server) Invoke(ctx context.Context, inv *Invocation, died <-chan struct{}) (Result, error) {
	inv.result = make(chan Result, 1)
	select {
	case <-s.closed:
		return Result{}, ErrClosed
	default:
	}
	s.mu.Lock()
	if s.current != nil || s.pending != nil {
		s.mu.Unlock()
		return Result{}, ErrBusy
	}
	c := s.waiter
	if c != nil {
		s.waiter = nil
		s.current = inv
		s.stopWaitingLocked()
	} else {
		s.pending = inv
	}
	s.mu.Unlock()
	if c != nil {
		// A failed write means the runtime's connection broke; the
		// runtime is going away, which died or ctx will tell.
		_ = c.deliver(inv)
	}
	select {
	case r := <-inv.result:
		return r, nil
	case <-ctx.Done():
		s.abandon(inv)
		return Result{}, ErrDeadline
	case <-died:
		// The runtime may have posted its result just before exiting
		// (aws-lambda-go reports a panic, then exits).
		select {
		case r := <-inv.result:
			return r, nil
		default:
		}
		s.abandon(inv)
		return Result{}, ErrDied
	case <-s.closed:
		s.abandon(inv)
		return Result{}, ErrClosed
	}
}

// abandon forgets inv so that a late response is refused (or, if the
// runtime never took it, that it is not handed out any more).
func (s *Server) abandon(inv *Invocation) {
	s.mu.Lock()
	if s.current == inv {
		s.current = nil
	}
	if s.pending == inv {
		s.pending = nil
	}
	s.mu.Unlock()
}

const (
	pathPrefix    = "/2018-06-01/runtime/"
	pathNext      = pathPrefix + "invocation/next"
	pathInitError = pathPrefix + "init/error"
	pathInvoke    = pathPrefix + "invocation/"
)

// route serves one request on c; false means the connection must close.
func (s *Server) route(c *conn, req *request) bool {
	p := req.path
	switch {
	case p == pathNext:
		if req.method != http.MethodGet {
			break
		}
		if !c.discardBody(req) {
			return false
		}
		return s.next(c)
	case p == pathInitError:
		if req.method != http.MethodPost {
			break
		}
		return s.postInitError(c, req)
	case len(p) > len(pathInvoke) && p[:len(pathInvoke)] == pathInvoke:
		if req.method != http.MethodPost {
			break
		}
		rest := p[len(pathInvoke):]
		for i := len(rest) - 1; i >= 0; i-- {
			if rest[i] == '/' {
				id, action := rest[:i], rest[i+1:]
				if action == "response" || action == "error" {
					return s.post(c, req, id, action == "error")
				}
				break
			}
		}
	case p == "/2018-06-01/ping" || p == "/ping":
		return c.discardBody(req) && c.write(http.StatusOK, nil, []byte("pong"), false) == nil
	}
	ok := c.discardBody(req)
	return c.writeError(http.StatusNotFound, "InvalidURL", "Unknown Runtime API path: "+req.method+" "+p, !ok)
}

// next hands the runtime its next invocation: at once when one is
// pending, else the connection is parked as the waiter, for Invoke to
// write the event to. The connection's goroutine then only waits for the
// runtime's next request; if instead the connection ends, the runtime no
// longer counts as waiting.
func (s *Server) next(c *conn) bool {
	s.mu.Lock()
	if s.current != nil {
		s.mu.Unlock()
		return c.writeError(http.StatusForbidden, "InvalidStateTransition",
			"State transition from Invoking to Ready failed: the runtime asked for the next invocation before answering "+s.currentIDLocked(), false)
	}
	s.inited = true
	s.readyOnce.Do(func() { close(s.ready) })
	if inv := s.pending; inv != nil {
		s.pending = nil
		s.current = inv
		s.mu.Unlock()
		return c.deliver(inv) == nil
	}
	s.waiter = c
	if !s.waitClosed {
		close(s.waiting)
		s.waitClosed = true
	}
	s.mu.Unlock()

	_, err := c.br.Peek(1) // the runtime's next request, or the end of the connection
	s.mu.Lock()
	if s.waiter == c { // nothing was delivered
		s.waiter = nil
		s.stopWaitingLocked()
	}
	s.mu.Unlock()
	return err == nil
}

// deliver writes inv as the answer to the runtime's invocation/next.
func (c *conn) deliver(inv *Invocation) error {
	hdrs := make([]header, 0, 7)
	hdrs = append(hdrs,
		header{"Content-Type", "application/json"},
		header{HeaderRequestID, inv.RequestID},
		header{HeaderDeadlineMs, strconv.FormatInt(inv.Deadline.UnixMilli(), 10)},
		header{HeaderInvokedARN, inv.InvokedARN})
	if inv.TraceID != "" {
		hdrs = append(hdrs, header{HeaderTraceID, inv.TraceID})
	}
	if inv.ClientContext != "" {
		hdrs = append(hdrs, header{HeaderClientContext, inv.ClientContext})
	}
	if inv.CognitoIdentity != "" {
		hdrs = append(hdrs, header{HeaderCognitoIdentity, inv.CognitoIdentity})
	}
	return c.write(http.StatusOK, hdrs, inv.Payload, false)
}

// stopWaitingLocked marks the runtime as no longer waiting; s.mu must be
// held.
func (s *Server) stopWaitingLocked() {
	if s.waitClosed {
		s.waiting = make(chan struct{})
		s.waitClosed = false
	}
}

// currentIDLocked names the invocation in flight; s.mu must be held.
func (s *Server) currentIDLocked() string {
	if s.current == nil {
		return ""
	}
	return s.current.RequestID
}

// post takes the runtime's response or error for invocation id.
func (s *Server) post(c *conn, req *request, id string, failed bool) bool {
	if mode := req.responseMode; mode != "" && mode != "streaming" {
		ok := c.discardBody(req)
		return c.writeError(http.StatusBadRequest, "InvalidFunctionResponseMode",
			"Lambda-Runtime-Function-Response-Mode must be streaming when set, got "+mode, !ok)
	}
	s.mu.Lock()
	inv := s.current
	s.mu.Unlock()
	if inv == nil {
		ok := c.discardBody(req)
		return c.writeError(http.StatusForbidden, "InvalidStateTransition",
			"No invocation is in progress; "+id+" cannot be answered now.", !ok)
	}
	if inv.RequestID != id {
		ok := c.discardBody(req)
		return c.writeError(http.StatusBadRequest, "InvalidRequestID",
			"Invalid request ID: "+id+" is not the invocation in progress.", !ok)
	}
	b, err := c.readBody(req)
	if err != nil {
		return c.writeError(http.StatusBadRequest, "InvalidRequest", "Reading the body: "+err.Error(), true)
	}
	res := Result{Payload: b.data, Failed: failed}
	if failed {
		res.ErrorType = req.errorType
	}
	if b.errorType != "" { // the body failed midway: the error replaces it
		res = Result{Failed: true, ErrorType: b.errorType}
		if dec, err := base64.StdEncoding.DecodeString(b.errorBody); err == nil && len(dec) > 0 {
			res.Payload = dec
		}
	}
	if res.Failed && len(res.Payload) == 0 {
		res.Payload = errorJSON(res.ErrorType, "")
	}
	tooLarge := b.tooLarge
	if tooLarge {
		res = Result{
			Failed:    true,
			ErrorType: "Function.ResponseSizeTooLarge",
			Payload: errorJSON("Function.ResponseSizeTooLarge",
				"Response payload size exceeded maximum allowed payload size ("+strconv.Itoa(MaxResponseBytes)+" bytes)."),
		}
	}
	s.mu.Lock()
	if s.current != inv { // abandoned (timed out) meanwhile
		s.mu.Unlock()
		return c.writeError(http.StatusForbidden, "InvalidStateTransition", "The invocation "+id+" is no longer in progress.", false)
	}
	s.current = nil
	s.mu.Unlock()
	inv.result <- res
	if tooLarge {
		return c.writeError(http.StatusRequestEntityTooLarge, "RequestEntityTooLarge",
			"Exceeded maximum allowed payload size ("+strconv.Itoa(MaxResponseBytes)+" bytes).", false)
	}
	return c.writeAccepted()
}

// postInitError takes the error of a runtime that failed to initialise.
func (s *Server) postInitError(c *conn, req *request) bool {
	s.mu.Lock()
	inited := s.inited
	s.mu.Unlock()
	if inited {
		ok := c.discardBody(req)
		return c.writeError(http.StatusForbidden, "InvalidStateTransition",
			"init/error is only valid before the first invocation/next.", !ok)
	}
	b, err := c.readBody(req)
	if err != nil {
		return c.writeError(http.StatusBadRequest, "InvalidRequest", "Reading the body: "+err.Error(), true)
	}
	res := Result{Payload: b.data, Failed: true, ErrorType: req.errorType}
	if len(res.Payload) == 0 {
		res.Payload = errorJSON(res.ErrorType, "")
	}
	select {
	case s.initErr <- res:
	default: // only the first report counts
	}
	return c.writeAccepted()
}
