package statuslist

import (
	"encoding/json"
	"fmt"
	"slices"
	"time"
)

// ContextV2 is the VC 2.0 context; it defines every Bitstring Status List
// term, so a status list credential needs no other.
const ContextV2 = "https://www.w3.org/ns/credentials/v2"

// CredentialOptions describes an unsigned BitstringStatusListCredential.
type CredentialOptions struct {
	// ID is the credential's id: the URL that statusListCredential in the
	// entries points at. Required.
	ID string
	// Issuer is the issuer's DID or URL. Required.
	Issuer string
	// SubjectID is the credentialSubject id; ID + "#list" when empty.
	SubjectID string
	// Purposes are the list's statusPurpose values (at least one).
	Purposes []string
	// List is the status list.
	List *Bitstring
	// ValidFrom and ValidUntil are written when not zero, in UTC to the
	// second.
	ValidFrom, ValidUntil time.Time
	// TTL, when positive, is written as ttl in milliseconds.
	TTL time.Duration
}

// NewCredential builds the unsigned BitstringStatusListCredential
// (VC 2.0) for a list, as a JSON object ready for a Data Integrity proof:
//
//	{"@context": ["https://www.w3.org/ns/credentials/v2"],
//	 "id": ID, "type": ["VerifiableCredential", "BitstringStatusListCredential"],
//	 "issuer": Issuer, "validFrom": …, "validUntil": …,
//	 "credentialSubject": {"id": ID#list, "type": "BitstringStatusList",
//	   "statusPurpose": …, "encodedList": "u…", "ttl": …, "statusSize": …}}
//
// statusSize is written when the list's entries are wider than one bit.
// Arrays are []any and objects map[string]any, as encoding/json decodes
// them.
func NewCredential(o CredentialOptions) (map[string]any, error) {
	if err := checkURL("id", o.ID); err != nil {
		return nil, fmt.Errorf("status list credential: %w", err)
	}
	if err := checkURL("issuer", o.Issuer); err != nil {
		return nil, fmt.Errorf("status list credential: %w", err)
	}
	if o.List == nil {
		return nil, fmt.Errorf("status list credential: %w: no list", ErrMalformed)
	}
	if len(o.Purposes) == 0 {
		return nil, fmt.Errorf("status list credential: %w: no statusPurpose", ErrMalformed)
	}
	for _, p := range o.Purposes {
		if !KnownPurpose(p) {
			return nil, fmt.Errorf("status list credential: %w: unknown statusPurpose %q", ErrMalformed, p)
		}
	}
	if !o.ValidFrom.IsZero() && !o.ValidUntil.IsZero() && !o.ValidUntil.After(o.ValidFrom) {
		return nil, fmt.Errorf("status list credential: %w: validUntil not after validFrom", ErrMalformed)
	}
	if o.TTL < 0 {
		return nil, fmt.Errorf("status list credential: %w: negative ttl", ErrMalformed)
	}
	encoded, err := o.List.Encode()
	if err != nil {
		return nil, fmt.Errorf("status list credential: %w", err)
	}
	subjectID := o.SubjectID
	if subjectID == "" {
		subjectID = o.ID + "#list"
	}
	subject := map[string]any{
		"id":          subjectID,
		"type":        ListType,
		"encodedList": encoded,
	}
	if len(o.Purposes) == 1 {
		subject["statusPurpose"] = o.Purposes[0]
	} else {
		ps := make([]any, len(o.Purposes))
		for i, p := range o.Purposes {
			ps[i] = p
		}
		subject["statusPurpose"] = ps
	}
	if o.TTL > 0 {
		subject["ttl"] = o.TTL.Milliseconds()
	}
	if o.List.StatusSize() > 1 {
		subject["statusSize"] = o.List.StatusSize()
	}
	vc := map[string]any{
		"@context":          []any{ContextV2},
		"id":                o.ID,
		"type":              []any{"VerifiableCredential", CredentialType},
		"issuer":            o.Issuer,
		"credentialSubject": subject,
	}
	if !o.ValidFrom.IsZero() {
		vc["validFrom"] = o.ValidFrom.UTC().Format(time.RFC3339)
	}
	if !o.ValidUntil.IsZero() {
		vc["validUntil"] = o.ValidUntil.UTC().Format(time.RFC3339)
	}
	return vc, nil
}

// SubjectOf returns the BitstringStatusList subject of a status list
// credential (decoded JSON), after checking that its type includes
// BitstringStatusListCredential and that it has exactly one
// credentialSubject. It checks neither the proof nor the validity period:
// the caller does, before trusting the list.
func SubjectOf(credential map[string]any) (*BitstringStatusList, error) {
	var types []string
	switch t := credential["type"].(type) {
	case string:
		types = []string{t}
	case []any:
		for _, v := range t {
			if s, ok := v.(string); ok {
				types = append(types, s)
			}
		}
	}
	if !slices.Contains(types, CredentialType) {
		return nil, fmt.Errorf("status list credential: %w: type does not include %s", ErrVerification, CredentialType)
	}
	raw := credential["credentialSubject"]
	if arr, ok := raw.([]any); ok {
		if len(arr) != 1 {
			return nil, fmt.Errorf("status list credential: %w: %d credentialSubjects, want 1", ErrMalformed, len(arr))
		}
		raw = arr[0]
	}
	obj, ok := raw.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("status list credential: %w: credentialSubject is not an object", ErrMalformed)
	}
	b, err := json.Marshal(obj)
	if err != nil {
		return nil, fmt.Errorf("status list credential: %w: %w", ErrMalformed, err)
	}
	var s BitstringStatusList
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("status list credential: %w: credentialSubject: %w", ErrMalformed, err)
	}
	if err := s.Validate(); err != nil {
		return nil, fmt.Errorf("status list credential: %w", err)
	}
	return &s, nil
}
