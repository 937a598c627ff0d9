package statuslist

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// JSON-LD type names of Bitstring Status List 1.0.
const (
	// EntryType is the type of a credentialStatus entry.
	EntryType = "BitstringStatusListEntry"
	// CredentialType is the type a status list credential must include.
	CredentialType = "BitstringStatusListCredential"
	// ListType is the type of the status list credential's subject.
	ListType = "BitstringStatusList"
)

// Status purposes with the meaning Bitstring Status List 1.0 gives them.
const (
	// PurposeRevocation: a set entry cancels the credential, for good.
	PurposeRevocation = "revocation"
	// PurposeSuspension: a set entry suspends the credential; reversible.
	PurposeSuspension = "suspension"
	// PurposeRefresh: a set entry says a fresher credential is available
	// from the credential's refresh service; it does not invalidate it.
	PurposeRefresh = "refresh"
	// PurposeMessage: the entry's value selects one of the statusMessage
	// entries.
	PurposeMessage = "message"
)

// KnownPurpose reports whether p is one of the four purposes above. The
// specification lets the string be anything; agentid refuses the others,
// because a verifier that cannot interpret a status must fail closed.
func KnownPurpose(p string) bool {
	switch p {
	case PurposeRevocation, PurposeSuspension, PurposeRefresh, PurposeMessage:
		return true
	}
	return false
}

// Strings is a JSON value that may be one string or an array of strings
// (statusPurpose of a list, statusReference). It marshals a single element
// as a plain string.
type Strings []string

// UnmarshalJSON accepts "a" or ["a", "b"]; an array must not be empty and
// must hold strings only.
func (s *Strings) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		var one string
		if err := json.Unmarshal(b, &one); err != nil {
			return fmt.Errorf("%w: %w", ErrMalformed, err)
		}
		*s = Strings{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil || many == nil {
		return fmt.Errorf("%w: want a string or an array of strings, got %.40s", ErrMalformed, b)
	}
	if len(many) == 0 {
		return fmt.Errorf("%w: empty array", ErrMalformed)
	}
	*s = many
	return nil
}

// MarshalJSON writes one element as a string and several as an array.
func (s Strings) MarshalJSON() ([]byte, error) {
	if len(s) == 1 {
		return json.Marshal(s[0])
	}
	return json.Marshal([]string(s))
}

// StatusMessage names one value of a multi-bit entry: Status is the value
// in hexadecimal with a "0x" prefix ("0x0", "0x1", ...).
type StatusMessage struct {
	Status  string `json:"status"`
	Message string `json:"message"`
}

// UnmarshalJSON requires both status and message, as strings; other
// members are allowed and dropped.
func (m *StatusMessage) UnmarshalJSON(b []byte) error {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil || raw == nil {
		return fmt.Errorf("%w: statusMessage element must be an object", ErrMalformed)
	}
	var out StatusMessage
	for name, dst := range map[string]*string{"status": &out.Status, "message": &out.Message} {
		v, ok := raw[name]
		if !ok {
			return fmt.Errorf("%w: statusMessage element without %q", ErrMalformed, name)
		}
		if err := json.Unmarshal(v, dst); err != nil {
			return fmt.Errorf("%w: statusMessage %q must be a string", ErrMalformed, name)
		}
	}
	*m = out
	return nil
}

// Value parses Status ("0x" and hexadecimal digits).
func (m StatusMessage) Value() (uint, error) {
	h, ok := strings.CutPrefix(m.Status, "0x")
	if !ok || h == "" || len(h) > 16 {
		return 0, fmt.Errorf("%w: statusMessage status %q is not 0x-prefixed hexadecimal", ErrMalformed, m.Status)
	}
	v, err := strconv.ParseUint(h, 16, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: statusMessage status %q is not 0x-prefixed hexadecimal", ErrMalformed, m.Status)
	}
	return uint(v), nil
}

// BitstringStatusListEntry is a credentialStatus entry of type
// BitstringStatusListEntry. StatusSize 0 means absent, which the
// specification processes as 1.
type BitstringStatusListEntry struct {
	ID                   string          `json:"id,omitempty"`
	Type                 string          `json:"type"`
	StatusPurpose        string          `json:"statusPurpose"`
	StatusListIndex      string          `json:"statusListIndex"`
	StatusListCredential string          `json:"statusListCredential"`
	StatusSize           int             `json:"statusSize,omitempty"`
	StatusMessage        []StatusMessage `json:"statusMessage,omitempty"`
	StatusReference      Strings         `json:"statusReference,omitempty"`
}

// UnmarshalJSON decodes an entry, refusing a statusSize that is present but
// not a positive integer (which would otherwise look absent).
func (e *BitstringStatusListEntry) UnmarshalJSON(b []byte) error {
	type plain BitstringStatusListEntry
	var aux struct {
		plain
		StatusSize *json.RawMessage `json:"statusSize"`
	}
	if err := json.Unmarshal(b, &aux); err != nil {
		return fmt.Errorf("%w: BitstringStatusListEntry: %w", ErrMalformed, err)
	}
	*e = BitstringStatusListEntry(aux.plain)
	if aux.StatusSize != nil {
		n, err := strconv.Atoi(string(bytes.TrimSpace(*aux.StatusSize)))
		if err != nil || n < 1 {
			return fmt.Errorf("%w: statusSize must be an integer greater than zero, got %.20s", ErrMalformed, *aux.StatusSize)
		}
		e.StatusSize = n
	}
	return nil
}

// Size is the entry's statusSize, 1 when absent.
func (e *BitstringStatusListEntry) Size() int {
	if e.StatusSize == 0 {
		return 1
	}
	return e.StatusSize
}

// Index parses statusListIndex (see ParseIndex).
func (e *BitstringStatusListEntry) Index() (int, error) {
	return ParseIndex(e.StatusListIndex)
}

// maxIndex bounds statusListIndex: no list under the default size limit
// has more entries.
const maxIndex = DefaultMaxDecodedSize * 8

// ParseIndex parses a statusListIndex: a non-negative integer written in
// base 10 in its canonical form, that is digits only, no sign, no spaces,
// no exponent, and no leading zero except in "0" itself (the W3C test suite
// requires the string to round-trip through integer parsing). The
// specification allows integers of any size; indexes beyond the largest
// list this package decodes fail with ErrRange.
func ParseIndex(s string) (int, error) {
	if s == "" {
		return 0, fmt.Errorf("%w: empty statusListIndex", ErrMalformed)
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, fmt.Errorf("%w: statusListIndex %q is not a base-10 integer", ErrMalformed, s)
		}
	}
	if len(s) > 1 && s[0] == '0' {
		return 0, fmt.Errorf("%w: statusListIndex %q has a leading zero", ErrMalformed, s)
	}
	if len(s) > 10 {
		return 0, fmt.Errorf("%w: statusListIndex %.20s… beyond any list", ErrRange, s)
	}
	n, err := strconv.Atoi(s)
	if err != nil || n > maxIndex {
		return 0, fmt.Errorf("%w: statusListIndex %s beyond any list", ErrRange, s)
	}
	return n, nil
}

// Validate checks every rule Bitstring Status List 1.0 sets on an entry,
// with agentid's limits: type BitstringStatusListEntry; a known
// statusPurpose; a canonical base-10 statusListIndex; an absolute
// statusListCredential URL; an id, if present, that is a URL and not the
// status list's; statusSize 1 to MaxStatusSize; statusMessage present when
// statusSize > 1 and, when present, with exactly 2^statusSize elements whose
// status values are 0x-prefixed hexadecimal, distinct and below
// 2^statusSize; statusReference URLs. Whether the index falls inside the
// list can only be told with the list: Check does it.
func (e *BitstringStatusListEntry) Validate() error {
	if e.Type != EntryType {
		return fmt.Errorf("%w: credentialStatus type %q, want %q", ErrMalformed, e.Type, EntryType)
	}
	if !KnownPurpose(e.StatusPurpose) {
		return fmt.Errorf("%w: unknown statusPurpose %q", ErrMalformed, e.StatusPurpose)
	}
	if _, err := e.Index(); err != nil {
		return err
	}
	if err := checkURL("statusListCredential", e.StatusListCredential); err != nil {
		return err
	}
	if e.ID != "" {
		if err := checkURL("id", e.ID); err != nil {
			return err
		}
		if e.ID == e.StatusListCredential {
			return fmt.Errorf("%w: credentialStatus id must not be the status list URL", ErrMalformed)
		}
	}
	if e.StatusSize < 0 {
		return fmt.Errorf("%w: statusSize must be an integer greater than zero, got %d", ErrMalformed, e.StatusSize)
	}
	size := e.Size()
	if err := checkStatusSize(size); err != nil {
		return err
	}
	if size > 1 && e.StatusMessage == nil {
		return fmt.Errorf("%w: statusSize %d requires statusMessage", ErrMalformed, size)
	}
	if e.StatusMessage != nil {
		if want := 1 << size; len(e.StatusMessage) != want {
			return fmt.Errorf("%w: statusSize %d needs %d statusMessage elements, got %d", ErrMalformed, size, want, len(e.StatusMessage))
		}
		seen := make([]bool, 1<<size)
		for _, m := range e.StatusMessage {
			v, err := m.Value()
			if err != nil {
				return err
			}
			if v >= uint(len(seen)) {
				return fmt.Errorf("%w: statusMessage status %s does not fit in %d bits", ErrMalformed, m.Status, size)
			}
			if seen[v] {
				return fmt.Errorf("%w: statusMessage status %s appears twice", ErrMalformed, m.Status)
			}
			seen[v] = true
		}
	}
	for _, r := range e.StatusReference {
		if err := checkURL("statusReference", r); err != nil {
			return err
		}
	}
	return nil
}

// Message returns the statusMessage message for value, or "set"/"unset"
// for one-bit entries without statusMessage, as the specification says.
func (e *BitstringStatusListEntry) Message(value uint) string {
	for _, m := range e.StatusMessage {
		if v, err := m.Value(); err == nil && v == value {
			return m.Message
		}
	}
	if e.StatusMessage == nil && e.Size() == 1 {
		if value == 1 {
			return "set"
		}
		return "unset"
	}
	return ""
}

// checkURL requires an absolute URL (a scheme and something after it).
func checkURL(field, s string) error {
	u, err := url.Parse(s)
	if err != nil || u.Scheme == "" || (u.Opaque == "" && u.Host == "" && u.Path == "") {
		return fmt.Errorf("%w: %s %q is not an absolute URL", ErrMalformed, field, s)
	}
	return nil
}

// BitstringStatusList is the credentialSubject of a
// BitstringStatusListCredential. TTL is in milliseconds (0: absent).
// StatusSize, when set, is the entry size the list was built with (the
// specification asks for it with the message purpose).
type BitstringStatusList struct {
	ID            string  `json:"id,omitempty"`
	Type          string  `json:"type"`
	StatusPurpose Strings `json:"statusPurpose"`
	EncodedList   string  `json:"encodedList"`
	TTL           int64   `json:"ttl,omitempty"`
	StatusSize    int     `json:"statusSize,omitempty"`
}

// Validate checks the subject's shape: type BitstringStatusList, at least
// one statusPurpose and each of them known, a non-empty encodedList, a
// non-negative ttl, statusSize within range when present. It does not
// decode the list (Decode and Check do).
func (s *BitstringStatusList) Validate() error {
	if s.Type != ListType {
		return fmt.Errorf("%w: credentialSubject type %q, want %q", ErrMalformed, s.Type, ListType)
	}
	if len(s.StatusPurpose) == 0 {
		return fmt.Errorf("%w: credentialSubject without statusPurpose", ErrMalformed)
	}
	for _, p := range s.StatusPurpose {
		if !KnownPurpose(p) {
			return fmt.Errorf("%w: unknown statusPurpose %q", ErrMalformed, p)
		}
	}
	if s.EncodedList == "" {
		return fmt.Errorf("%w: credentialSubject without encodedList", ErrMalformed)
	}
	if s.TTL < 0 {
		return fmt.Errorf("%w: negative ttl %d", ErrMalformed, s.TTL)
	}
	if s.StatusSize != 0 {
		if err := checkStatusSize(s.StatusSize); err != nil {
			return err
		}
	}
	return nil
}

// Result is the outcome of Check, the "result" map of the specification's
// validate algorithm.
type Result struct {
	// Status is the entry's value in the list.
	Status uint
	// Purpose is the entry's statusPurpose.
	Purpose string
	// Valid is true when Status is 0: not revoked, not suspended, no
	// refresh pending, or the first message.
	Valid bool
	// Message is the statusMessage message for Status ("set" or "unset"
	// for one-bit entries without statusMessage).
	Message string
}

// Check answers for one entry from the status list credential's subject,
// after the caller has verified that credential's proof and validity
// period: it validates the entry, requires the list to carry the entry's
// statusPurpose (ErrVerification otherwise), decodes the list with the
// entry's statusSize and the given options (ErrListLength below the
// minimum), and reads the entry's index (ErrRange outside the list).
func Check(entry *BitstringStatusListEntry, subject *BitstringStatusList, opts ...Option) (Result, error) {
	if entry == nil || subject == nil {
		return Result{}, fmt.Errorf("check status: %w: missing entry or list", ErrMalformed)
	}
	if err := entry.Validate(); err != nil {
		return Result{}, fmt.Errorf("check status: entry: %w", err)
	}
	if err := subject.Validate(); err != nil {
		return Result{}, fmt.Errorf("check status: list: %w", err)
	}
	if !slices.Contains(subject.StatusPurpose, entry.StatusPurpose) {
		return Result{}, fmt.Errorf("check status: %w: the list's statusPurpose %v does not include %q",
			ErrVerification, []string(subject.StatusPurpose), entry.StatusPurpose)
	}
	size := entry.Size()
	if subject.StatusSize != 0 && subject.StatusSize != size {
		return Result{}, fmt.Errorf("check status: %w: entry statusSize %d, list statusSize %d",
			ErrVerification, size, subject.StatusSize)
	}
	index, err := entry.Index()
	if err != nil {
		return Result{}, fmt.Errorf("check status: %w", err)
	}
	list, err := Decode(subject.EncodedList, size, opts...)
	if err != nil {
		return Result{}, fmt.Errorf("check status: %w", err)
	}
	v, err := list.Get(index)
	if err != nil {
		return Result{}, fmt.Errorf("check status: %w", err)
	}
	return Result{Status: v, Purpose: entry.StatusPurpose, Valid: v == 0, Message: entry.Message(v)}, nil
}
