package stratus

import (
	"context"
	"time"
)

// Alias is a named pointer to a published version of a function (or to
// $LATEST), optionally splitting invocations between two versions.
type Alias struct {
	FunctionName    string `json:"functionName"`
	Name            string `json:"name"`
	FunctionVersion string `json:"functionVersion"` // "$LATEST" or "1", "2", ...
	Description     string `json:"description,omitempty"`
	// AdditionalVersionWeights sends the given share (0.0–1.0) of
	// invocations to another published version; the rest go to
	// FunctionVersion. At most one entry.
	AdditionalVersionWeights map[string]float64 `json:"additionalVersionWeights,omitempty"`
	RevisionID               string             `json:"revisionId"`
}

// Clone returns a deep copy of a.
func (a *Alias) Clone() *Alias {
	c := *a
	if a.AdditionalVersionWeights != nil {
		c.AdditionalVersionWeights = make(map[string]float64, len(a.AdditionalVersionWeights))
		for k, v := range a.AdditionalVersionWeights {
			c.AdditionalVersionWeights[k] = v
		}
	}
	return &c
}

// VersionService stores published versions and aliases of functions. A
// FunctionService that also implements it supports versions; consumers
// find it by type assertion.
//
// Published versions are immutable snapshots of $LATEST: a Function with
// Version "1", "2", ... Reads are served from the node-local cache, like
// FunctionService's.
type VersionService interface {
	// PublishVersion publishes the named function's $LATEST as the next
	// version. update, when not nil, runs first on a copy of $LATEST
	// inside the compare-and-swap that reserves the version number (it may
	// change $LATEST, and must then give it a new RevisionID, or fail the
	// call); it may run more than once. When $LATEST has not changed since
	// the last published version that still exists, no version is created:
	// that version is returned with created false. Otherwise snapshot is
	// called on the new version (Version already set) to give it its
	// RevisionID, LastModified and Description, and created is true.
	// ENOTFOUND if the function does not exist.
	PublishVersion(ctx context.Context, name string, update func(latest *Function) error,
		snapshot func(v *Function)) (v *Function, created bool, err error)
	// Version returns a copy of a published version; ENOTFOUND if the
	// function or the version does not exist.
	Version(ctx context.Context, name, version string) (*Function, error)
	// Versions returns copies of the function's published versions in
	// ascending order (without $LATEST); ENOTFOUND if the function does
	// not exist.
	Versions(ctx context.Context, name string) ([]*Function, error)
	// DeleteVersion deletes a published version. ENOTFOUND if absent;
	// ECONFLICT if an alias routes to it.
	DeleteVersion(ctx context.Context, name, version string) error

	// CreateAlias stores a new alias. ECONFLICT if it exists, ENOTFOUND
	// if the function does not. The store does not check the versions
	// the alias names.
	CreateAlias(ctx context.Context, a *Alias) error
	// Alias returns a copy of an alias; ENOTFOUND if absent.
	Alias(ctx context.Context, function, name string) (*Alias, error)
	// Aliases returns copies of the function's aliases sorted by name;
	// ENOTFOUND if the function does not exist.
	Aliases(ctx context.Context, function string) ([]*Alias, error)
	// UpdateAlias applies update to a copy of the alias and stores it
	// atomically (compare-and-swap). An error from update is returned and
	// nothing is stored; update may run more than once.
	UpdateAlias(ctx context.Context, function, name string, update func(*Alias) error) (*Alias, error)
	// DeleteAlias deletes an alias; ENOTFOUND if absent.
	DeleteAlias(ctx context.Context, function, name string) error
}

// LayerVersion is one immutable version of a layer: a package unpacked
// into /opt of the functions that use it.
type LayerVersion struct {
	Name                    string    `json:"name"`
	Version                 int64     `json:"version"`
	Description             string    `json:"description,omitempty"`
	CompatibleRuntimes      []string  `json:"compatibleRuntimes,omitempty"`
	CompatibleArchitectures []string  `json:"compatibleArchitectures,omitempty"`
	LicenseInfo             string    `json:"licenseInfo,omitempty"`
	Code                    Code      `json:"code"`
	Created                 time.Time `json:"created"`
}

// Clone returns a deep copy of l.
func (l *LayerVersion) Clone() *LayerVersion {
	c := *l
	c.CompatibleRuntimes = append([]string(nil), l.CompatibleRuntimes...)
	c.CompatibleArchitectures = append([]string(nil), l.CompatibleArchitectures...)
	return &c
}

// LayerService stores layer versions. Their packages live in the code
// store (FunctionService.PutCode) and are not deleted with the version:
// functions that use a deleted layer version keep working. Consumers find
// it by type assertion on a FunctionService.
type LayerService interface {
	// PublishLayerVersion stores lv as the next version of layer lv.Name
	// (numbers are never reused) and returns it with Version set.
	PublishLayerVersion(ctx context.Context, lv *LayerVersion) (*LayerVersion, error)
	// LayerVersion returns a copy of one layer version; ENOTFOUND if absent.
	LayerVersion(ctx context.Context, name string, version int64) (*LayerVersion, error)
	// LayerVersions returns copies of every version of every layer, sorted
	// by layer name, newest version first.
	LayerVersions(ctx context.Context) ([]*LayerVersion, error)
	// DeleteLayerVersion deletes a layer version; deleting one that does
	// not exist succeeds.
	DeleteLayerVersion(ctx context.Context, name string, version int64) error
}
