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
	"context"
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
	invocations chan *Invocation
	ready       chan struct{}
	readyOnce   sync.Once
	initErr     chan Result
	closed      chan struct{}
	closeOnce   sync.Once
	hs          *http.Server

	mu         sync.Mutex
	current    *Invocation   // mu guards current: the invocation being executed
	inited     bool          // mu guards inited: next has been called once
	waiting    chan struct{} // mu guards waiting: closed while the runtime waits in next
	waitClosed bool          // mu guards waitClosed: waiting is closed
}

// New returns a Server that serves no listener yet.
func New() *Server {
	s := &Server{
		invocations: make(chan *Invocation),
		ready:       make(chan struct{}),
		initErr:     make(chan Result, 1),
		closed:      make(chan struct{}),
		waiting:     make(chan struct{}),
	}
	s.hs = &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 10 * time.Second,
		MaxHeaderBytes:    64 << 10,
	}
	return s
}

// Serve answers Runtime API requests on l until Close.
func (s *Server) Serve(l net.Listener) error {
	err := s.hs.Serve(l)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// Close stops serving: pending and future next calls get 500 and Invoke
// returns ErrClosed.
func (s *Server) Close() error {
	s.closeOnce.Do(func() { close(s.closed) })
	return s.hs.Close()
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

// Invoke hands inv to the runtime and waits for its result. It returns
// ErrDeadline when ctx ends first, ErrDied when died is closed first (the
// runtime process exited) and ErrClosed when the server closes.
func (s *Server) Invoke(ctx context.Context, inv *Invocation, died <-chan struct{}) (Result, error) {
	inv.result = make(chan Result, 1)
	select {
	case s.invocations <- inv:
	case <-ctx.Done():
		return Result{}, ErrDeadline
	case <-died:
		return Result{}, ErrDied
	case <-s.closed:
		return Result{}, ErrClosed
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
		return Result{}, ErrClosed
	}
}

// abandon forgets inv so that a late response is refused.
func (s *Server) abandon(inv *Invocation) {
	s.mu.Lock()
	if s.current == inv {
		s.current = nil
	}
	s.mu.Unlock()
}

const (
	pathPrefix    = "/2018-06-01/runtime/"
	pathNext      = pathPrefix + "invocation/next"
	pathInitError = pathPrefix + "init/error"
	pathInvoke    = pathPrefix + "invocation/"
)

// ServeHTTP routes Runtime API requests.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	switch {
	case p == pathNext:
		if r.Method != http.MethodGet {
			break
		}
		s.next(w, r)
		return
	case p == pathInitError:
		if r.Method != http.MethodPost {
			break
		}
		s.postInitError(w, r)
		return
	case len(p) > len(pathInvoke) && p[:len(pathInvoke)] == pathInvoke:
		if r.Method != http.MethodPost {
			break
		}
		rest := p[len(pathInvoke):]
		for i := len(rest) - 1; i >= 0; i-- {
			if rest[i] == '/' {
				id, action := rest[:i], rest[i+1:]
				if action == "response" || action == "error" {
					s.post(w, r, id, action == "error")
					return
				}
				break
			}
		}
	case p == "/2018-06-01/ping" || p == "/ping":
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte("pong"))
		return
	}
	writeError(w, http.StatusNotFound, "InvalidURL", "Unknown Runtime API path: "+r.Method+" "+p)
}

func (s *Server) next(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	if s.current != nil {
		s.mu.Unlock()
		writeError(w, http.StatusForbidden, "InvalidStateTransition",
			"State transition from Invoking to Ready failed: the runtime asked for the next invocation before answering "+s.currentIDLocked())
		return
	}
	s.inited = true
	if !s.waitClosed {
		close(s.waiting)
		s.waitClosed = true
	}
	s.mu.Unlock()
	s.readyOnce.Do(func() { close(s.ready) })

	var inv *Invocation
	select {
	case inv = <-s.invocations:
	case <-s.closed:
		writeError(w, http.StatusInternalServerError, "ServerClosed", "The execution environment is shutting down.")
		return
	case <-r.Context().Done():
		s.mu.Lock()
		s.stopWaitingLocked()
		s.mu.Unlock()
		return
	}
	s.mu.Lock()
	s.current = inv
	s.stopWaitingLocked()
	s.mu.Unlock()

	h := w.Header()
	h["Content-Type"] = []string{"application/json"}
	h[HeaderRequestID] = []string{inv.RequestID}
	h[HeaderDeadlineMs] = []string{strconv.FormatInt(inv.Deadline.UnixMilli(), 10)}
	h[HeaderInvokedARN] = []string{inv.InvokedARN}
	if inv.TraceID != "" {
		h[HeaderTraceID] = []string{inv.TraceID}
	}
	if inv.ClientContext != "" {
		h[HeaderClientContext] = []string{inv.ClientContext}
	}
	if inv.CognitoIdentity != "" {
		h[HeaderCognitoIdentity] = []string{inv.CognitoIdentity}
	}
	h["Content-Length"] = []string{strconv.Itoa(len(inv.Payload))}
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(inv.Payload)
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

func (s *Server) post(w http.ResponseWriter, r *http.Request, id string, failed bool) {
	if mode := r.Header.Get(HeaderResponseMode); mode != "" && mode != "streaming" {
		writeError(w, http.StatusBadRequest, "InvalidFunctionResponseMode",
			"Lambda-Runtime-Function-Response-Mode must be streaming when set, got "+mode)
		return
	}
	s.mu.Lock()
	inv := s.current
	s.mu.Unlock()
	if inv == nil {
		writeError(w, http.StatusForbidden, "InvalidStateTransition",
			"No invocation is in progress; "+id+" cannot be answered now.")
		return
	}
	if inv.RequestID != id {
		writeError(w, http.StatusBadRequest, "InvalidRequestID",
			"Invalid request ID: "+id+" is not the invocation in progress.")
		return
	}
	body, tooLarge, err := readBody(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, "InvalidRequest", "Reading the body: "+err.Error())
		return
	}
	res := Result{Payload: body, Failed: failed}
	if failed {
		res.ErrorType = r.Header.Get(HeaderErrorType)
		if len(body) == 0 {
			res.Payload = errorJSON(res.ErrorType, "")
		}
	}
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
		writeError(w, http.StatusForbidden, "InvalidStateTransition", "The invocation "+id+" is no longer in progress.")
		return
	}
	s.current = nil
	s.mu.Unlock()
	inv.result <- res
	if tooLarge {
		writeError(w, http.StatusRequestEntityTooLarge, "RequestEntityTooLarge",
			"Exceeded maximum allowed payload size ("+strconv.Itoa(MaxResponseBytes)+" bytes).")
		return
	}
	writeAccepted(w)
}

func (s *Server) postInitError(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	inited := s.inited
	s.mu.Unlock()
	if inited {
		writeError(w, http.StatusForbidden, "InvalidStateTransition",
			"init/error is only valid before the first invocation/next.")
		return
	}
	body, _, err := readBody(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, "InvalidRequest", "Reading the body: "+err.Error())
		return
	}
	res := Result{Payload: body, Failed: true, ErrorType: r.Header.Get(HeaderErrorType)}
	if len(body) == 0 {
		res.Payload = errorJSON(res.ErrorType, "")
	}
	select {
	case s.initErr <- res:
	default: // only the first report counts
	}
	writeAccepted(w)
}
