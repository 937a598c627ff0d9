package server

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/agentid/agentid/issuer"
	"github.com/agentid/agentid/verifier"
	"github.com/agentid/agentid/verifier/statusfetch"
)

// The server's own status lists are read from the database, not over the
// network: a verifier that shares the issuer's database sees a status change
// on the very next verification, whatever --status-staleness says, and it
// does not depend on its public URL being reachable from itself. Each check
// revalidates the list by its ETag (the list's version), so an unchanged
// list costs one database read and no signature check; a changed one is
// fetched whole and its signature verified like any other list. The
// revalidation reads the list's stamp and compares entity tags in process
// (ownListRevalidator); only a changed list goes through the transport.

// ownListPrefix is the URL prefix of this server's status lists
// (PUBLIC-URL/status/), or "" when there is no public URL.
func ownListPrefix(publicURL string) string {
	if publicURL == "" {
		return ""
	}
	return strings.TrimRight(publicURL, "/") + "/status/"
}

// statusListURL is the list URL of a status entry: statusListCredential of
// a BitstringStatusListEntry, status_list.uri of a token status claim.
func statusListURL(e verifier.StatusEntry) string {
	switch e.Kind {
	case verifier.StatusBitstring:
		u, _ := e.Entry["statusListCredential"].(string)
		return u
	case verifier.StatusTokenList:
		if sl, ok := e.Entry["status_list"].(map[string]any); ok {
			u, _ := sl["uri"].(string)
			return u
		}
	}
	return ""
}

// routedStatus sends entries of the server's own lists to own and every
// other entry to remote.
type routedStatus struct {
	prefix      string
	own, remote verifier.StatusChecker
}

// CheckStatus implements verifier.StatusChecker.
func (r routedStatus) CheckStatus(ctx context.Context, e verifier.StatusEntry) (verifier.StatusResult, error) {
	if r.prefix != "" && strings.HasPrefix(statusListURL(e), r.prefix) {
		return r.own.CheckStatus(ctx, e)
	}
	return r.remote.CheckStatus(ctx, e)
}

// ownListTransport answers GET requests for the server's own status lists
// from the issuer service, as GET /status/{list} would, without a network
// round trip (and without counting them as HTTP requests of the server). A
// conditional request whose list did not change still gets a 304.
type ownListTransport struct {
	prefix string
	issuer *issuer.Service
}

// RoundTrip implements http.RoundTripper.
func (t ownListTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body != nil {
		_ = req.Body.Close()
	}
	raw := req.URL.String()
	id, ok := strings.CutPrefix(raw, t.prefix)
	if !ok || req.Method != http.MethodGet {
		return nil, fmt.Errorf("own status lists: %s %s is not one of this server's lists", req.Method, raw)
	}
	resp := func(status int, h http.Header, body []byte) *http.Response {
		return &http.Response{
			StatusCode: status, Status: fmt.Sprintf("%d %s", status, http.StatusText(status)),
			Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
			Header: h, Body: io.NopCloser(bytes.NewReader(body)), ContentLength: int64(len(body)),
			Request: req,
		}
	}
	if !validListID(id) {
		return resp(http.StatusNotFound, http.Header{}, nil), nil
	}
	h := http.Header{}
	h.Set("Cache-Control", "no-cache")
	// An unchanged list never gets here: ownListRevalidator answers for it
	// from the list's stamp. What comes is a first fetch, or a list whose
	// stamp moved or must be signed again, so the stamp is not read again.
	l, err := t.issuer.StatusList(req.Context(), id)
	if errors.Is(err, issuer.ErrNotFound) {
		return resp(http.StatusNotFound, http.Header{}, nil), nil
	}
	if err != nil {
		return nil, fmt.Errorf("own status list %s: %w", id, err)
	}
	h.Set("ETag", l.ETag)
	if etagMatches(req.Header.Get("If-None-Match"), l.ETag) {
		return resp(http.StatusNotModified, h, nil), nil
	}
	h.Set("Content-Type", l.ContentType)
	return resp(http.StatusOK, h, l.Body), nil
}

// ownListRevalidator tells the own-list status checker whether one of the
// server's lists still has the entity tag it was cached under, from the
// list's stamp in the database, without building a request and a response
// for it (see statusfetch.WithRevalidator). A list that changed, that
// is not one of the server's, or that is due to be signed again is
// fetched through ownListTransport as before.
func ownListRevalidator(prefix string, iss *issuer.Service) statusfetch.Revalidator {
	return func(ctx context.Context, url, etag string) (unchanged, known bool, err error) {
		id, ok := strings.CutPrefix(url, prefix)
		if !ok || !validListID(id) {
			return false, false, nil
		}
		current, err := iss.StatusListETag(ctx, id)
		if errors.Is(err, issuer.ErrNotFound) {
			return false, false, nil // the fetch answers 404: fail closed
		}
		if err != nil {
			return false, false, fmt.Errorf("own status list %s: %w", id, err)
		}
		if current == "" {
			return false, false, nil // to be signed again: fetch it
		}
		return etagMatches(etag, current), true, nil
	}
}
