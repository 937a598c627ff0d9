package verifier

import (
	"context"
	"fmt"

	"github.com/agentid/agentid/credential/statuslist"
)

// Kinds of status entries a StatusChecker is asked about.
const (
	// StatusBitstring is a credentialStatus entry of type
	// BitstringStatusListEntry (W3C Bitstring Status List 1.0).
	StatusBitstring = statuslist.EntryType
	// StatusTokenList is the status claim of an SD-JWT VC, whose
	// status_list member points into an IETF Token Status List.
	StatusTokenList = "TokenStatusList"
)

// StatusEntry is one status reference of a credential that a StatusChecker
// answers for.
type StatusEntry struct {
	// Kind is StatusBitstring or StatusTokenList (or, for a
	// credentialStatus entry of another type, that type).
	Kind string
	// Issuer is the credential's issuer. A status list answers for a
	// credential only when this issuer signed it.
	Issuer string
	// Entry is the entry as decoded JSON: the credentialStatus object, or
	// the SD-JWT VC's whole status claim ({"status_list": {...}}).
	Entry map[string]any
}

// StatusResult is a StatusChecker's answer for one entry.
type StatusResult struct {
	// Purpose is the entry's purpose: statuslist.PurposeRevocation,
	// PurposeSuspension, PurposeRefresh or PurposeMessage. A Token Status
	// List answer uses revocation for INVALID and suspension for SUSPENDED.
	Purpose string
	// Valid is true when the entry's status is 0 (not revoked, not
	// suspended, nothing to refresh, the first message).
	Valid bool
	// Message is the status message, if the entry has them.
	Message string
}

// StatusChecker answers whether a credential has been revoked or suspended.
// The verifier calls it once per status entry, on every verification (a
// verdict is never cached here). Implementations fetch the status list (from
// the database when the list is local, over HTTP within a staleness bound
// otherwise), verify that it is signed by entry.Issuer and still valid, and
// read the entry (statuslist.Check or VerifiedToken.StatusOf).
//
// An error means the status could not be determined; the verifier then fails
// the status check (fail closed), so an unreachable status list never lets a
// revoked credential through.
type StatusChecker interface {
	CheckStatus(ctx context.Context, entry StatusEntry) (StatusResult, error)
}

// StatusCheckerFunc adapts a function to StatusChecker.
type StatusCheckerFunc func(ctx context.Context, entry StatusEntry) (StatusResult, error)

// CheckStatus calls f.
func (f StatusCheckerFunc) CheckStatus(ctx context.Context, entry StatusEntry) (StatusResult, error) {
	return f(ctx, entry)
}

// checkStatus runs the status check over a credential's entries.
func (v *Verifier) checkStatus(ctx context.Context, r *recorder, issuer string, entries []StatusEntry) {
	if !r.on(CheckStatus) {
		return
	}
	if len(entries) == 0 {
		r.pass(CheckStatus) // nothing can revoke it
		return
	}
	if v.status == nil {
		r.warn(CheckStatus, CodeStatusNotChecked, fmt.Sprintf(
			"status not checked: the credential has %d status entr%s and this verifier has no status checker",
			len(entries), plural(len(entries), "y", "ies")))
		return
	}
	ok := true
	for i, e := range entries {
		e.Issuer = issuer
		res, err := v.status.CheckStatus(ctx, e)
		if err != nil {
			ok = false
			r.fail(CheckStatus, CodeStatusUnavailable, fmt.Sprintf("status entry %d (%s): status could not be determined: %v", i, e.Kind, err))
			continue
		}
		if res.Valid {
			continue
		}
		msg := fmt.Sprintf("status entry %d (%s) is set for purpose %q", i, e.Kind, res.Purpose)
		if res.Message != "" {
			msg += ": " + res.Message
		}
		switch res.Purpose {
		case statuslist.PurposeRevocation:
			ok = false
			r.fail(CheckStatus, CodeRevoked, "credential revoked: "+msg)
		case statuslist.PurposeSuspension:
			ok = false
			r.fail(CheckStatus, CodeSuspended, "credential suspended: "+msg)
		case statuslist.PurposeRefresh, statuslist.PurposeMessage:
			// Neither invalidates the credential; the caller may want to know.
			r.warn(CheckStatus, CodeStatusSet, msg)
		default:
			ok = false // a status the verifier cannot interpret fails closed
			r.fail(CheckStatus, CodeStatusSet, msg)
		}
	}
	if ok {
		r.pass(CheckStatus)
	}
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
