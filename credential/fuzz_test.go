package credential

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// FuzzParseCredential: arbitrary bytes never make ParseCredential (or
// ParsePresentation) panic, and whatever parses re-marshals to JSON that
// parses again to the same bytes.
func FuzzParseCredential(f *testing.F) {
	f.Add([]byte(baseVC))
	f.Add([]byte(baseV1))
	f.Add([]byte(basePresentation))
	f.Add([]byte(`{"@context":"https://www.w3.org/ns/credentials/v2","type":"VerifiableCredential","issuer":"did:a:b","credentialSubject":{"n":1e400}}`))
	f.Add([]byte(`{"a":{"a":{"a":[[[[[]]]]]}}}`))
	if files, err := filepath.Glob(filepath.Join("testdata", "vcdm2-suite", "*.json")); err == nil {
		for _, name := range files {
			if b, err := os.ReadFile(name); err == nil {
				f.Add(b)
			}
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if p, err := ParsePresentation(data); err == nil {
			for _, pc := range p.VerifiableCredentials() {
				if pc.Embedded != nil {
					_ = pc.Embedded.Validate()
				}
			}
			_, _ = p.Holder()
		}
		if m, err := DecodeObject(data); err == nil && IsEnvelope(m) {
			_, _ = ParseEnvelope(m)
		}
		c, err := ParseCredential(data)
		if err != nil {
			if _, ok := err.(*ValidationError); !ok {
				t.Fatalf("error is %T, not *ValidationError", err)
			}
			return
		}
		// exercise the accessors
		_, _ = c.Issuer()
		_, _ = c.ValidFrom()
		_, _ = c.NotAfter()
		_ = c.Subjects()
		_ = c.Types()
		_ = c.Version()
		out, err := json.Marshal(c)
		if err != nil {
			t.Fatalf("marshal: %v", err)
		}
		c2, err := ParseCredential(out)
		if err != nil {
			t.Fatalf("re-parse of %s: %v", out, err)
		}
		out2, err := json.Marshal(c2)
		if err != nil {
			t.Fatalf("re-marshal: %v", err)
		}
		if string(out) != string(out2) {
			t.Fatalf("round trip changed the document:\n%s\n%s", out, out2)
		}
	})
}
