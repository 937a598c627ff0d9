package statuslist

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/agentid/agentid/internal/testvectors"
)

func validEntry() BitstringStatusListEntry {
	return BitstringStatusListEntry{
		ID: "https://issuer.example.com/status/3#94567", Type: EntryType,
		StatusPurpose: PurposeRevocation, StatusListIndex: "94567",
		StatusListCredential: "https://issuer.example.com/status/3",
	}
}

func messages(n int) []StatusMessage {
	m := make([]StatusMessage, n)
	for i := range m {
		m[i] = StatusMessage{Status: fmt.Sprintf("0x%x", i), Message: fmt.Sprintf("m%d", i)}
	}
	return m
}

func TestParseIndex(t *testing.T) {
	for s, want := range map[string]int{"0": 0, "7": 7, "94567": 94567, "134217728": 134217728} {
		if got, err := ParseIndex(s); err != nil || got != want {
			t.Errorf("%q: %d %v", s, got, err)
		}
	}
	for _, s := range []string{"", "-1", "01", "00", "+5", " 5", "5 ", "1e3", "1.0", "0x10", "５", "abc"} {
		if _, err := ParseIndex(s); !errors.Is(err, ErrMalformed) {
			t.Errorf("%q: %v", s, err)
		}
	}
	for _, s := range []string{"134217729", "99999999999", "123456789012345678901234567890"} {
		if _, err := ParseIndex(s); !errors.Is(err, ErrRange) {
			t.Errorf("%q: %v", s, err)
		}
	}
}

func TestEntryValidate(t *testing.T) {
	ok := []func(*BitstringStatusListEntry){
		func(e *BitstringStatusListEntry) {},
		func(e *BitstringStatusListEntry) { e.ID = "" },
		func(e *BitstringStatusListEntry) { e.StatusPurpose = PurposeSuspension },
		func(e *BitstringStatusListEntry) { e.StatusPurpose = PurposeRefresh },
		func(e *BitstringStatusListEntry) { e.StatusSize = 1; e.StatusMessage = messages(2) },
		func(e *BitstringStatusListEntry) {
			e.StatusPurpose = PurposeMessage
			e.StatusSize = 2
			e.StatusMessage = messages(4)
			e.StatusReference = Strings{"https://example.org/status-dictionary/"}
		},
		func(e *BitstringStatusListEntry) { e.StatusSize = 8; e.StatusMessage = messages(256) },
	}
	for i, mod := range ok {
		e := validEntry()
		mod(&e)
		if err := e.Validate(); err != nil {
			t.Errorf("ok case %d: %v", i, err)
		}
	}
	bad := map[string]func(*BitstringStatusListEntry){
		"type":                   func(e *BitstringStatusListEntry) { e.Type = "StatusList2021Entry" },
		"unknown purpose":        func(e *BitstringStatusListEntry) { e.StatusPurpose = "expiry" },
		"empty purpose":          func(e *BitstringStatusListEntry) { e.StatusPurpose = "" },
		"index -1":               func(e *BitstringStatusListEntry) { e.StatusListIndex = "-1" },
		"index 01":               func(e *BitstringStatusListEntry) { e.StatusListIndex = "01" },
		"index 1e3":              func(e *BitstringStatusListEntry) { e.StatusListIndex = "1e3" },
		"index space":            func(e *BitstringStatusListEntry) { e.StatusListIndex = " 5" },
		"index empty":            func(e *BitstringStatusListEntry) { e.StatusListIndex = "" },
		"index huge":             func(e *BitstringStatusListEntry) { e.StatusListIndex = "99999999999999999999" },
		"list URL relative":      func(e *BitstringStatusListEntry) { e.StatusListCredential = "/status/3" },
		"list URL empty":         func(e *BitstringStatusListEntry) { e.StatusListCredential = "" },
		"id is the list":         func(e *BitstringStatusListEntry) { e.ID = e.StatusListCredential },
		"id not a URL":           func(e *BitstringStatusListEntry) { e.ID = "entry 1" },
		"statusSize -1":          func(e *BitstringStatusListEntry) { e.StatusSize = -1 },
		"statusSize 9":           func(e *BitstringStatusListEntry) { e.StatusSize = 9; e.StatusMessage = messages(512) },
		"size 2 without message": func(e *BitstringStatusListEntry) { e.StatusSize = 2 },
		"size 2, 2 messages":     func(e *BitstringStatusListEntry) { e.StatusSize = 2; e.StatusMessage = messages(2) },
		"size 2, 3 messages":     func(e *BitstringStatusListEntry) { e.StatusSize = 2; e.StatusMessage = messages(3) },
		"size 1, 1 message":      func(e *BitstringStatusListEntry) { e.StatusMessage = messages(1) },
		"size 1, 4 messages":     func(e *BitstringStatusListEntry) { e.StatusMessage = messages(4) },
		"message status no 0x": func(e *BitstringStatusListEntry) {
			e.StatusSize = 1
			e.StatusMessage = []StatusMessage{{Status: "0", Message: "a"}, {Status: "0x1", Message: "b"}}
		},
		"message status twice": func(e *BitstringStatusListEntry) {
			e.StatusMessage = []StatusMessage{{Status: "0x1", Message: "a"}, {Status: "0x01", Message: "b"}}
		},
		"message status too big": func(e *BitstringStatusListEntry) {
			e.StatusMessage = []StatusMessage{{Status: "0x0", Message: "a"}, {Status: "0x2", Message: "b"}}
		},
		"statusReference relative": func(e *BitstringStatusListEntry) { e.StatusReference = Strings{"status-dictionary"} },
	}
	for name, mod := range bad {
		e := validEntry()
		mod(&e)
		err := e.Validate()
		if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrRange) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestEntryJSON(t *testing.T) {
	var e BitstringStatusListEntry
	in := `{"id":"https://e.example/s#1","type":"BitstringStatusListEntry","statusPurpose":"message",
	  "statusListIndex":"1","statusListCredential":"https://e.example/s","statusSize":1,
	  "statusMessage":[{"status":"0x0","message":"a","extra":true},{"status":"0x1","message":"b"}],
	  "statusReference":["https://e.example/a","https://e.example/b"]}`
	if err := json.Unmarshal([]byte(in), &e); err != nil {
		t.Fatal(err)
	}
	if e.StatusSize != 1 || len(e.StatusMessage) != 2 || len(e.StatusReference) != 2 || e.Validate() != nil {
		t.Fatalf("%+v", e)
	}
	if e.Message(1) != "b" {
		t.Errorf("Message(1) = %q", e.Message(1))
	}
	for _, bad := range []string{
		`{"statusSize":0}`, `{"statusSize":-1}`, `{"statusSize":1.5}`, `{"statusSize":"2"}`,
		`{"statusMessage":[{"status":"0x0"}]}`, `{"statusMessage":[{"message":"x"}]}`,
		`{"statusMessage":[{"status":0,"message":"x"}]}`, `{"statusMessage":["x"]}`,
		`{"statusReference":[]}`, `{"statusReference":7}`, `{"statusReference":[7]}`,
		`{"statusListIndex":94567}`,
	} {
		var e BitstringStatusListEntry
		if err := json.Unmarshal([]byte(bad), &e); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
	out, _ := json.Marshal(validEntry())
	if strings.Contains(string(out), "statusSize") || strings.Contains(string(out), "statusMessage") {
		t.Errorf("absent fields written: %s", out)
	}
}

// The spec's message example (example 2) lists three of the four messages
// a two-bit entry needs, then "...": with the ellipsis removed it must be
// refused, and accepted once the fourth message is there.
func TestSpecMessageExample(t *testing.T) {
	raw, err := os.ReadFile(testvectors.Path(t, "bitstring-status-list", "spec-examples",
		"example-2-example-statuslistcredential-using-more-complex-entries.jsonc.txt"))
	if err != nil {
		t.Fatal(err)
	}
	s := regexp.MustCompile(`,\s*\.\.\.`).ReplaceAllString(string(raw), "")
	var vc struct {
		CredentialStatus BitstringStatusListEntry `json:"credentialStatus"`
	}
	if err := json.Unmarshal([]byte(s), &vc); err != nil {
		t.Fatal(err)
	}
	e := vc.CredentialStatus
	if e.StatusSize != 2 || len(e.StatusMessage) != 3 {
		t.Fatalf("%+v", e)
	}
	if err := e.Validate(); !errors.Is(err, ErrMalformed) {
		t.Fatalf("three messages for two bits: %v", err)
	}
	e.StatusMessage = append(e.StatusMessage, StatusMessage{Status: "0x3", Message: "undefined"})
	if err := e.Validate(); err != nil {
		t.Fatal(err)
	}
	// A list for it: index 492847 set to 2 ("rejected").
	list, err := New(MinEntries*4, 2)
	if err != nil {
		t.Fatal(err)
	}
	_ = list.Set(492847, 2)
	vcDoc, err := NewCredential(CredentialOptions{ID: "https://example.com/credentials/status/8", Issuer: "did:example:12345",
		Purposes: []string{PurposeMessage}, List: list})
	if err != nil {
		t.Fatal(err)
	}
	subject, err := SubjectOf(vcDoc)
	if err != nil {
		t.Fatal(err)
	}
	res, err := Check(&e, subject)
	if err != nil || res.Status != 2 || res.Valid || res.Message != "rejected" {
		t.Fatalf("%+v %v", res, err)
	}
}

func TestCheck(t *testing.T) {
	list, _ := New(MinEntries, 1)
	_ = list.Set(94567, 1)
	enc, _ := list.Encode()
	subject := &BitstringStatusList{ID: "https://issuer.example.com/status/3#list", Type: ListType,
		StatusPurpose: Strings{PurposeRevocation}, EncodedList: enc}
	e := validEntry()
	res, err := Check(&e, subject)
	if err != nil || res.Status != 1 || res.Valid || res.Purpose != PurposeRevocation || res.Message != "set" {
		t.Fatalf("%+v %v", res, err)
	}
	e.StatusListIndex = "94566"
	if res, err := Check(&e, subject); err != nil || !res.Valid {
		t.Fatalf("%+v %v", res, err)
	}

	cases := map[string]struct {
		entry   func(*BitstringStatusListEntry)
		subject func(*BitstringStatusList)
		want    error
	}{
		"purpose mismatch":  {func(e *BitstringStatusListEntry) { e.StatusPurpose = PurposeSuspension }, nil, ErrVerification},
		"index past end":    {func(e *BitstringStatusListEntry) { e.StatusListIndex = "131072" }, nil, ErrRange},
		"bad index":         {func(e *BitstringStatusListEntry) { e.StatusListIndex = "01" }, nil, ErrMalformed},
		"2-bit on 16 KiB":   {func(e *BitstringStatusListEntry) { e.StatusSize = 2; e.StatusMessage = messages(4) }, nil, ErrListLength},
		"size mismatch":     {nil, func(s *BitstringStatusList) { s.StatusSize = 2 }, ErrVerification},
		"subject type":      {nil, func(s *BitstringStatusList) { s.Type = "StatusList2021" }, ErrMalformed},
		"unknown purpose":   {nil, func(s *BitstringStatusList) { s.StatusPurpose = Strings{"revocation", "x"} }, ErrMalformed},
		"no purpose":        {nil, func(s *BitstringStatusList) { s.StatusPurpose = nil }, ErrMalformed},
		"garbage list":      {nil, func(s *BitstringStatusList) { s.EncodedList = "uAAAA" }, ErrMalformed},
		"wrong multibase":   {nil, func(s *BitstringStatusList) { s.EncodedList = "z" + s.EncodedList[1:] }, ErrMalformed},
		"negative ttl":      {nil, func(s *BitstringStatusList) { s.TTL = -1 }, ErrMalformed},
		"empty encodedList": {nil, func(s *BitstringStatusList) { s.EncodedList = "" }, ErrMalformed},
	}
	for name, c := range cases {
		e := validEntry()
		s := *subject
		if c.entry != nil {
			c.entry(&e)
		}
		if c.subject != nil {
			c.subject(&s)
		}
		if _, err := Check(&e, &s); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", name, err, c.want)
		}
	}
	// A list with several purposes answers for each.
	s := *subject
	s.StatusPurpose = Strings{PurposeRevocation, PurposeSuspension}
	e = validEntry()
	e.StatusPurpose = PurposeSuspension
	if _, err := Check(&e, &s); err != nil {
		t.Fatal(err)
	}
	if _, err := Check(nil, &s); !errors.Is(err, ErrMalformed) {
		t.Fatal(err)
	}
}

func TestNewCredential(t *testing.T) {
	list := onePercentList(t)
	from := time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC)
	vc, err := NewCredential(CredentialOptions{ID: "https://issuer.example.com/status/3", Issuer: "did:web:issuer.example.com",
		Purposes: []string{PurposeRevocation, PurposeSuspension}, List: list,
		ValidFrom: from, ValidUntil: from.Add(24 * time.Hour), TTL: 5 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(vc)
	var back map[string]any
	_ = json.Unmarshal(b, &back)
	if back["validFrom"] != "2026-11-29T10:00:00Z" || back["validUntil"] != "2026-11-30T10:00:00Z" {
		t.Errorf("dates: %s", b)
	}
	if ctx := back["@context"].([]any); len(ctx) != 1 || ctx[0] != ContextV2 {
		t.Errorf("context %v", ctx)
	}
	subject, err := SubjectOf(back)
	if err != nil {
		t.Fatal(err)
	}
	if subject.ID != "https://issuer.example.com/status/3#list" || subject.TTL != 300000 || len(subject.StatusPurpose) != 2 {
		t.Errorf("%+v", subject)
	}
	e := validEntry()
	e.StatusListCredential = "https://issuer.example.com/status/3"
	e.StatusListIndex = "100"
	if res, err := Check(&e, subject); err != nil || res.Status != 1 {
		t.Errorf("%+v %v", res, err)
	}

	for name, o := range map[string]CredentialOptions{
		"no id":       {Issuer: "did:example:1", Purposes: []string{"revocation"}, List: list},
		"no issuer":   {ID: "https://x.example/1", Purposes: []string{"revocation"}, List: list},
		"no list":     {ID: "https://x.example/1", Issuer: "did:example:1", Purposes: []string{"revocation"}},
		"no purpose":  {ID: "https://x.example/1", Issuer: "did:example:1", List: list},
		"bad purpose": {ID: "https://x.example/1", Issuer: "did:example:1", Purposes: []string{"x"}, List: list},
		"until<from":  {ID: "https://x.example/1", Issuer: "did:example:1", Purposes: []string{"revocation"}, List: list, ValidFrom: from, ValidUntil: from},
	} {
		if _, err := NewCredential(o); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v", name, err)
		}
	}
	for name, doc := range map[string]map[string]any{
		"not a status list": {"type": []any{"VerifiableCredential"}, "credentialSubject": map[string]any{}},
		"two subjects":      {"type": "BitstringStatusListCredential", "credentialSubject": []any{map[string]any{}, map[string]any{}}},
		"subject string":    {"type": []any{"BitstringStatusListCredential"}, "credentialSubject": "x"},
		"ttl float":         {"type": []any{"BitstringStatusListCredential"}, "credentialSubject": map[string]any{"type": ListType, "statusPurpose": "revocation", "encodedList": "uA", "ttl": 1.5}},
	} {
		if _, err := SubjectOf(doc); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
