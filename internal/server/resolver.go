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
	maxDIDLength          = 2048
)

// resolveDID answers GET /1.0/identifiers/{did} with a DID resolution result
// {@context, didDocument, didResolutionMetadata, didDocumentMetadata}, or
// with the bare DID document when the client asks for application/did+json
// or application/did+ld+json. Failures are non-2xx with the same shape and
// the error code in didResolutionMetadata.error.
func (s *Server) resolveDID(c *gin.Context) {
	did := c.Param("did")
	// A client may percent-encode the whole DID ("did%3Akey%3A…"); decode it
	// once. A raw DID keeps its own escapes (did:web:host%3A8443).
	if strings.HasPrefix(strings.ToLower(did), "did%3a") {
		if dec, err := url.PathUnescape(did); err == nil {
			did = dec
		}
	}
	if len(did) > maxDIDLength {
		s.resolutionError(c, did, &didmethods.Error{Code: didmethods.CodeInvalidDID, DID: did[:32] + "…"}, "the DID is longer than "+strconv.Itoa(maxDIDLength)+" characters")
		return
	}

	repr, ok := negotiate(c.GetHeader("Accept"))
	if !ok {
		s.resolutionError(c, did, &didmethods.Error{Code: didmethods.CodeRepresentationNotSupported, DID: did},
			"supported representations: "+mediaResolutionResult+", "+mediaDIDJSON+", "+mediaDIDLDJSON)
		return
	}

	var opts didmethods.ResolveOptions
	q := c.Request.URL.Query()
	opts.PublicKeyFormat = q.Get("publicKeyFormat")
	if v := q.Get("enableEncryptionKeyDerivation"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			s.resolutionError(c, did, &didmethods.Error{Code: didmethods.CodeInvalidOptions, DID: did},
				"enableEncryptionKeyDerivation must be true or false")
			return
		}
		opts.EnableEncryptionKeyDerivation = b
	}

	res, err := s.resolver.Resolve(c.Request.Context(), did, opts)
	if err != nil {
		s.resolutionError(c, did, err, "")
		return
	}
	switch repr {
	case mediaDIDJSON, mediaDIDLDJSON:
		writeJSON(c, http.StatusOK, repr, res.Document)
	default:
		writeJSON(c, http.StatusOK, mediaResolutionResult, res)
	}
}

// resolutionError answers with the DID resolution result of a failure.
func (s *Server) resolutionError(c *gin.Context, did string, err error, message string) {
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
	body := map[string]any{
		"@context":    "https://w3id.org/did-resolution/v1",
		"didDocument": nil,
		"didResolutionMetadata": map[string]any{
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
	case didmethods.CodeInvalidDID, didmethods.CodeInvalidPublicKey, didmethods.CodeInvalidPublicKeyLength,
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
