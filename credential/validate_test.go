package credential

import (
	"encoding/json"
	"testing"
)

// baseVC is a VC 2.0 credential that uses every property Validate checks.
const baseVC = `{
  "@context": ["https://www.w3.org/ns/credentials/v2", "https://www.w3.org/ns/credentials/examples/v2"],
  "id": "urn:uuid:58172aac-d8ba-11ed-83dd-0b3aef56cc33",
  "type": ["VerifiableCredential", "ExampleCredential"],
  "issuer": "did:example:issuer",
  "validFrom": "2026-01-01T00:00:00Z",
  "validUntil": "2027-01-01T00:00:00Z",
  "name": "Example",
  "description": {"@value": "An example credential", "@language": "en", "@direction": "ltr"},
  "credentialSubject": {"id": "did:example:subject", "claim": "x"},
  "credentialStatus": {"id": "https://example.com/status/3#94567", "type": "BitstringStatusListEntry",
    "statusPurpose": "revocation", "statusListIndex": "94567", "statusListCredential": "https://example.com/status/3"},
  "credentialSchema": {"id": "https://example.com/schema.json", "type": "JsonSchema"},
  "refreshService": {"type": "ExampleRefreshService", "id": "https://example.com/refresh"},
  "termsOfUse": {"type": "ExamplePolicy"},
  "evidence": [{"type": ["Evidence"], "id": "https://example.com/evidence/1"}],
  "relatedResource": [
    {"id": "https://www.w3.org/ns/credentials/v2", "mediaType": "application/ld+json",
     "digestSRI": "sha384-NSOcNpmdIVUxIJGvGUoe22FjTWrXiaXlsZ8q6912LdnR3KraQO2n75Ica4wK4Qeg"},
    {"id": "https://example.com/logo.png", "digestMultibase": "uJKGMkOmFbVJhEfKTduMC2XCyvRAYLjOVmZWwIH1wQ7k"}
  ],
  "proof": {"type": "DataIntegrityProof", "cryptosuite": "eddsa-rdfc-2022", "proofPurpose": "assertionMethod",
    "verificationMethod": "did:example:issuer#key-1", "proofValue": "z3FXQ"}
}`

// baseV1 is a VC 1.1 credential.
const baseV1 = `{
  "@context": ["https://www.w3.org/2018/credentials/v1"],
  "type": ["VerifiableCredential"],
  "issuer": {"id": "did:example:issuer", "name": "Issuer"},
  "issuanceDate": "2020-01-01T19:23:24Z",
  "expirationDate": "2030-01-01T19:23:24Z",
  "credentialSubject": {"id": "did:example:subject"}
}`

func TestValidateCredential(t *testing.T) {
	tests := []struct {
		name  string
		base  string
		edits []edit
		want  []string // pointers of the expected problems; none = valid
	}{
		{name: "base 2.0 credential is valid", base: baseVC},
		{name: "base 1.1 credential is valid", base: baseV1},

		// @context
		{"context missing", baseVC, []edit{del("/@context")}, []string{"/@context"}},
		{"context null", baseVC, []edit{set("/@context", `null`)}, []string{"/@context"}},
		{"context single string", baseVC, []edit{set("/@context", `"https://www.w3.org/ns/credentials/v2"`)}, nil},
		{"context number", baseVC, []edit{set("/@context", `5`)}, []string{"/@context"}},
		{"context empty array", baseVC, []edit{set("/@context", `[]`)}, []string{"/@context"}},
		{"context first entry not base", baseVC, []edit{set("/@context", `["https://www.w3.org/ns/credentials/examples/v2"]`)}, []string{"/@context/0"}},
		{"context single non-base string", baseVC, []edit{set("/@context", `"https://example.com/ctx"`)}, []string{"/@context"}},
		{"context base not first", baseVC, []edit{set("/@context", `[{"Ex":"https://example.org/#Ex"}, "https://www.w3.org/ns/credentials/v2"]`)}, []string{"/@context/0"}},
		{"context later entry not a URL", baseVC, []edit{set("/@context/1", `"https ://not-a-url/contexts/example/v1"`)}, []string{"/@context/1"}},
		{"context later entry a number", baseVC, []edit{set("/@context/1", `123192875`)}, []string{"/@context/1"}},
		{"context later entry null", baseVC, []edit{set("/@context/1", `null`)}, []string{"/@context/1"}},
		{"context object ok", baseVC, []edit{set("/@context/1", `{"ExampleCredential": "https://example.org/#ExampleCredential"}`)}, nil},
		{"context object maps a term to a non-IRI", baseVC, []edit{set("/@context/1", `{"ExampleCredential": "https ://not-a-url#ExampleCredential"}`)}, []string{"/@context/1/ExampleCredential"}},
		{"context object @id not an IRI", baseVC, []edit{set("/@context/1", `{"claim": {"@id": "https://ex ample.org/claim"}}`)}, []string{"/@context/1/claim/@id"}},

		// id
		{"id null", baseVC, []edit{set("/id", `null`)}, []string{"/id"}},
		{"id array", baseVC, []edit{set("/id", `["https://example.org/credentials/1", "https://example.net/credentials/1"]`)}, []string{"/id"}},
		{"id not a URL", baseVC, []edit{set("/id", `"https ://not-a-url/vcs/343cf54b"`)}, []string{"/id"}},
		{"id relative", baseVC, []edit{set("/id", `"/credentials/1"`)}, []string{"/id"}},
		{"id https URL", baseVC, []edit{set("/id", `"https://example.org/credentials/1"`)}, nil},
		{"id DID", baseVC, []edit{set("/id", `"did:example:credential:1"`)}, nil},
		{"id absent", baseVC, []edit{del("/id")}, nil},

		// type
		{"type missing", baseVC, []edit{del("/type")}, []string{"/type"}},
		{"type without VerifiableCredential", baseVC, []edit{set("/type", `["RelationshipCredential"]`)}, []string{"/type"}},
		{"type empty array", baseVC, []edit{set("/type", `[]`)}, []string{"/type"}},
		{"type empty string", baseVC, []edit{set("/type", `""`)}, []string{"/type"}},
		{"type value not a string", baseVC, []edit{set("/type", `["VerifiableCredential", 7]`)}, []string{"/type/1"}},
		{"type object", baseVC, []edit{set("/type", `{"a":"VerifiableCredential"}`)}, []string{"/type"}},
		{"type single string", baseVC, []edit{set("/type", `"VerifiableCredential"`)}, nil},
		{"type order free, URL types", baseVC, []edit{set("/type", `["https://example.org/#A", "VerifiableCredential"]`)}, nil},

		// issuer
		{"issuer missing", baseVC, []edit{del("/issuer")}, []string{"/issuer"}},
		{"issuer null", baseVC, []edit{set("/issuer", `null`)}, []string{"/issuer"}},
		{"issuer not a URL", baseVC, []edit{set("/issuer", `"fake-issuer"`)}, []string{"/issuer"}},
		{"issuer array", baseVC, []edit{set("/issuer", `["did:example:a"]`)}, []string{"/issuer"}},
		{"issuer number", baseVC, []edit{set("/issuer", `1`)}, []string{"/issuer"}},
		{"issuer object", baseVC, []edit{set("/issuer", `{"id": "did:example:issuer", "name": "Acme"}`)}, nil},
		{"issuer object without id", baseVC, []edit{set("/issuer", `{}`)}, []string{"/issuer/id"}},
		{"issuer object id null", baseVC, []edit{set("/issuer", `{"id": null}`)}, []string{"/issuer/id"}},
		{"issuer object id not a URL", baseVC, []edit{set("/issuer", `{"id": "fake-issuer"}`)}, []string{"/issuer/id"}},
		{"issuer name extra key", baseVC, []edit{set("/issuer", `{"id": "did:example:i", "name": {"@value": "I", "@language": "en", "url": "did:example:i"}}`)}, []string{"/issuer/name/url"}},
		{"issuer description multi-language", baseVC, []edit{set("/issuer", `{"id": "did:example:i", "description": [{"@value": "Dog", "@language": "en"}, {"@value": "Chien", "@language": "fr"}]}`)}, nil},

		// credentialSubject
		{"subject missing", baseVC, []edit{del("/credentialSubject")}, []string{"/credentialSubject"}},
		{"subject null", baseVC, []edit{set("/credentialSubject", `null`)}, []string{"/credentialSubject"}},
		{"subject empty object", baseVC, []edit{set("/credentialSubject", `{}`)}, []string{"/credentialSubject"}},
		{"subject empty array", baseVC, []edit{set("/credentialSubject", `[]`)}, []string{"/credentialSubject"}},
		{"subject array with an empty object", baseVC, []edit{set("/credentialSubject", `[{"id": "did:example:a"}, {}]`)}, []string{"/credentialSubject/1"}},
		{"subject array with a string", baseVC, []edit{set("/credentialSubject", `["did:example:a"]`)}, []string{"/credentialSubject/0"}},
		{"subject string", baseVC, []edit{set("/credentialSubject", `"did:example:a"`)}, []string{"/credentialSubject"}},
		{"subject id array", baseVC, []edit{set("/credentialSubject", `{"id": ["did:example:one", "did:example:two"]}`)}, []string{"/credentialSubject/id"}},
		{"subject id not a URL", baseVC, []edit{set("/credentialSubject/id", `"alice"`)}, []string{"/credentialSubject/id"}},
		{"subject claims without id", baseVC, []edit{set("/credentialSubject", `{"name": "Alice"}`)}, nil},
		{"subject only an id", baseVC, []edit{set("/credentialSubject", `{"id": "did:example:a"}`)}, nil},
		{"two subjects", baseVC, []edit{set("/credentialSubject", `[{"id": "did:example:a"}, {"id": "did:example:b"}]`)}, nil},

		// validity period
		{"validFrom not a dateTimeStamp", baseVC, []edit{set("/validFrom", `"Sat 25 Feb 2023 07:16:31 PM CST"`)}, []string{"/validFrom"}},
		{"validFrom without time zone", baseVC, []edit{set("/validFrom", `"2026-01-01T00:00:00"`)}, []string{"/validFrom"}},
		{"validFrom impossible date", baseVC, []edit{set("/validFrom", `"2026-02-30T00:00:00Z"`)}, []string{"/validFrom"}},
		{"validFrom space separator", baseVC, []edit{set("/validFrom", `"2026-01-01 00:00:00Z"`)}, []string{"/validFrom"}},
		{"validFrom number", baseVC, []edit{set("/validFrom", `1700000000`)}, []string{"/validFrom"}},
		{"validFrom null", baseVC, []edit{set("/validFrom", `null`)}, []string{"/validFrom"}},
		{"validFrom with offset", baseVC, []edit{set("/validFrom", `"2025-12-31T19:10:39-06:00"`)}, nil},
		{"validFrom with fraction", baseVC, []edit{set("/validFrom", `"2025-02-26T01:02:58.447Z"`)}, nil},
		{"validFrom far future", baseVC, []edit{set("/validFrom", `"4023-02-26T01:02:58.447Z"`), del("/validUntil")}, nil},
		{"validUntil RFC 1123", baseVC, []edit{set("/validUntil", `"Sun, 26 Feb 2023 01:22:14 +0000"`)}, []string{"/validUntil"}},
		{"validUntil before validFrom", baseVC, []edit{set("/validUntil", `"2025-12-31T23:59:59Z"`)}, []string{"/validUntil"}},
		{"validUntil equal to validFrom", baseVC, []edit{set("/validUntil", `"2026-01-01T00:00:00Z"`)}, nil},
		{"validUntil later only through its offset", baseVC, []edit{set("/validFrom", `"2023-02-26T01:21:23Z"`), set("/validUntil", `"2023-02-25T19:21:29-06:00"`)}, nil},
		{"validUntil earlier only through its offset", baseVC, []edit{set("/validFrom", `"2023-02-26T01:21:23Z"`), set("/validUntil", `"2023-02-26T01:21:29+06:00"`)}, []string{"/validUntil"}},

		// VC 1.1 dates
		{"1.1 issuanceDate missing", baseV1, []edit{del("/issuanceDate")}, []string{"/issuanceDate"}},
		{"1.1 issuanceDate malformed", baseV1, []edit{set("/issuanceDate", `"01/01/2020"`)}, []string{"/issuanceDate"}},
		{"1.1 issuanceDate without zone is a dateTime", baseV1, []edit{set("/issuanceDate", `"2020-01-01T19:23:24"`)}, nil},
		{"1.1 expirationDate malformed", baseV1, []edit{set("/expirationDate", `"tomorrow"`)}, []string{"/expirationDate"}},
		{"2.0 needs no issuanceDate", baseVC, nil, nil},

		// credentialStatus
		{"status without type", baseVC, []edit{del("/credentialStatus/type")}, []string{"/credentialStatus/type"}},
		{"status type a number", baseVC, []edit{set("/credentialStatus/type", `2`)}, []string{"/credentialStatus/type"}},
		{"status id array", baseVC, []edit{set("/credentialStatus/id", `["did:example:status:1", "did:example:status:2"]`)}, []string{"/credentialStatus/id"}},
		{"status id not a URL", baseVC, []edit{set("/credentialStatus/id", `"https ://not-a-url/statusList/4"`)}, []string{"/credentialStatus/id"}},
		{"status without id", baseVC, []edit{del("/credentialStatus/id")}, nil},
		{"status array entry not an object", baseVC, []edit{set("/credentialStatus", `[{"type": "X"}, "https://example.com/s"]`)}, []string{"/credentialStatus/1"}},
		{"status array second entry untyped", baseVC, []edit{set("/credentialStatus", `[{"type": "X"}, {"id": "https://example.com/s"}]`)}, []string{"/credentialStatus/1/type"}},
		{"status null", baseVC, []edit{set("/credentialStatus", `null`)}, []string{"/credentialStatus"}},
		{"status empty array", baseVC, []edit{set("/credentialStatus", `[]`)}, []string{"/credentialStatus"}},

		// credentialSchema
		{"schema without id", baseVC, []edit{del("/credentialSchema/id")}, []string{"/credentialSchema/id"}},
		{"schema without type", baseVC, []edit{del("/credentialSchema/type")}, []string{"/credentialSchema/type"}},
		{"schema id not a URL", baseVC, []edit{set("/credentialSchema/id", `"https ://not-a-url.org/cd28a5c0"`)}, []string{"/credentialSchema/id"}},
		{"schemas array", baseVC, []edit{set("/credentialSchema", `[{"id": "did:example:schemas/1", "type": "X"}, {"id": "did:example:schemas/2", "type": "X"}]`)}, nil},

		// refreshService, termsOfUse, evidence, proof
		{"refreshService without type", baseVC, []edit{del("/refreshService/type")}, []string{"/refreshService/type"}},
		{"refreshService id not a URL", baseVC, []edit{set("/refreshService/id", `"refresh"`)}, []string{"/refreshService/id"}},
		{"termsOfUse without type", baseVC, []edit{set("/termsOfUse", `{}`)}, []string{"/termsOfUse/type"}},
		{"termsOfUse id only", baseVC, []edit{set("/termsOfUse", `{"id": "did:example:terms/1"}`)}, []string{"/termsOfUse/type"}},
		{"evidence without type", baseVC, []edit{set("/evidence", `{}`)}, []string{"/evidence/type"}},
		{"second evidence without type", baseVC, []edit{set("/evidence", `[{"type": "A"}, {"id": "https://example.com/e"}]`)}, []string{"/evidence/1/type"}},
		{"evidence string", baseVC, []edit{set("/evidence", `"https://example.com/e"`)}, []string{"/evidence"}},
		{"proof without type", baseVC, []edit{del("/proof/type")}, []string{"/proof/type"}},
		{"proof set", baseVC, []edit{set("/proof", `[{"type": "DataIntegrityProof"}, {"type": "DataIntegrityProof"}]`)}, nil},

		// relatedResource
		{"relatedResource strings", baseVC, []edit{set("/relatedResource", `["https://www.w3.org/ns/credentials/v2"]`)}, []string{"/relatedResource/0"}},
		{"relatedResource without id", baseVC, []edit{del("/relatedResource/0/id")}, []string{"/relatedResource/0/id"}},
		{"relatedResource id not a URL", baseVC, []edit{set("/relatedResource/0/id", `"v2"`)}, []string{"/relatedResource/0/id"}},
		{"relatedResource duplicate ids", baseVC, []edit{set("/relatedResource/1/id", `"https://www.w3.org/ns/credentials/v2"`)}, []string{"/relatedResource/1/id"}},
		{"relatedResource without digest", baseVC, []edit{del("/relatedResource/0/digestSRI")}, []string{"/relatedResource/0"}},
		{"relatedResource SRI in base64url", baseVC, []edit{set("/relatedResource/0/digestSRI", `"sha384-_rCVIV7fSXXTNIvpiq26jRDyj8JG8TDjij-tD0ewLk4JpnXEz6a5AeeY_1qQ0d0P"`)}, []string{"/relatedResource/0/digestSRI"}},
		{"relatedResource SRI unknown algorithm", baseVC, []edit{set("/relatedResource/0/digestSRI", `"sha1-2jmj7l5rSw0yVb/vlWAYkK/YBwk="`)}, []string{"/relatedResource/0/digestSRI"}},
		{"relatedResource SRI wrong length", baseVC, []edit{set("/relatedResource/0/digestSRI", `"sha256-NSOcNpmdIVUxIJGvGUoe22FjTWrXiaXlsZ8q6912LdnR3KraQO2n75Ica4wK4Qeg"`)}, []string{"/relatedResource/0/digestSRI"}},
		{"relatedResource SRI two expressions", baseVC, []edit{set("/relatedResource/0/digestSRI", `"sha384-NSOcNpmdIVUxIJGvGUoe22FjTWrXiaXlsZ8q6912LdnR3KraQO2n75Ica4wK4Qeg sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="`)}, nil},
		{"relatedResource multibase malformed", baseVC, []edit{set("/relatedResource/1/digestMultibase", `"!notmultibase"`)}, []string{"/relatedResource/1/digestMultibase"}},
		{"relatedResource multibase a number", baseVC, []edit{set("/relatedResource/1/digestMultibase", `12`)}, []string{"/relatedResource/1/digestMultibase"}},
		{"relatedResource mediaType a number", baseVC, []edit{set("/relatedResource/0/mediaType", `1`)}, []string{"/relatedResource/0/mediaType"}},
		{"relatedResource single object", baseVC, []edit{set("/relatedResource", `{"id": "https://example.com/x", "digestMultibase": "uJKGMkOmFbVJhEfKTduMC2XCyvRAYLjOVmZWwIH1wQ7k"}`)}, nil},

		// name and description
		{"name a number", baseVC, []edit{set("/name", `1`)}, []string{"/name"}},
		{"name null", baseVC, []edit{set("/name", `null`)}, []string{"/name"}},
		{"name language object with extra key", baseVC, []edit{set("/name", `{"@value": "Example", "@language": "en", "url": "did:example:credential"}`)}, []string{"/name/url"}},
		{"name language object without value", baseVC, []edit{set("/name", `{"@language": "en"}`)}, []string{"/name/@value"}},
		{"name bad direction", baseVC, []edit{set("/name", `{"@value": "x", "@direction": "up"}`)}, []string{"/name/@direction"}},
		{"name bad language tag", baseVC, []edit{set("/name", `{"@value": "x", "@language": "e n"}`)}, []string{"/name/@language"}},
		{"name empty array", baseVC, []edit{set("/name", `[]`)}, []string{"/name"}},
		{"name multi-language", baseVC, []edit{set("/name", `[{"@value": "Dog", "@language": "en"}, {"@value": "Chien", "@language": "fr"}, "Cane"]`)}, nil},
		{"description extra key", baseVC, []edit{set("/description", `{"@value": "An Example", "@language": "en", "url": "did:example:credential"}`)}, []string{"/description/url"}},
		{"description array entry a number", baseVC, []edit{set("/description", `["ok", 3]`)}, []string{"/description/1"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := NewCredential(apply(t, tc.base, tc.edits...))
			checkResult(t, c.Validate(), tc.want)
		})
	}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	doc := apply(t, baseVC,
		set("/id", `null`),
		set("/issuer", `"fake-issuer"`),
		set("/credentialSubject", `{}`),
		set("/validFrom", `"yesterday"`),
		del("/credentialSchema/type"),
		set("/name", `{"@value": "x", "bad": 1}`),
	)
	err := NewCredential(doc).Validate()
	checkResult(t, err, []string{"/id", "/issuer", "/credentialSubject", "/validFrom", "/credentialSchema/type", "/name/bad"})
	verr := err.(*ValidationError)
	if !verr.Has("/issuer") || verr.Has("/type") {
		t.Errorf("Has is wrong: %v", verr.Errors)
	}
	if msg := verr.Error(); msg == "" {
		t.Error("empty message")
	}
}

// basePresentation holds an embedded and an enveloped credential.
const basePresentation = `{
  "@context": ["https://www.w3.org/ns/credentials/v2"],
  "id": "urn:uuid:9c9a36f8-518f-4976-a934-6649502d0008",
  "type": ["VerifiablePresentation"],
  "holder": "did:key:z6MkpJySvETLnxhQG9DzEdmKJtysBDjuuTeDfUj1uNNCUqcj",
  "verifiableCredential": [
    {"@context": ["https://www.w3.org/ns/credentials/v2"], "type": ["VerifiableCredential"],
     "issuer": "did:example:issuer", "credentialSubject": {"id": "did:example:subject"},
     "proof": {"type": "DataIntegrityProof"}},
    {"@context": "https://www.w3.org/ns/credentials/v2", "type": "EnvelopedVerifiableCredential",
     "id": "data:application/vc+jwt,eyJhbGciOiJFUzI1NiJ9.eyJpc3MiOiJkaWQ6ZXhhbXBsZTppIn0.c2ln"}
  ],
  "proof": {"type": "DataIntegrityProof", "proofPurpose": "authentication", "challenge": "abc"}
}`

func TestValidatePresentation(t *testing.T) {
	tests := []struct {
		name  string
		edits []edit
		want  []string
	}{
		{"base presentation is valid", nil, nil},
		{"no context", []edit{del("/@context")}, []string{"/@context"}},
		{"context misordered", []edit{set("/@context", `[{"X": "https://example.org/#X"}, "https://www.w3.org/ns/credentials/v2"]`)}, []string{"/@context/0"}},
		{"unknown base context", []edit{set("/@context", `["https://www.w3.org/ns/credentials/examples/v2"]`)}, []string{"/@context/0"}},
		{"no type", []edit{del("/type")}, []string{"/type"}},
		{"type without VerifiablePresentation", []edit{set("/type", `["CredentialManagerPresentation"]`)}, []string{"/type"}},
		{"id not a URL", []edit{set("/id", `"presentation-1"`)}, []string{"/id"}},
		{"holder not a URL", []edit{set("/holder", `"z6MkpJySvETLnxhQG9DzEdmKJtysBDjuuTeDfUj1uNNCUqcj"`)}, []string{"/holder"}},
		{"holder object without id", []edit{set("/holder", `{"name": "Acme"}`)}, []string{"/holder/id"}},
		{"holder object id not a URL", []edit{set("/holder", `{"id": "z6MkpJySvETLnxhQG9DzEdmKJtysBDjuuTeDfUj1uNNCUqcj"}`)}, []string{"/holder/id"}},
		{"holder object", []edit{set("/holder", `{"id": "did:key:z6MkpJySvETLnxhQG9DzEdmKJtysBDjuuTeDfUj1uNNCUqcj"}`)}, nil},
		{"holder null", []edit{set("/holder", `null`)}, []string{"/holder"}},
		{"no credentials", []edit{del("/verifiableCredential")}, nil},
		{"credentials empty", []edit{set("/verifiableCredential", `[]`)}, []string{"/verifiableCredential"}},
		{"credentials null", []edit{set("/verifiableCredential", `null`)}, []string{"/verifiableCredential"}},
		{"credential as a string", []edit{set("/verifiableCredential/0", `"eyJhbGciOiJFUzI1NiJ9.e30.c2ln"`)}, []string{"/verifiableCredential/0"}},
		{"credential as a number", []edit{set("/verifiableCredential/0", `1`)}, []string{"/verifiableCredential/0"}},
		{"embedded credential with empty type", []edit{set("/verifiableCredential/0/type", `[]`)}, []string{"/verifiableCredential/0/type"}},
		{"embedded credential without issuer", []edit{del("/verifiableCredential/0/issuer")}, []string{"/verifiableCredential/0/issuer"}},
		{"single embedded credential object", []edit{set("/verifiableCredential", `{"@context": "https://www.w3.org/ns/credentials/v2", "type": "VerifiableCredential", "issuer": "did:example:i", "credentialSubject": {"id": "did:example:s"}}`)}, nil},
		{"envelope without type is read as a credential", []edit{del("/verifiableCredential/1/type")},
			[]string{"/verifiableCredential/1/type", "/verifiableCredential/1/issuer", "/verifiableCredential/1/credentialSubject"}},
		{"envelope id not a data URL", []edit{set("/verifiableCredential/1/id", `"eyJhbGciOiJFUzI1NiJ9.e30.c2ln"`)}, []string{"/verifiableCredential/1/id"}},
		{"envelope without id", []edit{del("/verifiableCredential/1/id")}, []string{"/verifiableCredential/1/id"}},
		{"envelope without context", []edit{del("/verifiableCredential/1/@context")}, []string{"/verifiableCredential/1/@context"}},
		{"envelope with the 1.1 context only", []edit{set("/verifiableCredential/1/@context", `["https://www.w3.org/2018/credentials/v1"]`)}, []string{"/verifiableCredential/1/@context"}},
		{"envelope of a presentation inside a presentation", []edit{set("/verifiableCredential/1/type", `"EnvelopedVerifiablePresentation"`)}, []string{"/verifiableCredential/1/type"}},
		{"proof without type", []edit{del("/proof/type")}, []string{"/proof/type"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := NewPresentation(apply(t, basePresentation, tc.edits...))
			checkResult(t, p.Validate(), tc.want)
		})
	}
}

func TestParseCredentialRoundTrip(t *testing.T) {
	c, err := ParseCredential([]byte(baseVC))
	if err != nil {
		t.Fatal(err)
	}
	out, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	c2, err := ParseCredential(out)
	if err != nil {
		t.Fatalf("re-parse: %v", err)
	}
	out2, _ := json.Marshal(c2)
	if string(out) != string(out2) {
		t.Errorf("not stable:\n%s\n%s", out, out2)
	}
}

func TestParseRejectsBeforeValidating(t *testing.T) {
	if _, err := ParseCredential([]byte(`{"@context": "https://www.w3.org/ns/credentials/v2", "@context": "x"}`)); err == nil {
		t.Fatal("duplicate key accepted")
	}
	if _, err := ParsePresentation([]byte(`[]`)); err == nil {
		t.Fatal("array accepted as a presentation")
	}
	p, err := ParsePresentation([]byte(basePresentation))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ParseCredential([]byte(`{}`)); err == nil {
		t.Fatal("empty credential accepted")
	} else if got := pointers(t, err); len(got) < 4 {
		t.Errorf("want every missing property reported, got %v", got)
	}
	_ = p
}
