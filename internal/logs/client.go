package logs

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// Client calls the CloudWatch Logs API of a Stratus edge, as the stratus
// CLI does: it uses the public API only.
type Client struct {
	Endpoint string       // edge URL, e.g. http://127.0.0.1:4566
	HTTP     *http.Client // nil means http.DefaultClient
	// Sign, if set, is called on each request before it is sent (for
	// example to add SigV4 headers). The body is already set.
	Sign func(*http.Request) error
}

// APIError is an error response of the API.
type APIError struct {
	StatusCode int
	Code       string // e.g. ResourceNotFoundException
	Message    string
}

func (e *APIError) Error() string {
	return fmt.Sprintf("%s (HTTP %d): %s", e.Code, e.StatusCode, e.Message)
}

// FilterLogEvents calls FilterLogEvents.
func (c *Client) FilterLogEvents(ctx context.Context, req *FilterLogEventsRequest) (*FilterLogEventsResponse, error) {
	var out FilterLogEventsResponse
	if err := c.call(ctx, "FilterLogEvents", req, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

func (c *Client) call(ctx context.Context, op string, in, out any) error {
	body, err := json.Marshal(in)
	if err != nil {
		return fmt.Errorf("encoding %s request: %w", op, err)
	}
	r, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(c.Endpoint, "/")+"/", bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("creating %s request: %w", op, err)
	}
	r.Header.Set("Content-Type", contentType)
	r.Header.Set("X-Amz-Target", TargetPrefix+op)
	if c.Sign != nil {
		if err := c.Sign(r); err != nil {
			return fmt.Errorf("signing %s request: %w", op, err)
		}
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(r)
	if err != nil {
		return fmt.Errorf("calling %s: %w", op, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return fmt.Errorf("reading %s response: %w", op, err)
	}
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Type    string `json:"__type"`
			Message string `json:"message"`
		}
		_ = json.Unmarshal(b, &e)
		if e.Type == "" {
			e.Type = resp.Header.Get("X-Amzn-ErrorType")
		}
		if i := strings.LastIndexByte(e.Type, '#'); i >= 0 {
			e.Type = e.Type[i+1:]
		}
		return &APIError{StatusCode: resp.StatusCode, Code: e.Type, Message: e.Message}
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("decoding %s response: %w", op, err)
	}
	return nil
}

// Tail tuning: how often follow mode polls, and how far back each poll
// looks again so that events ingested late (batched, or from another
// node) are not missed. Events seen before are skipped by eventId.
const (
	tailPoll     = 500 * time.Millisecond
	tailLookback = 5 * time.Second
)

// Tail writes the message of every event of group since the given time
// to w, one line per event. With follow it keeps polling every 500 ms for
// new events until ctx ends (then it returns nil), and a group that does
// not exist yet is waited for.
func Tail(ctx context.Context, c *Client, group string, since time.Time, follow bool, w io.Writer) error {
	seen := make(map[string]int64) // eventId -> timestamp
	var from int64
	if !since.IsZero() {
		from = max(0, since.UnixMilli())
	}
	newest := from
	for {
		req := &FilterLogEventsRequest{LogGroupName: group, StartTime: from}
		for {
			resp, err := c.FilterLogEvents(ctx, req)
			if err != nil {
				if ctx.Err() != nil && follow {
					return nil
				}
				var ae *APIError
				if errors.As(err, &ae) && follow && ae.Code == "ResourceNotFoundException" {
					break
				}
				return fmt.Errorf("tailing %s: %w", group, err)
			}
			for _, e := range resp.Events {
				if _, dup := seen[e.EventID]; dup {
					continue
				}
				seen[e.EventID] = e.Timestamp
				newest = max(newest, e.Timestamp)
				line := e.Message
				if !strings.HasSuffix(line, "\n") {
					line += "\n"
				}
				if _, err := io.WriteString(w, line); err != nil {
					return fmt.Errorf("tailing %s: %w", group, err)
				}
			}
			if resp.NextToken == "" {
				break
			}
			req.NextToken = resp.NextToken
		}
		if !follow {
			return nil
		}
		from = max(from, newest-tailLookback.Milliseconds())
		for id, ts := range seen {
			if ts < from {
				delete(seen, id)
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(tailPoll):
		}
	}
}
