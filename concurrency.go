package stratus

import (
	"context"
	"time"
)

// MinUnreservedConcurrency is how much of the account's concurrency must
// stay unreserved: reserved concurrency, and provisioned concurrency of
// functions without a reservation, may not take more.
const MinUnreservedConcurrency = 100

// UnreservedMinimum is the unreserved minimum of an account whose
// concurrency is account: MinUnreservedConcurrency, or all of it for an
// account below that (as AWS's new accounts with a low quota, where
// nothing can be reserved).
func UnreservedMinimum(account int) int {
	return min(MinUnreservedConcurrency, account)
}

// ConcurrencyConfig is an account's concurrency settings: the reserved
// concurrency of functions and the provisioned concurrency of function
// versions and aliases. It is one document so that the account-wide
// invariant (at least MinUnreservedConcurrency stays unreserved) is
// checked and stored atomically.
type ConcurrencyConfig struct {
	// Reserved maps a function name to its reserved concurrency; absent
	// means none. 0 disables the function.
	Reserved map[string]int `json:"reserved,omitempty"`
	// Provisioned maps a function name, then a qualifier (a version
	// number or an alias name, never $LATEST), to its configuration.
	Provisioned map[string]map[string]ProvisionedConfig `json:"provisioned,omitempty"`
}

// ProvisionedConfig is the provisioned concurrency requested for one
// function version or alias.
type ProvisionedConfig struct {
	Requested    int       `json:"requested"`
	LastModified time.Time `json:"lastModified"`
}

// ReservedFor returns the reserved concurrency of function name; ok is
// false when it has none.
func (c *ConcurrencyConfig) ReservedFor(name string) (n int, ok bool) {
	if c == nil {
		return 0, false
	}
	n, ok = c.Reserved[name]
	return n, ok
}

// ProvisionedFor returns the total provisioned concurrency requested for
// the versions and aliases of function name.
func (c *ConcurrencyConfig) ProvisionedFor(name string) int {
	if c == nil {
		return 0
	}
	n := 0
	for _, p := range c.Provisioned[name] {
		n += p.Requested
	}
	return n
}

// Committed is how much of the account's concurrency the settings set
// aside: every reservation, plus the provisioned concurrency of functions
// without a reservation (a reservation already covers its function's
// provisioned concurrency).
func (c *ConcurrencyConfig) Committed() int {
	if c == nil {
		return 0
	}
	n := 0
	for _, r := range c.Reserved {
		n += r
	}
	for name := range c.Provisioned {
		if _, ok := c.Reserved[name]; !ok {
			n += c.ProvisionedFor(name)
		}
	}
	return n
}

// TotalReserved is the sum of every function's reserved concurrency.
func (c *ConcurrencyConfig) TotalReserved() int {
	if c == nil {
		return 0
	}
	n := 0
	for _, r := range c.Reserved {
		n += r
	}
	return n
}

// Clone returns a deep copy of c (an empty config for nil).
func (c *ConcurrencyConfig) Clone() *ConcurrencyConfig {
	out := &ConcurrencyConfig{}
	if c == nil {
		return out
	}
	if len(c.Reserved) > 0 {
		out.Reserved = make(map[string]int, len(c.Reserved))
		for k, v := range c.Reserved {
			out.Reserved[k] = v
		}
	}
	if len(c.Provisioned) > 0 {
		out.Provisioned = make(map[string]map[string]ProvisionedConfig, len(c.Provisioned))
		for fn, qs := range c.Provisioned {
			m := make(map[string]ProvisionedConfig, len(qs))
			for q, p := range qs {
				m[q] = p
			}
			out.Provisioned[fn] = m
		}
	}
	return out
}

// ConcurrencyService stores the account's concurrency settings durably.
// Reads are served from a node-local cache that follows the durable
// store; a node reads its own writes.
type ConcurrencyService interface {
	// Concurrency returns a copy of the current settings (never nil).
	Concurrency(ctx context.Context) (*ConcurrencyConfig, error)
	// UpdateConcurrency applies update to a copy of the current settings
	// and stores the result atomically (compare-and-swap, retried on
	// races), returning what was stored. If update returns an error
	// nothing is stored and that error is returned. update may run more
	// than once.
	UpdateConcurrency(ctx context.Context, update func(*ConcurrencyConfig) error) (*ConcurrencyConfig, error)
}

// ProvisionedAllocation is how far the provisioned concurrency of one
// version or alias is allocated: how many environments are initialised
// and ready, and the configuration's status (IN_PROGRESS, READY, FAILED)
// with the reason of a failure.
type ProvisionedAllocation struct {
	Allocated    int
	Available    int
	Status       string
	StatusReason string
}
