package router

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"github.com/stratus-dev/stratus"
)

// Layers are unpacked like function code (each package once, by code key)
// and then merged, in the function's order, into one directory per
// ordered set of packages: <CodeDir>/opt/<hex sha256 of the keys>. Later
// layers overwrite earlier files, as on AWS. The merged directory holds
// hard links to the unpacked packages (copies where linking fails), is
// built in a temporary directory and renamed into place, and is shown
// read-only at /opt.

// layerSetKey names the merged directory of an ordered set of layers.
func layerSetKey(layers []stratus.FunctionLayer) string {
	h := sha256.New()
	for _, l := range layers {
		io.WriteString(h, l.Code.Key)
		h.Write([]byte{'\n'})
	}
	return hex.EncodeToString(h.Sum(nil))
}

// optDir returns the merged directory of layers ("" for none), building
// it once; concurrent callers share one build. After the first success
// it answers from memory, without touching the disk.
func (c *codeCache) optDir(ctx context.Context, layers []stratus.FunctionLayer) (string, error) {
	if len(layers) == 0 {
		return "", nil
	}
	key := layerSetKey(layers)
	d := filepath.Join(c.root, "opt", key)
	if _, ok := c.opt.Load(key); ok {
		return d, nil
	}
	c.mu.Lock()
	f, ok := c.inflight["opt/"+key]
	if !ok {
		f = &codeFetch{done: make(chan struct{})}
		c.inflight["opt/"+key] = f
		go func() {
			f.err = c.buildOpt(context.WithoutCancel(ctx), layers, d)
			if f.err == nil {
				c.opt.Store(key, true)
			}
			close(f.done)
			c.mu.Lock()
			delete(c.inflight, "opt/"+key)
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

// optPath returns the merged directory of layers once optDir has built
// it, and "" otherwise.
func (c *codeCache) optPath(layers []stratus.FunctionLayer) string {
	if len(layers) == 0 {
		return ""
	}
	key := layerSetKey(layers)
	if _, ok := c.opt.Load(key); !ok {
		return ""
	}
	return filepath.Join(c.root, "opt", key)
}

// buildOpt unpacks each layer and merges them into d.
func (c *codeCache) buildOpt(ctx context.Context, layers []stratus.FunctionLayer, d string) error {
	if fi, err := os.Stat(d); err == nil && fi.IsDir() {
		return nil // built by an earlier run of the server
	}
	srcs := make([]string, len(layers))
	for i, l := range layers {
		dir, err := c.dir(ctx, l.Code.Key)
		if err != nil {
			return fmt.Errorf("unpacking layer %s: %w", l.ARN, err)
		}
		srcs[i] = dir
	}
	if err := os.MkdirAll(filepath.Dir(d), 0o755); err != nil {
		return fmt.Errorf("creating layer cache: %w", err)
	}
	tmp, err := os.MkdirTemp(filepath.Dir(d), "."+filepath.Base(d)+".tmp-")
	if err != nil {
		return fmt.Errorf("creating layer directory: %w", err)
	}
	defer os.RemoveAll(tmp) // a no-op once renamed
	for i, src := range srcs {
		if err := overlay(tmp, src); err != nil {
			return fmt.Errorf("merging layer %s: %w", layers[i].ARN, err)
		}
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return fmt.Errorf("merging layers: %w", err)
	}
	if err := syscall.Rename(tmp, d); err != nil {
		if errors.Is(err, syscall.EEXIST) || errors.Is(err, syscall.ENOTEMPTY) {
			return nil // another server process built it meanwhile
		}
		return fmt.Errorf("merging layers: %w", err)
	}
	return nil
}

// overlay copies the tree src into dst, replacing what is in the way:
// a file, link or directory of dst at a path src has a file or link at is
// removed; a file or link where src has a directory is replaced by a
// directory. Directories are visited before their contents and are
// always real directories in dst, so nothing is ever written through a
// symbolic link. Files are hard-linked where possible.
func overlay(dst, src string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil || rel == "." {
			return err
		}
		target := filepath.Join(dst, rel)
		fi, lerr := os.Lstat(target)
		exists := lerr == nil
		switch {
		case d.IsDir():
			if exists && fi.IsDir() {
				return nil
			}
			if exists {
				if err := os.RemoveAll(target); err != nil {
					return err
				}
			}
			return os.Mkdir(target, 0o755)
		case d.Type()&fs.ModeSymlink != 0:
			if exists {
				if err := os.RemoveAll(target); err != nil {
					return err
				}
			}
			link, err := os.Readlink(p)
			if err != nil {
				return err
			}
			return os.Symlink(link, target)
		case d.Type().IsRegular():
			if exists {
				if err := os.RemoveAll(target); err != nil {
					return err
				}
			}
			if err := os.Link(p, target); err == nil {
				return nil
			}
			return copyFile(p, target)
		}
		return nil // nothing else is unpacked from a package
	})
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	fi, err := in.Stat()
	if err != nil {
		return err
	}
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, fi.Mode().Perm())
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
