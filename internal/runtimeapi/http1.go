package runtimeapi

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"math"
	"net"
	"net/http"
	"slices"
	"strconv"
	"sync"
)

// The Runtime API speaks HTTP/1.1 to one client per environment: the
// runtime's keep-alive connection, which asks for an event and posts its
// answer, a handful of paths and headers. This file is the small HTTP/1.1
// server for exactly that. net/http did the job at roughly twice the CPU
// per invocation (a request object, a header map, a cloned response header
// map and a background-read goroutine per request, two of them per
// invocation); on the warm path that CPU competes with the function.
//
// Supported: request lines in origin form (a query string is ignored),
// Content-Length and chunked bodies (with trailers, which are ignored),
// Expect: 100-continue, keep-alive, pipelining, HTTP/1.0 (one request per
// connection). Not supported, answered with an error and a closed
// connection: obsolete header folding, both Content-Length and
// Transfer-Encoding, transfer codings other than chunked, heads over
// maxHeaderBytes. Responses carry no Date header.

const (
	// maxHeaderBytes bounds a request's head (request line and headers).
	maxHeaderBytes = 64 << 10
	// readBufSize is the connection's read buffer; it also bounds one line
	// of the head.
	readBufSize = 16 << 10
	// maxDiscard is the most body bytes read and dropped to keep a
	// connection usable after a request that did not need its body.
	maxDiscard = 1 << 20
)

// request is the head of one Runtime API request.
type request struct {
	method string
	path   string // the target without its query
	// contentLength is the body's length; -1 for a chunked body.
	contentLength int64
	// errorType and responseMode are the Runtime API's headers.
	errorType    string
	responseMode string
	expect100    bool // Expect: 100-continue
	close        bool // Connection: close, or HTTP/1.0
}

// protocolError is a request the server refuses at the HTTP level; the
// connection is closed after the answer.
type protocolError struct {
	status int
	msg    string
}

func (e *protocolError) Error() string { return e.msg }

func badRequest(msg string) error {
	return &protocolError{status: http.StatusBadRequest, msg: msg}
}

// readRequest reads a request head from br. io.EOF means the client closed
// the connection between requests.
func readRequest(br *bufio.Reader) (*request, error) {
	budget := maxHeaderBytes
	readLine := func() ([]byte, error) {
		line, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			return nil, &protocolError{status: http.StatusRequestHeaderFieldsTooLarge, msg: "request header line too long"}
		}
		if err != nil {
			if err == io.EOF && len(line) > 0 {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
		if budget -= len(line); budget < 0 {
			return nil, &protocolError{status: http.StatusRequestHeaderFieldsTooLarge, msg: "request head too large"}
		}
		line = line[:len(line)-1]
		if n := len(line); n > 0 && line[n-1] == '\r' {
			line = line[:n-1]
		}
		return line, nil
	}

	line, err := readLine()
	for err == nil && len(line) == 0 { // RFC 9112 §2.2: ignore empty lines before a request
		line, err = readLine()
	}
	if err != nil {
		return nil, err
	}
	method, rest, ok1 := bytes.Cut(line, []byte{' '})
	target, proto, ok2 := bytes.Cut(rest, []byte{' '})
	if !ok1 || !ok2 || len(method) == 0 || !isToken(method) || len(target) == 0 || target[0] != '/' {
		return nil, badRequest("malformed request line")
	}
	req := &request{method: methodString(method)}
	if i := bytes.IndexByte(target, '?'); i >= 0 {
		target = target[:i]
	}
	req.path = string(target)
	switch string(proto) {
	case "HTTP/1.1":
	case "HTTP/1.0":
		req.close = true
	default:
		return nil, &protocolError{status: http.StatusHTTPVersionNotSupported, msg: "unsupported protocol version"}
	}

	haveLength, chunked := false, false
	for {
		line, err := readLine()
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
		if len(line) == 0 {
			break
		}
		name, value, ok := bytes.Cut(line, []byte{':'})
		if !ok || len(name) == 0 || !isToken(name) {
			return nil, badRequest("malformed header line")
		}
		value = bytes.Trim(value, " \t")
		switch {
		case asciiEqualFold(name, "Content-Length"):
			n, ok := parseLength(value)
			if !ok || (haveLength && n != req.contentLength) {
				return nil, badRequest("invalid Content-Length")
			}
			haveLength, req.contentLength = true, n
		case asciiEqualFold(name, "Transfer-Encoding"):
			if !asciiEqualFold(value, "chunked") || chunked {
				return nil, &protocolError{status: http.StatusNotImplemented, msg: "unsupported Transfer-Encoding"}
			}
			chunked = true
		case asciiEqualFold(name, "Connection"):
			if asciiEqualFold(value, "close") {
				req.close = true
			}
		case asciiEqualFold(name, "Expect"):
			if !asciiEqualFold(value, "100-continue") {
				return nil, &protocolError{status: http.StatusExpectationFailed, msg: "unsupported Expect"}
			}
			req.expect100 = true
		case asciiEqualFold(name, HeaderErrorType):
			req.errorType = string(value)
		case asciiEqualFold(name, HeaderResponseMode):
			req.responseMode = string(value)
		}
	}
	if chunked {
		if haveLength {
			return nil, badRequest("both Content-Length and Transfer-Encoding")
		}
		req.contentLength = -1
	}
	return req, nil
}

// methodString returns the method's name without allocating for the two
// the Runtime API uses.
func methodString(m []byte) string {
	switch string(m) {
	case http.MethodGet:
		return http.MethodGet
	case http.MethodPost:
		return http.MethodPost
	}
	return string(m)
}

// parseLength parses a Content-Length value: decimal digits only.
func parseLength(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// isToken reports whether b is an HTTP token (RFC 9110 §5.6.2).
func isToken(b []byte) bool {
	for _, c := range b {
		if c >= 0x80 || !tokenChars[c] {
			return false
		}
	}
	return true
}

var tokenChars = func() (t [128]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c], t[c-'a'+'A'] = true, true
	}
	for _, c := range "!#$%&'*+-.^_`|~" {
		t[c] = true
	}
	return t
}()

// asciiEqualFold compares b with the ASCII string s ignoring case.
func asciiEqualFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range b {
		x, y := b[i], s[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// conn is one client connection.
type conn struct {
	s  *Server
	nc net.Conn
	br *bufio.Reader

	// wmu serialises writes: an event is written by the invoking
	// goroutine while the connection's own goroutine may answer a
	// (misbehaving) runtime's other request.
	wmu  sync.Mutex
	head []byte // wmu guards head: the response head being built
	// last is set while serving a request after which the connection
	// closes (HTTP/1.0, Connection: close): its response says so.
	last bool
}

// serve answers the connection's requests until it closes or a request
// asks for the connection to be closed.
func (c *conn) serve() {
	defer c.s.forget(c.nc)
	for {
		req, err := readRequest(c.br)
		if err != nil {
			var pe *protocolError
			if errors.As(err, &pe) {
				c.writeError(pe.status, "InvalidRequest", pe.msg, true)
			}
			return
		}
		c.last = req.close
		if !c.s.route(c, req) || req.close {
			return
		}
	}
}

// continue100 tells a client waiting for it to send the body.
func (c *conn) continue100(req *request) error {
	if !req.expect100 {
		return nil
	}
	req.expect100 = false
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_, err := io.WriteString(c.nc, "HTTP/1.1 100 Continue\r\n\r\n")
	return err
}

// body is a request body as read.
type body struct {
	data []byte
	// tooLarge reports a body over MaxResponseBytes, read and dropped so
	// that the connection stays usable.
	tooLarge bool
	// errorType and errorBody are the trailers a runtime sends when
	// producing the body failed midway (aws-lambda-go does for a response
	// whose reader fails); errorBody is base64 as sent.
	errorType, errorBody string
}

// readBody reads req's body, keeping at most MaxResponseBytes.
func (c *conn) readBody(req *request) (body, error) {
	var b body
	if err := c.continue100(req); err != nil {
		return b, err
	}
	if n := req.contentLength; n >= 0 {
		if n > MaxResponseBytes {
			_, err := io.CopyN(io.Discard, c.br, n)
			b.tooLarge = true
			return b, err
		}
		b.data = make([]byte, n)
		_, err := io.ReadFull(c.br, b.data)
		return b, err
	}
	data, n, err := readChunked(c.br, MaxResponseBytes, math.MaxInt64)
	if err != nil {
		return body{}, err
	}
	b.data, b.tooLarge = data, n > MaxResponseBytes
	err = c.readTrailer(&b)
	return b, err
}

// errChunked reports malformed chunked framing.
var errChunked = errors.New("malformed chunked encoding")

// readChunked reads the chunks of a chunked body up to and including its
// last chunk (the trailer section is left to readTrailer) and returns the
// data and their total size. The data go into one slice grown by each
// chunk's declared size (one allocation for a body sent in one chunk, as
// runtimes send small responses), as long as the total is at most keep;
// past keep the data are read and dropped (data is nil, n > keep). A body
// over stop bytes is an error.
//
// It accepts what net/http/httputil's chunked reader accepts: a chunk-size
// line is hex digits (at most 16), then optional chunk extensions
// (ignored) and whitespace, ending in CRLF; chunk data end in CRLF; the
// framing may not outweigh the data by more than 16 KB plus 16 bytes per
// chunk (so extensions cannot make a sender's bytes mostly overhead).
func readChunked(br *bufio.Reader, keep, stop int64) (data []byte, n int64, err error) {
	var excess int64
	for {
		line, err := br.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			err = errChunked
		}
		if err != nil {
			return nil, n, unexpectedEOF(err)
		}
		size, err := parseChunkSize(line)
		if err != nil {
			return nil, n, err
		}
		if excess = max(excess+int64(len(line))-16-2*min(size, 1<<40), 0); excess > 16<<10 {
			return nil, n, errChunked
		}
		if size == 0 {
			if data == nil && n <= keep {
				data = []byte{} // an empty body, as for Content-Length: 0
			}
			return data, n, nil
		}
		if size > stop-n {
			return nil, n, errors.New("chunked body too large")
		}
		n += size
		if n > keep {
			data = nil
			if _, err := br.Discard(int(size)); err != nil {
				return nil, n, unexpectedEOF(err)
			}
		} else {
			l := len(data)
			data = slices.Grow(data, int(size))[:l+int(size)]
			if _, err := io.ReadFull(br, data[l:]); err != nil {
				return nil, n, unexpectedEOF(err)
			}
		}
		crlf, err := br.Peek(2)
		if err != nil {
			return nil, n, unexpectedEOF(err)
		}
		if crlf[0] != '\r' || crlf[1] != '\n' {
			return nil, n, errChunked
		}
		_, _ = br.Discard(2)
	}
}

// parseChunkSize parses a chunk-size line (see readChunked).
func parseChunkSize(line []byte) (int64, error) {
	cr := bytes.IndexByte(line, '\r')
	if cr < 0 || cr != len(line)-2 {
		return 0, errChunked // a bare LF or a CR inside the line
	}
	line = bytes.TrimRight(line[:cr], " \t")
	line, _, _ = bytes.Cut(line, []byte{';'})
	if len(line) == 0 || len(line) > 16 {
		return 0, errChunked
	}
	v, err := strconv.ParseUint(string(line), 16, 64)
	if err != nil || v > math.MaxInt64 {
		return 0, errChunked
	}
	return int64(v), nil
}

// unexpectedEOF turns io.EOF, the end of a body cut short, into
// io.ErrUnexpectedEOF.
func unexpectedEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// readTrailer reads the trailer section that ends a chunked body, keeping
// the Runtime API's error trailers.
func (c *conn) readTrailer(b *body) error {
	for budget := maxHeaderBytes; ; {
		line, err := c.br.ReadSlice('\n')
		if err != nil {
			return err
		}
		if budget -= len(line); budget < 0 {
			return errors.New("trailer too large")
		}
		line = bytes.TrimRight(line, "\r\n")
		if len(line) == 0 {
			return nil
		}
		if b == nil {
			continue
		}
		name, value, _ := bytes.Cut(line, []byte{':'})
		value = bytes.Trim(value, " \t")
		switch {
		case asciiEqualFold(name, HeaderErrorType):
			b.errorType = string(value)
		case asciiEqualFold(name, HeaderErrorBody):
			b.errorBody = string(value)
		}
	}
}

// discardBody drops the body of a request that did not need it; false
// means the connection cannot be reused (the body is too large, or the
// client waits for a 100 Continue that will not come).
func (c *conn) discardBody(req *request) bool {
	if req.expect100 {
		return false
	}
	switch n := req.contentLength; {
	case n == 0:
		return true
	case n > 0:
		if n > maxDiscard {
			return false
		}
		_, err := io.CopyN(io.Discard, c.br, n)
		return err == nil
	default:
		if _, _, err := readChunked(c.br, 0, maxDiscard); err != nil {
			return false
		}
		return c.readTrailer(nil) == nil
	}
}

// header is one response header.
type header struct{ name, value string }

// write sends a response with a Content-Length and the given body in one
// system call. With close set it asks the client to close the connection.
func (c *conn) write(status int, hdrs []header, body []byte, close bool) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	h := append(c.head[:0], "HTTP/1.1 "...)
	h = strconv.AppendInt(h, int64(status), 10)
	h = append(h, ' ')
	h = append(h, http.StatusText(status)...)
	h = append(h, "\r\n"...)
	for _, kv := range hdrs {
		h = append(h, kv.name...)
		h = append(h, ": "...)
		h = append(h, kv.value...)
		h = append(h, "\r\n"...)
	}
	if close || c.last {
		h = append(h, "Connection: close\r\n"...)
	}
	h = append(h, "Content-Length: "...)
	h = strconv.AppendInt(h, int64(len(body)), 10)
	h = append(h, "\r\n\r\n"...)
	var err error
	if len(body) <= 4096 {
		h = append(h, body...)
		_, err = c.nc.Write(h)
	} else {
		bufs := net.Buffers{h, body}
		_, err = bufs.WriteTo(c.nc)
	}
	c.head = h[:0]
	return err
}

var jsonHeader = []header{{"Content-Type", "application/json"}}

// writeError answers with the Runtime API's error shape.
func (c *conn) writeError(status int, typ, msg string, close bool) bool {
	return c.write(status, jsonHeader, errorJSON(typ, msg), close) == nil && !close
}

// writeAccepted answers a posted result or init error.
func (c *conn) writeAccepted() bool {
	return c.write(http.StatusAccepted, jsonHeader, acceptedBody, false) == nil
}
