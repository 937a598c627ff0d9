package didmethods

import (
	"errors"
	"time"
)

// ResolutionContext is the JSON-LD context of a DID resolution result.
const ResolutionContext = "https://w3id.org/did-resolution/v1"

// Content types of a DID document representation.
const (
	ContentTypeDIDLDJSON = "application/did+ld+json"
	ContentTypeDIDJSON   = "application/did+json"
)

// Resolution is a DID resolution result in the shape the Universal Resolver
// returns (DID Resolution, §"DID Resolution Result"): the document and the
// metadata about the resolution and about the document. On failure Document
// is nil and ResolutionMetadata.Error holds the error code.
type Resolution struct {
	Context            string             `json:"@context"`
	Document           *Document          `json:"didDocument"`
	ResolutionMetadata ResolutionMetadata `json:"didResolutionMetadata"`
	DocumentMetadata   DocumentMetadata   `json:"didDocumentMetadata"`

	// freshness tells a Cache how long the result may be reused.
	freshness freshness
}

// ResolutionMetadata is DID resolution metadata.
type ResolutionMetadata struct {
	ContentType  string `json:"contentType,omitempty"`
	Error        string `json:"error,omitempty"`
	ErrorMessage string `json:"errorMessage,omitempty"`
}

// DocumentMetadata is DID document metadata (DID Core §7.1.3).
type DocumentMetadata struct {
	Created      string   `json:"created,omitempty"`
	Updated      string   `json:"updated,omitempty"`
	Deactivated  bool     `json:"deactivated,omitempty"`
	VersionID    string   `json:"versionId,omitempty"`
	EquivalentID []string `json:"equivalentId,omitempty"`
	CanonicalID  string   `json:"canonicalId,omitempty"`
}

// NewErrorResolution returns the resolution result that reports err: no
// document, and didResolutionMetadata.error set to err's code (internalError
// when err carries none), errorMessage to its text.
func NewErrorResolution(err error) *Resolution {
	r := &Resolution{Context: ResolutionContext}
	if err == nil {
		return r
	}
	r.ResolutionMetadata.Error = ErrorCode(err)
	var e *Error
	if errors.As(err, &e) && e.Err != nil {
		r.ResolutionMetadata.ErrorMessage = e.Err.Error()
	} else {
		r.ResolutionMetadata.ErrorMessage = err.Error()
	}
	return r
}

// newResolution wraps a document produced by a resolver.
func newResolution(doc *Document, f freshness) *Resolution {
	return &Resolution{
		Context:            ResolutionContext,
		Document:           doc,
		ResolutionMetadata: ResolutionMetadata{ContentType: ContentTypeDIDLDJSON},
		freshness:          f,
	}
}

// Clone returns a deep copy of the resolution result.
func (r *Resolution) Clone() *Resolution {
	if r == nil {
		return nil
	}
	c := *r
	c.Document = r.Document.Clone()
	c.DocumentMetadata.EquivalentID = cloneStrings(r.DocumentMetadata.EquivalentID)
	return &c
}

// freshness is how long a resolution result stays valid, as its resolver
// knows it.
type freshness struct {
	kind   freshnessKind
	maxAge time.Duration // for freshMaxAge
}

type freshnessKind uint8

const (
	freshUnknown   freshnessKind = iota // the cache's default TTL applies
	freshImmutable                      // deterministic: valid for ever
	freshNoStore                        // must not be reused
	freshMaxAge                         // valid for maxAge
)
