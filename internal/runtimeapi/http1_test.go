package runtimeapi

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"strings"
	"syscall"
	"testing"
	"time"
)

// closed reports whether the server closed the connection (a reset
// counts: closing with unread input sends one).
func closed(br *bufio.Reader) error {
	_, err := br.ReadByte()
	if errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) {
		return nil
	}
	return fmt.Errorf("connection not closed: %v", err)
}

// dial serves a fresh Server on loopback and returns a raw connection.
func dial(t *testing.T) (*Server, net.Conn, *bufio.Reader) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := New()
	go func() { _ = s.Serve(l) }()
	t.Cleanup(func() { _ = s.Close() })
	nc, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = nc.Close() })
	return s, nc, bufio.NewReader(nc)
}

func send(t *testing.T, nc net.Conn, raw string) {
	t.Helper()
	if _, err := io.WriteString(nc, raw); err != nil {
		t.Fatal(err)
	}
}

func recv(t *testing.T, br *bufio.Reader) (*http.Response, string) {
	t.Helper()
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

// invokeAsync starts an invocation and returns its outcome channel.
func invokeAsync(s *Server, id, payload string) chan Result {
	out := make(chan Result, 1)
	go func() {
		r, _ := s.Invoke(context.Background(), &Invocation{RequestID: id, Payload: []byte(payload),
			Deadline: time.Now().Add(time.Minute), InvokedARN: "arn"}, nil)
		out <- r
	}()
	return out
}

func TestChunkedResponseAndPipelining(t *testing.T) {
	s, nc, br := dial(t)
	res := invokeAsync(s, "r1", `{"k":1}`)
	send(t, nc, "GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: x\r\n\r\n")
	resp, body := recv(t, br)
	if resp.StatusCode != 200 || body != `{"k":1}` || resp.Header.Get(HeaderRequestID) != "r1" {
		t.Fatalf("next: %d %q %v", resp.StatusCode, body, resp.Header)
	}
	// A chunked answer with a trailer, pipelined with the next request.
	send(t, nc, "POST /2018-06-01/runtime/invocation/r1/response HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"+
		"3\r\n\"ab\r\n2;ext=1\r\nc\"\r\n0\r\nX-Trailer: 1\r\n\r\n"+
		"GET /2018-06-01/ping HTTP/1.1\r\nHost: x\r\n\r\n")
	if r := <-res; string(r.Payload) != `"abc"` || r.Failed {
		t.Fatalf("result %+v", r)
	}
	if resp, _ := recv(t, br); resp.StatusCode != http.StatusAccepted {
		t.Fatalf("response: %d", resp.StatusCode)
	}
	if resp, body := recv(t, br); resp.StatusCode != 200 || body != "pong" {
		t.Fatalf("pipelined ping: %d %q", resp.StatusCode, body)
	}
}

func TestExpectContinue(t *testing.T) {
	s, nc, br := dial(t)
	res := invokeAsync(s, "r1", `{}`)
	send(t, nc, "GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\n\r\n")
	recv(t, br)
	send(t, nc, "POST /2018-06-01/runtime/invocation/r1/error HTTP/1.1\r\nContent-Length: 2\r\nExpect: 100-continue\r\n"+
		HeaderErrorType+": Function.X\r\n\r\n")
	line, _ := br.ReadString('\n')
	blank, _ := br.ReadString('\n')
	if line != "HTTP/1.1 100 Continue\r\n" || blank != "\r\n" {
		t.Fatalf("want 100 Continue, got %q %q", line, blank)
	}
	send(t, nc, "{}")
	if r := <-res; !r.Failed || r.ErrorType != "Function.X" || string(r.Payload) != "{}" {
		t.Fatalf("result %+v", r)
	}
	if resp, _ := recv(t, br); resp.StatusCode != http.StatusAccepted {
		t.Fatalf("status %d", resp.StatusCode)
	}
}

// TestBadRequests: requests the server refuses get an HTTP error and a
// closed connection, and change no state.
func TestBadRequests(t *testing.T) {
	for name, tc := range map[string]struct {
		raw    string
		status int
	}{
		"garbage":             {"hello\r\n\r\n", 400},
		"no target slash":     {"GET x HTTP/1.1\r\n\r\n", 400},
		"http2":               {"GET / HTTP/2.0\r\n\r\n", 505},
		"header without name": {"GET / HTTP/1.1\r\n: x\r\n\r\n", 400},
		"folded header":       {"GET / HTTP/1.1\r\nA: b\r\n c\r\n\r\n", 400},
		"space before colon":  {"GET / HTTP/1.1\r\nA : b\r\n\r\n", 400},
		"bad length":          {"POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 400},
		"two lengths":         {"POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 400},
		"length and chunked":  {"POST / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n", 400},
		"gzip coding":         {"POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", 501},
		"long line":           {"GET /" + strings.Repeat("a", readBufSize) + " HTTP/1.1\r\n\r\n", 431},
		"head too large":      {"GET / HTTP/1.1\r\n" + strings.Repeat("A: "+strings.Repeat("b", 1000)+"\r\n", 70) + "\r\n", 431},
	} {
		t.Run(name, func(t *testing.T) {
			s, nc, br := dial(t)
			send(t, nc, tc.raw)
			resp, body := recv(t, br)
			if resp.StatusCode != tc.status || !resp.Close || !strings.Contains(body, "InvalidRequest") {
				t.Fatalf("status %d close %v body %q, want %d and close", resp.StatusCode, resp.Close, body, tc.status)
			}
			if err := closed(br); err != nil {
				t.Fatal(err)
			}
			select {
			case <-s.Ready():
				t.Fatal("a refused request made the runtime ready")
			default:
			}
		})
	}
}

// TestUnknownPathKeepsConnection: a 404 drops the request's body and the
// connection serves the next request.
func TestUnknownPathKeepsConnection(t *testing.T) {
	_, nc, br := dial(t)
	send(t, nc, "POST /nope HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello"+"GET /ping HTTP/1.1\r\n\r\n")
	if resp, body := recv(t, br); resp.StatusCode != 404 || !strings.Contains(body, "InvalidURL") {
		t.Fatalf("404: %d %q", resp.StatusCode, body)
	}
	if resp, body := recv(t, br); resp.StatusCode != 200 || body != "pong" {
		t.Fatalf("after 404: %d %q", resp.StatusCode, body)
	}
}

func TestHTTP10ClosesAfterOneRequest(t *testing.T) {
	_, nc, br := dial(t)
	send(t, nc, "GET /ping HTTP/1.0\r\n\r\n")
	if resp, body := recv(t, br); resp.StatusCode != 200 || body != "pong" || !resp.Close {
		t.Fatalf("ping: %d %q close=%v", resp.StatusCode, body, resp.Close)
	}
	if err := closed(br); err != nil {
		t.Fatal(err)
	}
}

// TestNextAbandoned: a runtime that closes its connection while it waits
// for an event no longer counts as waiting, and the event goes to the
// runtime's next request instead.
func TestNextAbandoned(t *testing.T) {
	s, nc, _ := dial(t)
	send(t, nc, "GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\n\r\n")
	select {
	case <-s.Waiting():
	case <-time.After(5 * time.Second):
		t.Fatal("not waiting")
	}
	_ = nc.Close()
	deadline := time.Now().Add(5 * time.Second)
	for {
		select {
		case <-s.Waiting():
			if time.Now().After(deadline) {
				t.Fatal("still waiting after the connection closed")
			}
			time.Sleep(time.Millisecond)
			continue
		default:
		}
		break
	}
	res := invokeAsync(s, "r2", `{}`)
	resp, err := http.Get("http://" + nc.RemoteAddr().String() + pathNext)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if id := resp.Header.Get(HeaderRequestID); id != "r2" {
		t.Fatalf("next after reconnect got %q", id)
	}
	if _, err := http.Post("http://"+nc.RemoteAddr().String()+pathInvoke+"r2/response", "application/json", strings.NewReader("1")); err != nil {
		t.Fatal(err)
	}
	if r := <-res; string(r.Payload) != "1" {
		t.Fatalf("result %+v", r)
	}
}

// FuzzReadRequest checks the request parser against net/http: it never
// panics, and a request both accept has the same method, path, body
// framing and body.
func FuzzReadRequest(f *testing.F) {
	for _, seed := range []string{
		"GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: x\r\n\r\n",
		"POST /2018-06-01/runtime/invocation/abc/response HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc",
		"POST /2018-06-01/runtime/invocation/abc/error HTTP/1.1\r\nTransfer-Encoding: chunked\r\nLambda-Runtime-Function-Error-Type: X\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
		"POST /x?q=1 HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 0\r\n\r\n",
		"\r\nGET / HTTP/1.1\r\nConnection: close\r\n\r\n",
		"GET / HTTP/1.1\r\nA: b\r\n c\r\n\r\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		req, err := readRequest(bufio.NewReaderSize(bytes.NewReader(data), readBufSize))
		if err != nil {
			return
		}
		std, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(data)))
		if err != nil {
			return // we are more lenient in places (e.g. a missing Host)
		}
		if std.Method != req.method {
			t.Fatalf("method %q, net/http %q", req.method, std.Method)
		}
		if p, _, _ := strings.Cut(std.RequestURI, "?"); p != req.path {
			t.Fatalf("path %q, net/http %q", req.path, p)
		}
		chunked := len(std.TransferEncoding) > 0
		if chunked != (req.contentLength < 0) || (!chunked && std.ContentLength != req.contentLength) {
			t.Fatalf("framing: length %d, net/http length %d encoding %v", req.contentLength, std.ContentLength, std.TransferEncoding)
		}
	})
}

// TestDirectDelivery: with the runtime waiting in next, Invoke writes the
// event itself; a second Invoke meanwhile is refused (ErrBusy), and Close
// ends a waiting Invoke with ErrClosed.
func TestDirectDelivery(t *testing.T) {
	s, nc, br := dial(t)
	send(t, nc, "GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\n\r\n")
	<-s.Waiting()
	res := invokeAsync(s, "d1", `"x"`)
	resp, body := recv(t, br)
	if resp.StatusCode != 200 || body != `"x"` || resp.Header.Get(HeaderRequestID) != "d1" {
		t.Fatalf("next: %d %q", resp.StatusCode, body)
	}
	if _, err := s.Invoke(context.Background(), &Invocation{RequestID: "d2"}, nil); !errors.Is(err, ErrBusy) {
		t.Fatalf("second invoke: %v, want ErrBusy", err)
	}
	send(t, nc, "POST /2018-06-01/runtime/invocation/d1/response HTTP/1.1\r\nContent-Length: 1\r\n\r\n1")
	if r := <-res; string(r.Payload) != "1" {
		t.Fatalf("result %+v", r)
	}
	recv(t, br)
	send(t, nc, "GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\n\r\n")
	<-s.Waiting()
	errc := make(chan error, 1)
	go func() {
		_, err := s.Invoke(context.Background(), &Invocation{RequestID: "d3", Deadline: time.Now().Add(time.Minute)}, nil)
		errc <- err
	}()
	recv(t, br) // d3 delivered; the runtime never answers
	_ = s.Close()
	if err := <-errc; !errors.Is(err, ErrClosed) {
		t.Fatalf("invoke across Close: %v, want ErrClosed", err)
	}
}

// TestErrorTrailers: a chunked response whose production failed midway
// carries the error in trailers (aws-lambda-go sends them); the error
// replaces the partial body.
func TestErrorTrailers(t *testing.T) {
	s, nc, br := dial(t)
	res := invokeAsync(s, "t1", `{}`)
	send(t, nc, "GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\n\r\n")
	recv(t, br)
	errBody := base64.StdEncoding.EncodeToString([]byte(`{"errorMessage":"stream broke","errorType":"Broken"}`))
	send(t, nc, "POST /2018-06-01/runtime/invocation/t1/response HTTP/1.1\r\nTransfer-Encoding: chunked\r\n"+
		"Trailer: Lambda-Runtime-Function-Error-Type, Lambda-Runtime-Function-Error-Body\r\n\r\n"+
		"4\r\npart\r\n0\r\nLambda-Runtime-Function-Error-Type: Broken\r\nLambda-Runtime-Function-Error-Body: "+errBody+"\r\n\r\n")
	r := <-res
	if !r.Failed || r.ErrorType != "Broken" || string(r.Payload) != `{"errorMessage":"stream broke","errorType":"Broken"}` {
		t.Fatalf("result %+v %q", r, r.Payload)
	}
	if resp, _ := recv(t, br); resp.StatusCode != http.StatusAccepted {
		t.Fatalf("status %d", resp.StatusCode)
	}
}

// FuzzReadChunked checks readChunked against net/http/httputil's chunked
// reader: it never panics, accepts what httputil accepts, and reads the
// same data.
func FuzzReadChunked(f *testing.F) {
	for _, seed := range []string{
		"0\r\n\r\n",
		"3\r\nabc\r\n0\r\n\r\n",
		"3;ext=1\r\nabc\r\n2 \r\nde\r\n0\r\nX-Trailer: 1\r\n\r\n",
		"A\nabcdefghij\r\n0\n\n",
		"ffffffffffffffff\r\n",
		"3\r\nabcX0\r\n\r\n",
	} {
		f.Add([]byte(seed), uint16(2))
	}
	f.Fuzz(func(t *testing.T, data []byte, keep uint16) {
		got, n, err := readChunked(bufio.NewReaderSize(bytes.NewReader(data), 64), int64(keep), 1<<20)
		want, wantErr := io.ReadAll(httputil.NewChunkedReader(bufio.NewReaderSize(bytes.NewReader(data), 64)))
		if (err != nil) != (wantErr != nil) {
			t.Fatalf("error %v, httputil %v", err, wantErr)
		}
		if err != nil {
			return
		}
		if n != int64(len(want)) {
			t.Fatalf("size %d, httputil %d", n, len(want))
		}
		if n <= int64(keep) && !bytes.Equal(got, want) {
			t.Fatalf("data %q, httputil %q", got, want)
		}
		if n > int64(keep) && got != nil {
			t.Fatalf("kept %d bytes over the limit %d", len(got), keep)
		}
	})
}
