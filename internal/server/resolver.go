package server

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/agentid/agentid/didmethods"
)

// Media types of the DID resolution endpoint (Universal Resolver
// conventions).
const (
	mediaResolutionResult = `application/ld+json;profile="https://w3id.org/did-resolution";charset=utf-8`
	mediaDIDJSON          = "application/did+json"
	mediaDIDLDJSON        = "application/did+ld+json"
	mediaLDJSON           = "application/ld+json"
	maxDIDLength          = 2048
)

// resolveDID answers GET /1.0/identifiers/{did} with a DID resolution result
// {@context, didDocument, didResolutionMetadata, didDocumentMetadata}, or
// with the bare DID document when the client asks for application/did+json
// or application/did+ld+json. Failures are non-2xx with the same shape and
// the error code in didResolutionMetadata.error.
//
// A DID URL (did#fragment; it arrives percent-encoded, "did%3Akey%3A…%23…",
// or as a raw DID with an encoded "%23") is dereferenced instead: the
// result carries the verification method the fragment names as
// didDocument and didDereferencingMetadata in place of
// didResolutionMetadata, the shape of the W3C CCG did:key suite.
func (s *Server) resolveDID(c *gin.Context) {
	did := c.Param("did")
	// A client may percent-encode the whole DID ("did%3Akey%3A…"); decode it
	// once. A raw DID keeps its own escapes (did:web:host%3A8443), except
	// that "%23" starts the fragment of a DID URL: a '#' never reaches a
	// server.
	if strings.HasPrefix(strings.ToLower(did), "did%3a") {
		if dec, err := url.PathUnescape(did); err == nil {
			did = dec
		}
	} else if i := strings.Index(strings.ToLower(did), "%23"); i >= 0 {
		if frag, err := url.PathUnescape(did[i+3:]); err == nil {
			did = did[:i] + "#" + frag
		}
	}
	deref := isDIDURL(did)
	if len(did) > maxDIDLength {
		s.resolutionError(c, deref, did, &didmethods.Error{Code: didmethods.CodeInvalidDID, DID: did[:32] + "…"}, "the DID is longer than "+strconv.Itoa(maxDIDLength)+" characters")
		return
	}

	repr, ok := negotiate(c.GetHeader("Accept"))
	if !ok {
		s.resolutionError(c, deref, did, &didmethods.Error{Code: didmethods.CodeRepresentationNotSupported, DID: did},
			"supported representations: "+mediaResolutionResult+", "+mediaDIDJSON+", "+mediaDIDLDJSON)
		return
	}

	var opts didmethods.ResolveOptions
	experimental := false // the did:key spec's default
	q := c.Request.URL.Query()
	opts.PublicKeyFormat = q.Get("publicKeyFormat")
	for _, o := range []struct {
		name string
		dst  *bool
	}{
		{"enableEncryptionKeyDerivation", &opts.EnableEncryptionKeyDerivation},
		{"enableExperimentalPublicKeyTypes", &experimental},
	} {
		v := q.Get(o.name)
		if v == "" {
			continue
		}
		b, err := strconv.ParseBool(v)
		if err != nil {
			s.resolutionError(c, deref, did, &didmethods.Error{Code: didmethods.CodeInvalidOptions, DID: did},
				o.name+" must be true or false")
			return
		}
		*o.dst = b
	}
	opts.RefuseExperimentalPublicKeyTypes = !experimental

	if deref {
		s.dereferenceDIDURL(c, did, repr, opts)
		return
	}
	res, err := s.resolver.Resolve(c.Request.Context(), did, opts)
	if err != nil {
		s.resolutionError(c, false, did, err, "")
		return
	}
	switch repr {
	case mediaDIDJSON, mediaDIDLDJSON:
		writeJSON(c, http.StatusOK, repr, res.Document)
	default:
		writeJSON(c, http.StatusOK, mediaResolutionResult, res)
	}
}

// isDIDURL reports whether did has a path, query or fragment.
func isDIDURL(did string) bool { return strings.ContainsAny(did, "/?#") }

// dereferencingResult is the answer to a DID URL: the dereferenced
// verification method in didDocument, as the W3C CCG did:key suite reads it.
type dereferencingResult struct {
	Context           string         `json:"@context"`
	Document          any            `json:"didDocument"`
	DereferencingMeta map[string]any `json:"didDereferencingMetadata"`
	DocumentMetadata  map[string]any `json:"didDocumentMetadata"`
}

// dereferenceDIDURL answers a DID URL with the verification method its
// fragment names; the bare method document when the client asked for a bare
// representation.
func (s *Server) dereferenceDIDURL(c *gin.Context, didURL, repr string, opts didmethods.ResolveOptions) {
	vm, err := didmethods.Dereference(c.Request.Context(), s.resolver, didURL, opts)
	if err != nil {
		s.resolutionError(c, true, didURL, err, "")
		return
	}
	switch repr {
	case mediaDIDJSON, mediaDIDLDJSON:
		writeJSON(c, http.StatusOK, repr, vm)
	default:
		writeJSON(c, http.StatusOK, mediaResolutionResult, dereferencingResult{
			Context:           didmethods.ResolutionContext,
			Document:          vm,
			DereferencingMeta: map[string]any{"contentType": mediaLDJSON},
			DocumentMetadata:  map[string]any{},
		})
	}
}

// resolutionError answers with the DID resolution result of a failure, or
// with the DID URL dereferencing result when deref is set.
func (s *Server) resolutionError(c *gin.Context, deref bool, did string, err error, message string) {
	code := didmethods.ErrorCode(err)
	if message == "" {
		message = err.Error()
	}
	status := resolutionStatus(code)
	if errors.Is(err, didmethods.ErrUpstream) {
		// The DID is fine; the web server that should serve it is not.
		status = http.StatusBadGateway
	}
	if status >= 500 {
		s.log.Error("did resolution failed", "request_id", c.GetString(requestIDKey), "did", did, "error", err)
	}
	metaKey := "didResolutionMetadata"
	if deref {
		metaKey = "didDereferencingMetadata"
	}
	body := map[string]any{
		"@context":    didmethods.ResolutionContext,
		"didDocument": nil,
		metaKey: map[string]any{
			"error":        code,
			"errorMessage": message,
		},
		"didDocumentMetadata": map[string]any{},
	}
	writeJSON(c, status, mediaResolutionResult, body)
}

// resolutionStatus maps DID resolution error codes to HTTP status codes as
// the Universal Resolver does.
func resolutionStatus(code string) int {
	switch code {
	case didmethods.CodeNotFound:
		return http.StatusNotFound
	case didmethods.CodeMethodNotSupported:
		return http.StatusNotImplemented
	case didmethods.CodeRepresentationNotSupported:
		return http.StatusNotAcceptable
	case didmethods.CodeInvalidDID, didmethods.CodeInvalidDIDURL, didmethods.CodeInvalidPublicKey, didmethods.CodeInvalidPublicKeyLength,
		didmethods.CodeInvalidPublicKeyType, didmethods.CodeUnsupportedPublicKeyType, didmethods.CodeInvalidOptions:
		return http.StatusBadRequest
	}
	return http.StatusInternalServerError
}

// negotiate picks the representation for an Accept header; ok is false when
// the client accepts none of ours.
func negotiate(accept string) (string, bool) {
	if strings.TrimSpace(accept) == "" {
		return mediaResolutionResult, true
	}
	best, bestQ := "", -1.0
	for _, part := range strings.Split(accept, ",") {
		fields := strings.Split(part, ";")
		mt := strings.ToLower(strings.TrimSpace(fields[0]))
		q := 1.0
		isResolution := false
		for _, p := range fields[1:] {
			k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
			switch strings.ToLower(k) {
			case "q":
				if f, err := strconv.ParseFloat(v, 64); err == nil {
					q = f
				}
			case "profile":
				isResolution = strings.Trim(v, `"`) == "https://w3id.org/did-resolution"
			}
		}
		var repr string
		switch {
		case mt == "application/ld+json" && isResolution, mt == "application/json", mt == "application/ld+json",
			mt == "*/*", mt == "application/*":
			repr = mediaResolutionResult
		case mt == mediaDIDJSON:
			repr = mediaDIDJSON
		case mt == mediaDIDLDJSON:
			repr = mediaDIDLDJSON
		default:
			continue
		}
		if q > 0 && q > bestQ {
			best, bestQ = repr, q
		}
	}
	return best, best != ""
}

// writeJSON writes v with the given content type.
func writeJSON(c *gin.Context, status int, contentType string, v any) {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		c.Status(http.StatusInternalServerError)
		return
	}
	c.Data(status, contentType, append(data, '\n'))
}
