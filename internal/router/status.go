package router

import (
	"context"
	"sort"
	"strings"
	"time"
)

// Status is a snapshot of the router: the account's concurrency, the
// memory budget and, per function, its environments by state, its
// concurrency in use against its limit and the readiness of its
// provisioned concurrency. The server serves it as JSON at
// /_stratus/status (see cmd/stratus), which `stratus status` prints.
type Status struct {
	Account      AccountStatus    `json:"account"`
	Memory       MemoryStatus     `json:"memory"`
	Environments map[string]int   `json:"environments"` // by state: initializing, idle, busy, frozen
	Functions    []FunctionStatus `json:"functions"`
}

// AccountStatus is the account's concurrency.
type AccountStatus struct {
	ConcurrencyLimit int `json:"concurrencyLimit"`
	// UnreservedLimit is what functions without a reservation share
	// beyond their provisioned concurrency.
	UnreservedLimit int `json:"unreservedLimit"`
	InUse           int `json:"inUse"`
	UnreservedInUse int `json:"unreservedInUse"`
}

// MemoryStatus is the memory budget for environments, in MB.
type MemoryStatus struct {
	BudgetMB int `json:"budgetMB"`
	UsedMB   int `json:"usedMB"`
	FreeMB   int `json:"freeMB"`
}

// FunctionStatus is one function's concurrency and environments.
type FunctionStatus struct {
	Name string `json:"name"`
	// ReservedConcurrency is the function's reservation, nil when it has
	// none.
	ReservedConcurrency *int `json:"reservedConcurrency,omitempty"`
	// ConcurrencyLimit is the most invocations it can run at once now: its
	// reservation, or its provisioned concurrency plus the unreserved
	// pool.
	ConcurrencyLimit int                 `json:"concurrencyLimit"`
	InUse            int                 `json:"inUse"`
	Environments     map[string]int      `json:"environments"`
	Provisioned      []ProvisionedStatus `json:"provisioned,omitempty"`
}

// ProvisionedStatus is the state of one provisioned concurrency
// configuration.
type ProvisionedStatus struct {
	Function     string    `json:"function"`
	Qualifier    string    `json:"qualifier"`
	Requested    int       `json:"requested"`
	Allocated    int       `json:"allocated"` // initialised environments
	Idle         int       `json:"idle"`      // of which idle (or frozen) now
	Status       string    `json:"status"`
	StatusReason string    `json:"statusReason,omitempty"`
	LastModified time.Time `json:"lastModified"`
}

// snapshotData is what the router's lock protects, copied.
type snapshotData struct {
	total     [numStates]int
	byFn      map[string]*[numStates]int
	inFlight  int
	pooled    int
	memUsedMB int
	budgetMB  int
	limits    limits
	fnInUse   map[string]int
	prov      []ProvisionedStatus
}

func (r *Router) snapshot() snapshotData {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := snapshotData{
		byFn:      map[string]*[numStates]int{},
		inFlight:  r.inFlight,
		pooled:    r.pooled,
		memUsedMB: r.memUsed,
		budgetMB:  r.cfg.MemoryBudgetMB,
		limits:    r.limits,
		fnInUse:   map[string]int{},
	}
	s.total[stateInit] = r.starting
	for e := range r.live {
		st := envState(e.state.Load())
		s.total[st]++
		name, _, _ := strings.Cut(e.key, ":")
		c := s.byFn[name]
		if c == nil {
			c = new([numStates]int)
			s.byFn[name] = c
		}
		c[st]++
	}
	for name, fs := range r.fnStates {
		if fs.inFlight > 0 {
			s.fnInUse[name] = fs.inFlight
		}
	}
	for k, p := range r.prov {
		allocated, idle := p.allocatedLocked()
		s.prov = append(s.prov, ProvisionedStatus{
			Function: k.function, Qualifier: k.qualifier, Requested: p.requested,
			Allocated: allocated, Idle: idle, Status: p.status, StatusReason: p.reason,
			LastModified: p.lastModified,
		})
	}
	sort.Slice(s.prov, func(i, j int) bool {
		a, b := s.prov[i], s.prov[j]
		return a.Function < b.Function || a.Function == b.Function && a.Qualifier < b.Qualifier
	})
	return s
}

// Status returns a snapshot of the router, listing every function the
// function service knows and any other that has environments.
func (r *Router) Status(ctx context.Context) (*Status, error) {
	fns, err := r.fns.Functions(ctx)
	if err != nil {
		return nil, err
	}
	s := r.snapshot()
	st := &Status{
		Account: AccountStatus{
			ConcurrencyLimit: s.limits.account,
			UnreservedLimit:  max(s.limits.pool, 0),
			InUse:            s.inFlight,
			UnreservedInUse:  s.pooled,
		},
		Memory:       MemoryStatus{BudgetMB: s.budgetMB, UsedMB: s.memUsedMB, FreeMB: max(s.budgetMB-s.memUsedMB, 0)},
		Environments: states(&s.total),
		Functions:    []FunctionStatus{},
	}
	names := map[string]bool{}
	for _, fn := range fns {
		names[fn.Name] = true
	}
	for name := range s.byFn {
		names[name] = true
	}
	for name := range s.limits.reserved {
		names[name] = true
	}
	sorted := make([]string, 0, len(names))
	for name := range names {
		sorted = append(sorted, name)
	}
	sort.Strings(sorted)
	for _, name := range sorted {
		f := FunctionStatus{Name: name, InUse: s.fnInUse[name], Environments: states(s.byFn[name])}
		if n, ok := s.limits.reserved[name]; ok {
			f.ReservedConcurrency = &n
			f.ConcurrencyLimit = n
		} else {
			f.ConcurrencyLimit = s.limits.provisioned[name] + max(s.limits.pool, 0)
		}
		for _, p := range s.prov {
			if p.Function == name {
				f.Provisioned = append(f.Provisioned, p)
			}
		}
		st.Functions = append(st.Functions, f)
	}
	return st, nil
}

func states(c *[numStates]int) map[string]int {
	m := make(map[string]int, numStates)
	for st := range numStates {
		n := 0
		if c != nil {
			n = c[st]
		}
		m[st.String()] = n
	}
	return m
}
