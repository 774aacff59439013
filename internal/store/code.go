package store

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stratus-dev/stratus"
)

// PutCode stores a deployment package under the hex SHA-256 of its bytes.
// When an object of that name and size exists the upload is skipped.
func (s *Store) PutCode(ctx context.Context, zip []byte) (stratus.Code, error) {
	sum := sha256.Sum256(zip)
	code := stratus.Code{
		Key:    hex.EncodeToString(sum[:]),
		Sha256: base64.StdEncoding.EncodeToString(sum[:]),
		Size:   int64(len(zip)),
	}
	info, err := s.obs.GetInfo(ctx, code.Key)
	if err == nil && !info.Deleted && int64(info.Size) == code.Size {
		return code, nil
	} else if err != nil && !errors.Is(err, jetstream.ErrObjectNotFound) {
		return stratus.Code{}, fmt.Errorf("looking up code %s: %w", code.Key, err)
	}
	if _, err := s.obs.PutBytes(ctx, code.Key, zip); err != nil {
		return stratus.Code{}, fmt.Errorf("storing code %s: %w", code.Key, err)
	}
	return code, nil
}

// GetCode returns the bytes of a stored package; ENOTFOUND if missing.
func (s *Store) GetCode(ctx context.Context, key string) ([]byte, error) {
	if !validCodeKey(key) {
		return nil, codeNotFound(key)
	}
	b, err := s.obs.GetBytes(ctx, key)
	if errors.Is(err, jetstream.ErrObjectNotFound) {
		return nil, codeNotFound(key)
	} else if err != nil {
		return nil, fmt.Errorf("reading code %s: %w", key, err)
	}
	return b, nil
}

func codeNotFound(key string) error {
	return stratus.Errorf(stratus.ENOTFOUND, "Code not found: %s", key)
}

// validCodeKey reports whether key looks like a lower-case hex SHA-256.
func validCodeKey(key string) bool {
	if len(key) != 64 {
		return false
	}
	for _, c := range []byte(key) {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}
