package mock

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"slices"
	"strings"
	"sync"

	"github.com/stratus-dev/stratus"
)

var _ stratus.FunctionService = (*MemoryFunctionService)(nil)

// MemoryFunctionService is an in-memory stratus.FunctionService,
// stratus.VersionService and stratus.LayerService. It copies
// functions in and out, as the durable store does, so callers may mutate
// what they pass or get. The zero value is not usable; call
// NewMemoryFunctionService.
type MemoryFunctionService struct {
	mu   sync.Mutex
	code map[string][]byte            // mu guards code
	fns  map[string]*stratus.Function // mu guards fns
	vs   versionState                 // mu guards vs: versions, aliases, layers
}

// NewMemoryFunctionService returns an empty store.
func NewMemoryFunctionService() *MemoryFunctionService {
	return &MemoryFunctionService{
		code: make(map[string][]byte),
		fns:  make(map[string]*stratus.Function),
	}
}

// PutCode stores zip under the hex SHA-256 of its bytes.
func (s *MemoryFunctionService) PutCode(_ context.Context, zip []byte) (stratus.Code, error) {
	sum := sha256.Sum256(zip)
	c := stratus.Code{
		Key:    hex.EncodeToString(sum[:]),
		Sha256: base64.StdEncoding.EncodeToString(sum[:]),
		Size:   int64(len(zip)),
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.code[c.Key]; !ok {
		s.code[c.Key] = slices.Clone(zip)
	}
	return c, nil
}

// GetCode returns the stored bytes, or ENOTFOUND.
func (s *MemoryFunctionService) GetCode(_ context.Context, key string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.code[key]
	if !ok {
		return nil, stratus.Errorf(stratus.ENOTFOUND, "Code not found: %s", key)
	}
	return slices.Clone(b), nil
}

// CodeKeys returns the keys of every stored package, sorted.
func (s *MemoryFunctionService) CodeKeys() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	keys := make([]string, 0, len(s.code))
	for k := range s.code {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// CreateFunction stores a copy of fn, or returns ECONFLICT.
func (s *MemoryFunctionService) CreateFunction(_ context.Context, fn *stratus.Function) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.fns[fn.Name]; ok {
		return stratus.Errorf(stratus.ECONFLICT, "Function already exist: %s", fn.Name)
	}
	s.fns[fn.Name] = fn.Clone()
	return nil
}

// Function returns a copy of the named function, or ENOTFOUND.
func (s *MemoryFunctionService) Function(_ context.Context, name string) (*stratus.Function, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fn, ok := s.fns[name]
	if !ok {
		return nil, stratus.Errorf(stratus.ENOTFOUND, "Function not found: %s", name)
	}
	return fn.Clone(), nil
}

// Functions returns copies of every function, sorted by name.
func (s *MemoryFunctionService) Functions(_ context.Context) ([]*stratus.Function, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*stratus.Function, 0, len(s.fns))
	for _, fn := range s.fns {
		out = append(out, fn.Clone())
	}
	slices.SortFunc(out, func(a, b *stratus.Function) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// UpdateFunction applies update to a copy and stores it unless update fails.
func (s *MemoryFunctionService) UpdateFunction(_ context.Context, name string, update func(*stratus.Function) error) (*stratus.Function, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fn, ok := s.fns[name]
	if !ok {
		return nil, stratus.Errorf(stratus.ENOTFOUND, "Function not found: %s", name)
	}
	c := fn.Clone()
	if err := update(c); err != nil {
		return nil, err
	}
	s.fns[name] = c
	return c.Clone(), nil
}

// DeleteFunction removes the function, or returns ENOTFOUND.
func (s *MemoryFunctionService) DeleteFunction(_ context.Context, name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.fns[name]; !ok {
		return stratus.Errorf(stratus.ENOTFOUND, "Function not found: %s", name)
	}
	delete(s.fns, name)
	s.vs.deleteVersionsLocked(name)
	return nil
}
