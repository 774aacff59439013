package mock

import (
	"context"
	"sync"

	"github.com/stratus-dev/stratus"
)

var _ stratus.ConcurrencyService = (*MemoryConcurrencyService)(nil)

// MemoryConcurrencyService is an in-memory stratus.ConcurrencyService.
// The zero value holds empty settings.
type MemoryConcurrencyService struct {
	mu  sync.Mutex
	cfg *stratus.ConcurrencyConfig // mu guards cfg
}

// Concurrency returns a copy of the settings.
func (s *MemoryConcurrencyService) Concurrency(context.Context) (*stratus.ConcurrencyConfig, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cfg.Clone(), nil
}

// UpdateConcurrency applies update to a copy and keeps it unless update
// fails.
func (s *MemoryConcurrencyService) UpdateConcurrency(_ context.Context, update func(*stratus.ConcurrencyConfig) error) (*stratus.ConcurrencyConfig, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.cfg.Clone()
	if err := update(c); err != nil {
		return nil, err
	}
	s.cfg = c.Clone()
	return c, nil
}
