package router

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/stratus-dev/stratus"
	"github.com/stratus-dev/stratus/internal/pkgzip"
)

// codeCache unpacks deployment packages from the code store into
// directories named by code key, once per key, and merges layer packages
// into directories shown at /opt (layers.go).
type codeCache struct {
	root string
	fns  stratus.FunctionService

	mu       sync.Mutex
	inflight map[string]*codeFetch // mu guards inflight

	opt sync.Map // merged layer directories built so far: set key → true (layers.go)
}

type codeFetch struct {
	done chan struct{}
	err  error
}

func newCodeCache(root string, fns stratus.FunctionService) *codeCache {
	return &codeCache{root: root, fns: fns, inflight: make(map[string]*codeFetch)}
}

// dir returns the directory holding the unpacked package key.
func (c *codeCache) dir(ctx context.Context, key string) (string, error) {
	if !validKey(key) {
		return "", fmt.Errorf("invalid code key %q", key)
	}
	d := filepath.Join(c.root, key)
	if _, err := os.Stat(d); err == nil {
		return d, nil
	}
	c.mu.Lock()
	f, ok := c.inflight[key]
	if !ok {
		f = &codeFetch{done: make(chan struct{})}
		c.inflight[key] = f
		go func() {
			f.err = c.fetch(context.WithoutCancel(ctx), key, d)
			close(f.done)
			c.mu.Lock()
			delete(c.inflight, key)
			c.mu.Unlock()
		}()
	}
	c.mu.Unlock()
	select {
	case <-f.done:
		return d, f.err
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

func (c *codeCache) fetch(ctx context.Context, key, d string) error {
	if _, err := os.Stat(d); err == nil {
		return nil
	}
	zip, err := c.fns.GetCode(ctx, key)
	if err != nil {
		return fmt.Errorf("reading code %s: %w", key, err)
	}
	if err := os.MkdirAll(c.root, 0o755); err != nil {
		return fmt.Errorf("creating code cache: %w", err)
	}
	if err := pkgzip.Extract(zip, d, pkgzip.DefaultLimits()); err != nil {
		return fmt.Errorf("unpacking code %s: %w", key, err)
	}
	return nil
}

// validKey accepts only lower-case hex SHA-256 digests, so a key can never
// name a path outside the cache.
func validKey(k string) bool {
	if len(k) != 64 {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
