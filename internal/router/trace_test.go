package router

import (
	"regexp"
	"strconv"
	"testing"
	"time"
)

func TestNewTraceIDFormat(t *testing.T) {
	re := regexp.MustCompile(`^Root=1-[0-9a-f]{8}-[0-9a-f]{24};Parent=[0-9a-f]{16};Sampled=0$`)
	id := newTraceID()
	if !re.MatchString(id) {
		t.Fatalf("trace id %q", id)
	}
	if ts, _ := strconv.ParseInt(id[7:15], 16, 64); time.Since(time.Unix(ts, 0)).Abs() > time.Minute {
		t.Fatalf("trace id %q: epoch %d is not now", id, ts)
	}
	if newTraceID() == id {
		t.Fatal("two trace ids are equal")
	}
}
