package mock

import (
	"context"
	"slices"
	"strconv"
	"strings"

	"github.com/stratus-dev/stratus"
)

var (
	_ stratus.VersionService = (*MemoryFunctionService)(nil)
	_ stratus.LayerService   = (*MemoryFunctionService)(nil)
)

// versionState holds what MemoryFunctionService stores besides $LATEST;
// MemoryFunctionService.mu guards it.
type versionState struct {
	versions      map[string]*stratus.Function     // "name:n"
	aliases       map[string]*stratus.Alias        // "name:alias"
	layers        map[string]*stratus.LayerVersion // "layer:n"
	layerCounters map[string]int64
}

func (st *versionState) initLocked() {
	if st.versions == nil {
		st.versions = make(map[string]*stratus.Function)
		st.aliases = make(map[string]*stratus.Alias)
		st.layers = make(map[string]*stratus.LayerVersion)
		st.layerCounters = make(map[string]int64)
	}
}

func fnNotFound(name string) error {
	return stratus.Errorf(stratus.ENOTFOUND, "Function not found: %s", name)
}

// deleteVersionsLocked drops every version and alias of name.
func (st *versionState) deleteVersionsLocked(name string) {
	st.initLocked()
	for k := range st.versions {
		if strings.HasPrefix(k, name+":") {
			delete(st.versions, k)
		}
	}
	for k := range st.aliases {
		if strings.HasPrefix(k, name+":") {
			delete(st.aliases, k)
		}
	}
}

// PublishVersion publishes $LATEST as the next version unless nothing
// changed since the last published version that still exists.
func (s *MemoryFunctionService) PublishVersion(_ context.Context, name string, update func(*stratus.Function) error,
	snapshot func(*stratus.Function)) (*stratus.Function, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.vs.initLocked()
	cur, ok := s.fns[name]
	if !ok {
		return nil, false, fnNotFound(name)
	}
	fn := cur.Clone()
	if update != nil {
		if err := update(fn); err != nil {
			return nil, false, err
		}
		fn.Name = name
	}
	if fn.LastPublished > 0 && fn.PublishedRevision == fn.RevisionID {
		if v, ok := s.vs.versions[name+":"+strconv.Itoa(fn.LastPublished)]; ok {
			return v.Clone(), false, nil
		}
	} else {
		fn.LastPublished++
		fn.PublishedRevision = fn.RevisionID
		s.fns[name] = fn
	}
	v := fn.Clone()
	v.Version = strconv.Itoa(fn.LastPublished)
	v.LastPublished = 0
	v.Tags = nil
	if snapshot != nil {
		snapshot(v)
	}
	v.Name, v.Version, v.PublishedRevision = name, strconv.Itoa(fn.LastPublished), fn.PublishedRevision
	s.vs.versions[name+":"+v.Version] = v
	return v.Clone(), true, nil
}

// Version returns a copy of a published version, or ENOTFOUND.
func (s *MemoryFunctionService) Version(_ context.Context, name, version string) (*stratus.Function, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.vs.initLocked()
	if _, ok := s.fns[name]; !ok {
		return nil, fnNotFound(name)
	}
	v, ok := s.vs.versions[name+":"+version]
	if !ok {
		return nil, fnNotFound(name + ":" + version)
	}
	return v.Clone(), nil
}

// Versions returns copies of the published versions, oldest first.
func (s *MemoryFunctionService) Versions(_ context.Context, name string) ([]*stratus.Function, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.vs.initLocked()
	if _, ok := s.fns[name]; !ok {
		return nil, fnNotFound(name)
	}
	var out []*stratus.Function
	for k, v := range s.vs.versions {
		if strings.HasPrefix(k, name+":") {
			out = append(out, v.Clone())
		}
	}
	slices.SortFunc(out, func(a, b *stratus.Function) int {
		x, _ := strconv.Atoi(a.Version)
		y, _ := strconv.Atoi(b.Version)
		return x - y
	})
	return out, nil
}

// DeleteVersion deletes a version unless an alias routes to it.
func (s *MemoryFunctionService) DeleteVersion(_ context.Context, name, version string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.vs.initLocked()
	fn, ok := s.fns[name]
	if !ok {
		return fnNotFound(name)
	}
	if _, ok := s.vs.versions[name+":"+version]; !ok {
		return fnNotFound(name + ":" + version)
	}
	var refs []string
	for k, a := range s.vs.aliases {
		if _, w := a.AdditionalVersionWeights[version]; strings.HasPrefix(k, name+":") && (a.FunctionVersion == version || w) {
			refs = append(refs, a.Name)
		}
	}
	if len(refs) > 0 {
		slices.Sort(refs)
		return stratus.Errorf(stratus.ECONFLICT, "Unable to delete version because the following aliases reference it: [%s]", strings.Join(refs, ", "))
	}
	if strconv.Itoa(fn.LastPublished) == version {
		fn.PublishedRevision = ""
	}
	delete(s.vs.versions, name+":"+version)
	return nil
}

// CreateAlias stores a copy of a, or returns ECONFLICT / ENOTFOUND.
func (s *MemoryFunctionService) CreateAlias(_ context.Context, a *stratus.Alias) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.vs.initLocked()
	if _, ok := s.fns[a.FunctionName]; !ok {
		return fnNotFound(a.FunctionName)
	}
	key := a.FunctionName + ":" + a.Name
	if _, ok := s.vs.aliases[key]; ok {
		return stratus.Errorf(stratus.ECONFLICT, "Alias already exists: %s", key)
	}
	s.vs.aliases[key] = a.Clone()
	return nil
}

// Alias returns a copy of an alias, or ENOTFOUND.
func (s *MemoryFunctionService) Alias(_ context.Context, fn, name string) (*stratus.Alias, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.vs.initLocked()
	if _, ok := s.fns[fn]; !ok {
		return nil, fnNotFound(fn)
	}
	a, ok := s.vs.aliases[fn+":"+name]
	if !ok {
		return nil, stratus.Errorf(stratus.ENOTFOUND, "Alias not found: %s:%s", fn, name)
	}
	return a.Clone(), nil
}

// Aliases returns copies of the function's aliases sorted by name.
func (s *MemoryFunctionService) Aliases(_ context.Context, fn string) ([]*stratus.Alias, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.vs.initLocked()
	if _, ok := s.fns[fn]; !ok {
		return nil, fnNotFound(fn)
	}
	var out []*stratus.Alias
	for k, a := range s.vs.aliases {
		if strings.HasPrefix(k, fn+":") {
			out = append(out, a.Clone())
		}
	}
	slices.SortFunc(out, func(a, b *stratus.Alias) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// UpdateAlias applies update to a copy and stores it unless update fails.
func (s *MemoryFunctionService) UpdateAlias(_ context.Context, fn, name string, update func(*stratus.Alias) error) (*stratus.Alias, error) {
	s.mu.Lock()
	a, ok := s.vs.aliases[fn+":"+name]
	if !ok {
		s.mu.Unlock()
		return nil, stratus.Errorf(stratus.ENOTFOUND, "Alias not found: %s:%s", fn, name)
	}
	c := a.Clone()
	s.mu.Unlock()
	// update may read the store (version checks), so it runs unlocked;
	// the mock does not detect concurrent updates.
	if err := update(c); err != nil {
		return nil, err
	}
	c.FunctionName, c.Name = fn, name
	s.mu.Lock()
	defer s.mu.Unlock()
	s.vs.aliases[fn+":"+name] = c
	return c.Clone(), nil
}

// DeleteAlias deletes an alias, or returns ENOTFOUND.
func (s *MemoryFunctionService) DeleteAlias(_ context.Context, fn, name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.vs.initLocked()
	if _, ok := s.vs.aliases[fn+":"+name]; !ok {
		return stratus.Errorf(stratus.ENOTFOUND, "Alias not found: %s:%s", fn, name)
	}
	delete(s.vs.aliases, fn+":"+name)
	return nil
}

// PublishLayerVersion stores lv as the next version of its layer.
func (s *MemoryFunctionService) PublishLayerVersion(_ context.Context, lv *stratus.LayerVersion) (*stratus.LayerVersion, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.vs.initLocked()
	s.vs.layerCounters[lv.Name]++
	c := lv.Clone()
	c.Version = s.vs.layerCounters[lv.Name]
	s.vs.layers[c.Name+":"+strconv.FormatInt(c.Version, 10)] = c
	return c.Clone(), nil
}

// LayerVersion returns a copy of a layer version, or ENOTFOUND.
func (s *MemoryFunctionService) LayerVersion(_ context.Context, name string, version int64) (*stratus.LayerVersion, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.vs.initLocked()
	lv, ok := s.vs.layers[name+":"+strconv.FormatInt(version, 10)]
	if !ok {
		return nil, stratus.Errorf(stratus.ENOTFOUND, "The resource you requested does not exist.")
	}
	return lv.Clone(), nil
}

// LayerVersions returns copies of all layer versions by name, newest first.
func (s *MemoryFunctionService) LayerVersions(context.Context) ([]*stratus.LayerVersion, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.vs.initLocked()
	out := make([]*stratus.LayerVersion, 0, len(s.vs.layers))
	for _, lv := range s.vs.layers {
		out = append(out, lv.Clone())
	}
	slices.SortFunc(out, func(a, b *stratus.LayerVersion) int {
		if c := strings.Compare(a.Name, b.Name); c != 0 {
			return c
		}
		return int(b.Version - a.Version)
	})
	return out, nil
}

// DeleteLayerVersion deletes a layer version; a missing one is no error.
func (s *MemoryFunctionService) DeleteLayerVersion(_ context.Context, name string, version int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.vs.initLocked()
	delete(s.vs.layers, name+":"+strconv.FormatInt(version, 10))
	return nil
}

var (
	_ stratus.VersionService = (*VersionService)(nil)
	_ stratus.LayerService   = (*LayerService)(nil)
)

// VersionService is a fake stratus.VersionService.
type VersionService struct {
	PublishVersionFn func(ctx context.Context, name string, update func(*stratus.Function) error, snapshot func(*stratus.Function)) (*stratus.Function, bool, error)
	VersionFn        func(ctx context.Context, name, version string) (*stratus.Function, error)
	VersionsFn       func(ctx context.Context, name string) ([]*stratus.Function, error)
	DeleteVersionFn  func(ctx context.Context, name, version string) error
	CreateAliasFn    func(ctx context.Context, a *stratus.Alias) error
	AliasFn          func(ctx context.Context, function, name string) (*stratus.Alias, error)
	AliasesFn        func(ctx context.Context, function string) ([]*stratus.Alias, error)
	UpdateAliasFn    func(ctx context.Context, function, name string, update func(*stratus.Alias) error) (*stratus.Alias, error)
	DeleteAliasFn    func(ctx context.Context, function, name string) error
}

// PublishVersion calls PublishVersionFn.
func (s *VersionService) PublishVersion(ctx context.Context, name string, update func(*stratus.Function) error, snapshot func(*stratus.Function)) (*stratus.Function, bool, error) {
	return s.PublishVersionFn(ctx, name, update, snapshot)
}

// Version calls VersionFn.
func (s *VersionService) Version(ctx context.Context, name, version string) (*stratus.Function, error) {
	return s.VersionFn(ctx, name, version)
}

// Versions calls VersionsFn.
func (s *VersionService) Versions(ctx context.Context, name string) ([]*stratus.Function, error) {
	return s.VersionsFn(ctx, name)
}

// DeleteVersion calls DeleteVersionFn.
func (s *VersionService) DeleteVersion(ctx context.Context, name, version string) error {
	return s.DeleteVersionFn(ctx, name, version)
}

// CreateAlias calls CreateAliasFn.
func (s *VersionService) CreateAlias(ctx context.Context, a *stratus.Alias) error {
	return s.CreateAliasFn(ctx, a)
}

// Alias calls AliasFn.
func (s *VersionService) Alias(ctx context.Context, function, name string) (*stratus.Alias, error) {
	return s.AliasFn(ctx, function, name)
}

// Aliases calls AliasesFn.
func (s *VersionService) Aliases(ctx context.Context, function string) ([]*stratus.Alias, error) {
	return s.AliasesFn(ctx, function)
}

// UpdateAlias calls UpdateAliasFn.
func (s *VersionService) UpdateAlias(ctx context.Context, function, name string, update func(*stratus.Alias) error) (*stratus.Alias, error) {
	return s.UpdateAliasFn(ctx, function, name, update)
}

// DeleteAlias calls DeleteAliasFn.
func (s *VersionService) DeleteAlias(ctx context.Context, function, name string) error {
	return s.DeleteAliasFn(ctx, function, name)
}

// LayerService is a fake stratus.LayerService.
type LayerService struct {
	PublishLayerVersionFn func(ctx context.Context, lv *stratus.LayerVersion) (*stratus.LayerVersion, error)
	LayerVersionFn        func(ctx context.Context, name string, version int64) (*stratus.LayerVersion, error)
	LayerVersionsFn       func(ctx context.Context) ([]*stratus.LayerVersion, error)
	DeleteLayerVersionFn  func(ctx context.Context, name string, version int64) error
}

// PublishLayerVersion calls PublishLayerVersionFn.
func (s *LayerService) PublishLayerVersion(ctx context.Context, lv *stratus.LayerVersion) (*stratus.LayerVersion, error) {
	return s.PublishLayerVersionFn(ctx, lv)
}

// LayerVersion calls LayerVersionFn.
func (s *LayerService) LayerVersion(ctx context.Context, name string, version int64) (*stratus.LayerVersion, error) {
	return s.LayerVersionFn(ctx, name, version)
}

// LayerVersions calls LayerVersionsFn.
func (s *LayerService) LayerVersions(ctx context.Context) ([]*stratus.LayerVersion, error) {
	return s.LayerVersionsFn(ctx)
}

// DeleteLayerVersion calls DeleteLayerVersionFn.
func (s *LayerService) DeleteLayerVersion(ctx context.Context, name string, version int64) error {
	return s.DeleteLayerVersionFn(ctx, name, version)
}
