package credential

import (
	"maps"
	"slices"
	"strings"
	"time"
)

// Validate checks the credential against the normative requirements of the
// VC Data Model (2.0, or 1.1 when the first context is the 1.1 one) that can
// be checked on the JSON document alone, and returns a *ValidationError
// listing every violation, or nil. The rules, each reported at the JSON
// pointer of the offending value:
//
//   - @context is present, a string or a non-empty array; its first entry is
//     https://www.w3.org/ns/credentials/v2 (2.0) or
//     https://www.w3.org/2018/credentials/v1 (1.1); later entries are URLs
//     or context objects, and the IRIs a context object maps terms to
//     contain no white space.
//   - id, if present, is a single URL (see IsURL: any absolute URI, so
//     did: and urn:uuid: count); null and arrays are refused.
//   - type is present, a string or array of non-empty strings, and includes
//     VerifiableCredential.
//   - issuer is present: a URL, or an object whose id is a URL.
//   - credentialSubject is present: an object or a non-empty array of
//     objects, each with at least one property (a claim or an id); a
//     subject's id, if present, is a single URL.
//   - validFrom and validUntil, if present, are XML Schema dateTimeStamps
//     (time zone required; see ParseDateTimeStamp), and validUntil is not
//     earlier than validFrom. VC 2.0 §4.9 states this ordering as a MUST
//     ("the validFrom value MUST express a datetime that is temporally the
//     same or earlier than ... validUntil"), so it is an error here, not a
//     warning; whether the period includes now is the verifier's business.
//   - 1.1 only: issuanceDate is present and an XML Schema dateTime;
//     expirationDate, if present, is one too.
//   - credentialStatus, credentialSchema, refreshService, termsOfUse,
//     evidence and proof: each is an object or a non-empty array of objects,
//     each object has a type (string or strings), and its id, if present, is
//     a URL. credentialSchema entries must also have an id.
//   - relatedResource: an object or non-empty array of objects, each with a
//     URL id unique among them and at least one of digestSRI (SRI hash
//     expressions, sha256/384/512 in standard base64 of the right length)
//     and digestMultibase (a multibase string); mediaType is a string.
//   - name and description (on the credential and on an issuer object) are
//     strings, language value objects ({"@value", "@language",
//     "@direction"} and nothing else), or non-empty arrays of those.
//
// Not checked here: that every term is defined by the @context, and that no
// context redefines a protected term. Both need JSON-LD context processing;
// see ValidateJSONLD. Proofs are checked for shape only; verifying them is
// the job of the proof suites.
func (c *Credential) Validate() error {
	var p problems
	validateCredential(&p, "", c.raw)
	return p.err()
}

// Validate checks the presentation the same way: @context and id as for
// credentials; type includes VerifiablePresentation; holder, if present, is
// a URL or an object whose id is a URL; verifiableCredential, if present, is
// an object or a non-empty array of objects, each either a credential (which
// must itself pass Credential.Validate; problems are reported under its
// pointer, such as /verifiableCredential/0/issuer) or an
// EnvelopedVerifiableCredential (see ParseEnvelope). Bare strings (a JWT, a
// URL) are refused: VC 2.0 carries them in an envelope. proof entries have a
// type.
//
// An embedded credential is not required to carry a proof at this level:
// the verifier decides what an unsecured credential is worth.
func (p *Presentation) Validate() error {
	var ps problems
	validatePresentation(&ps, "", p.raw)
	return ps.err()
}

func validateCredential(p *problems, at string, m map[string]any) {
	v := checkContext(p, at, m, false)
	checkURLProp(p, at, m, "id", false)
	checkTypes(p, at, m, true, TypeVerifiableCredential)
	checkIssuer(p, at, m)
	checkSubjects(p, at, m)

	from, okFrom := checkDate(p, at, m, "validFrom", true, false)
	until, okUntil := checkDate(p, at, m, "validUntil", true, false)
	if okFrom && okUntil && until.Before(from) {
		p.add(ptr(at, "validUntil"), "must not be earlier than validFrom (%s)", str(m["validFrom"]))
	}
	if v == V1 {
		checkDate(p, at, m, "issuanceDate", false, true)
		checkDate(p, at, m, "expirationDate", false, false)
	}

	checkLangProp(p, at, m, "name")
	checkLangProp(p, at, m, "description")
	checkEntries(p, at, m, "credentialStatus", false)
	checkEntries(p, at, m, "credentialSchema", true)
	checkEntries(p, at, m, "refreshService", false)
	checkEntries(p, at, m, "termsOfUse", false)
	checkEntries(p, at, m, "evidence", false)
	checkEntries(p, at, m, "proof", false)
	checkRelatedResources(p, at, m)
}

func validatePresentation(p *problems, at string, m map[string]any) {
	checkContext(p, at, m, false)
	checkURLProp(p, at, m, "id", false)
	checkTypes(p, at, m, true, TypeVerifiablePresentation)
	if raw, ok := m["holder"]; ok {
		checkIDOrObject(p, ptr(at, "holder"), raw)
	}
	checkEntries(p, at, m, "proof", false)

	raw, ok := m["verifiableCredential"]
	if !ok {
		return
	}
	vcAt := ptr(at, "verifiableCredential")
	var list []any
	switch t := raw.(type) {
	case map[string]any:
		validatePresented(p, vcAt, t)
		return
	case []any:
		list = t
	default:
		p.add(vcAt, "must be a credential object or an array of them, not %s", jsonKind(raw))
		return
	}
	if len(list) == 0 {
		p.add(vcAt, "must hold at least one credential when present")
	}
	for i, e := range list {
		eAt := ptr(vcAt, i)
		switch t := e.(type) {
		case map[string]any:
			validatePresented(p, eAt, t)
		case string:
			p.add(eAt, "must be a credential object or an EnvelopedVerifiableCredential; a string (such as a JWT) must be wrapped in an envelope")
		default:
			p.add(eAt, "must be a credential object, not %s", jsonKind(e))
		}
	}
}

func validatePresented(p *problems, at string, m map[string]any) {
	if IsEnvelope(m) {
		validateEnvelope(p, at, m, TypeEnvelopedVerifiableCredential)
		return
	}
	validateCredential(p, at, m)
}

// validateEnvelope checks an envelope object and returns it parsed (nil if
// it is unusable). want, when not "", is the envelope type required.
func validateEnvelope(p *problems, at string, m map[string]any, want ...string) *Envelope {
	checkContext(p, at, m, true)
	checkTypes(p, at, m, true, "")
	env := &Envelope{}
	wantTypes := want
	if len(wantTypes) == 0 {
		wantTypes = []string{TypeEnvelopedVerifiableCredential, TypeEnvelopedVerifiablePresentation}
	}
	for _, t := range wantTypes {
		if hasType(m, t) {
			env.Type = t
		}
	}
	if _, present := m["type"]; present && env.Type == "" {
		p.add(ptr(at, "type"), "must include %s", strings.Join(wantTypes, " or "))
	}
	idAt := ptr(at, "id")
	switch id := m["id"].(type) {
	case string:
		d, err := ParseDataURL(id)
		if err != nil {
			p.add(idAt, "%s", err.Error())
			return nil
		}
		env.ID, env.Data = id, d
	case nil:
		if _, present := m["id"]; present {
			p.add(idAt, "must be a data: URL, not null")
		} else {
			p.add(idAt, "is required: the data: URL holding the enveloped document")
		}
		return nil
	default:
		p.add(idAt, "must be a data: URL string")
		return nil
	}
	if env.Type == "" {
		return nil
	}
	return env
}

// checkContext checks @context and returns the version its first entry
// names. For envelopes (anywhere) the VC 2.0 context need only be included,
// not first.
func checkContext(p *problems, at string, m map[string]any, anywhere bool) Version {
	cAt := ptr(at, "@context")
	raw, present := m["@context"]
	if !present {
		p.add(cAt, "is required; its first entry must be %s", ContextV2)
		return VersionUnknown
	}
	var entries []any
	single := false
	switch t := raw.(type) {
	case string:
		entries, single = []any{t}, true
	case []any:
		entries = t
	default:
		p.add(cAt, "must be a URL or an array of URLs and context objects, not %s", jsonKind(raw))
		return VersionUnknown
	}
	if len(entries) == 0 {
		p.add(cAt, "must not be empty; its first entry must be %s", ContextV2)
		return VersionUnknown
	}
	entryAt := func(i int) string {
		if single {
			return cAt
		}
		return ptr(cAt, i)
	}
	v := VersionUnknown
	switch entries[0] {
	case ContextV2:
		v = V2
	case ContextV1:
		v = V1
	}
	if anywhere {
		if !slices.Contains(entries, any(ContextV2)) {
			p.add(cAt, "must include %s", ContextV2)
		}
	} else if v == VersionUnknown {
		where := ""
		if slices.Contains(entries[1:], any(ContextV2)) || slices.Contains(entries[1:], any(ContextV1)) {
			where = "; the base context must come before all others"
		}
		p.add(entryAt(0), "the first @context entry must be %s (or %s for VC 1.1)%s", ContextV2, ContextV1, where)
	}
	for i, e := range entries {
		switch t := e.(type) {
		case string:
			if !IsURL(t) {
				p.add(entryAt(i), "must be a URL")
			}
		case map[string]any:
			checkInlineContext(p, entryAt(i), t)
		default:
			p.add(entryAt(i), "must be a URL or a context object, not %s", jsonKind(e))
		}
	}
	return v
}

// checkInlineContext is a syntax check of a context object: the IRI a term
// maps to (directly, or as @id) and @vocab/@base must not contain white
// space or control characters, which no IRI, compact IRI or term can.
// Everything else about contexts is left to the JSON-LD processor.
func checkInlineContext(p *problems, at string, ctx map[string]any) {
	for _, k := range slices.Sorted(maps.Keys(ctx)) {
		switch t := ctx[k].(type) {
		case string:
			if hasSpaceOrCtl(t) {
				p.add(ptr(at, k), "term %q maps to %q, which is not an IRI", k, truncate(t))
			}
		case map[string]any:
			if id, ok := t["@id"].(string); ok && hasSpaceOrCtl(id) {
				p.add(ptr(at, k, "@id"), "term %q maps to %q, which is not an IRI", k, truncate(id))
			}
			if sub, ok := t["@context"].(map[string]any); ok {
				checkInlineContext(p, ptr(at, k, "@context"), sub)
			}
		}
	}
}

func hasSpaceOrCtl(s string) bool {
	return strings.ContainsFunc(s, func(r rune) bool {
		return r <= 0x20 || r == 0x7f || r == '\u00a0' || r == '\u2028' || r == '\u2029'
	})
}

// checkTypes checks the type property of an object: a non-empty string or a
// non-empty array of non-empty strings, including must when must is set.
func checkTypes(p *problems, at string, m map[string]any, required bool, must string) {
	tAt := ptr(at, "type")
	raw, present := m["type"]
	if !present {
		if !required {
			return
		}
		if must != "" {
			p.add(tAt, "is required and must include %s", must)
		} else {
			p.add(tAt, "is required")
		}
		return
	}
	switch t := raw.(type) {
	case string:
		if t == "" {
			p.add(tAt, "must not be an empty string")
			return
		}
	case []any:
		if len(t) == 0 {
			p.add(tAt, "must have at least one value")
		}
		for i, e := range t {
			if s, ok := e.(string); !ok || s == "" {
				p.add(ptr(tAt, i), "must be a non-empty string (a term or a URL)")
			}
		}
	default:
		p.add(tAt, "must be a string or an array of strings, not %s", jsonKind(raw))
		return
	}
	if must != "" && !hasType(m, must) {
		p.add(tAt, "must include %s", must)
	}
}

// checkURLProp checks that m[key], when present (or always when required),
// is a single URL.
func checkURLProp(p *problems, at string, m map[string]any, key string, required bool) {
	raw, present := m[key]
	if !present {
		if required {
			p.add(ptr(at, key), "is required and must be a URL")
		}
		return
	}
	checkURLValue(p, ptr(at, key), raw)
}

func checkURLValue(p *problems, at string, raw any) {
	switch t := raw.(type) {
	case string:
		if !IsURL(t) {
			p.add(at, "must be a URL (an absolute URI such as https://…, did:… or urn:uuid:…)")
		}
	case []any:
		p.add(at, "must be a single URL, not an array")
	default:
		p.add(at, "must be a URL string, not %s", jsonKind(raw))
	}
}

// checkIDOrObject checks a value that is a URL or an object with a URL id
// (issuer, holder). It returns the object, if it is one.
func checkIDOrObject(p *problems, at string, raw any) map[string]any {
	switch t := raw.(type) {
	case string:
		checkURLValue(p, at, t)
	case map[string]any:
		checkURLProp(p, at, t, "id", true)
		return t
	default:
		p.add(at, "must be a URL or an object whose id is a URL, not %s", jsonKind(raw))
	}
	return nil
}

func checkIssuer(p *problems, at string, m map[string]any) {
	raw, present := m["issuer"]
	if !present {
		p.add(ptr(at, "issuer"), "is required: a URL, or an object whose id is a URL")
		return
	}
	if obj := checkIDOrObject(p, ptr(at, "issuer"), raw); obj != nil {
		checkLangProp(p, ptr(at, "issuer"), obj, "name")
		checkLangProp(p, ptr(at, "issuer"), obj, "description")
	}
}

func checkSubjects(p *problems, at string, m map[string]any) {
	sAt := ptr(at, "credentialSubject")
	raw, present := m["credentialSubject"]
	if !present {
		p.add(sAt, "is required: an object holding claims about the subject")
		return
	}
	one := func(at string, s map[string]any) {
		if len(s) == 0 {
			p.add(at, "must contain at least one claim or an id")
			return
		}
		checkURLProp(p, at, s, "id", false)
	}
	switch t := raw.(type) {
	case map[string]any:
		one(sAt, t)
	case []any:
		if len(t) == 0 {
			p.add(sAt, "must hold at least one subject")
		}
		for i, e := range t {
			if o, ok := e.(map[string]any); ok {
				one(ptr(sAt, i), o)
			} else {
				p.add(ptr(sAt, i), "must be an object, not %s", jsonKind(e))
			}
		}
	default:
		p.add(sAt, "must be an object or an array of objects, not %s", jsonKind(raw))
	}
}

// checkDate checks a date property. stampRequired selects dateTimeStamp
// (time zone required, VC 2.0) over dateTime (VC 1.1).
func checkDate(p *problems, at string, m map[string]any, key string, stampRequired, required bool) (time.Time, bool) {
	dAt := ptr(at, key)
	raw, present := m[key]
	if !present {
		if required {
			p.add(dAt, "is required (an XML Schema dateTime such as 2026-01-31T12:00:00Z)")
		}
		return time.Time{}, false
	}
	s, ok := raw.(string)
	if !ok {
		p.add(dAt, "must be a date-time string, not %s", jsonKind(raw))
		return time.Time{}, false
	}
	var t time.Time
	var err error
	if stampRequired {
		t, err = ParseDateTimeStamp(s)
	} else {
		t, err = ParseDateTime(s)
	}
	if err != nil {
		form := "an XML Schema dateTimeStamp such as 2026-01-31T12:00:00Z or 2026-01-31T06:00:00-06:00"
		if !stampRequired {
			form = "an XML Schema dateTime such as 2026-01-31T12:00:00Z"
		}
		p.add(dAt, "must be %s (%v)", form, err)
		return time.Time{}, false
	}
	return t, true
}

// entry is one object of a property that holds an object or an array of
// them, with its pointer.
type entry struct {
	at  string
	obj map[string]any
}

// collect reads m[key] as one object or a non-empty array of objects,
// reporting anything else. It returns the objects found.
func collect(p *problems, at string, m map[string]any, key string) []entry {
	kAt := ptr(at, key)
	raw, present := m[key]
	if !present {
		return nil
	}
	switch t := raw.(type) {
	case map[string]any:
		return []entry{{kAt, t}}
	case []any:
		if len(t) == 0 {
			p.add(kAt, "must hold at least one object when present")
		}
		out := make([]entry, 0, len(t))
		for i, e := range t {
			if o, ok := e.(map[string]any); ok {
				out = append(out, entry{ptr(kAt, i), o})
			} else {
				p.add(ptr(kAt, i), "must be an object, not %s", jsonKind(e))
			}
		}
		return out
	default:
		p.add(kAt, "must be an object or an array of objects, not %s", jsonKind(raw))
		return nil
	}
}

// checkEntries checks typed entries: each has a type; its id, when present
// (or always when idRequired), is a URL.
func checkEntries(p *problems, at string, m map[string]any, key string, idRequired bool) {
	for _, e := range collect(p, at, m, key) {
		checkTypes(p, e.at, e.obj, true, "")
		checkURLProp(p, e.at, e.obj, "id", idRequired)
	}
}

func checkRelatedResources(p *problems, at string, m map[string]any) {
	seen := map[string]string{}
	for _, e := range collect(p, at, m, "relatedResource") {
		checkURLProp(p, e.at, e.obj, "id", true)
		if id, ok := e.obj["id"].(string); ok {
			if first, dup := seen[id]; dup {
				p.add(ptr(e.at, "id"), "must be unique among related resources; %s has the same id", first)
			} else {
				seen[id] = e.at
			}
		}
		sri, hasSRI := e.obj["digestSRI"]
		mb, hasMB := e.obj["digestMultibase"]
		if !hasSRI && !hasMB {
			p.add(e.at, "must have a digestSRI or a digestMultibase")
		}
		if hasSRI {
			if s, ok := sri.(string); !ok {
				p.add(ptr(e.at, "digestSRI"), "must be a string, not %s", jsonKind(sri))
			} else if err := checkSRI(s); err != nil {
				p.add(ptr(e.at, "digestSRI"), "%s", err.Error())
			}
		}
		if hasMB {
			if s, ok := mb.(string); !ok {
				p.add(ptr(e.at, "digestMultibase"), "must be a string, not %s", jsonKind(mb))
			} else if err := checkMultibase(s); err != nil {
				p.add(ptr(e.at, "digestMultibase"), "%s", err.Error())
			}
		}
		if mt, ok := e.obj["mediaType"]; ok {
			if s, isStr := mt.(string); !isStr || !strings.Contains(s, "/") {
				p.add(ptr(e.at, "mediaType"), "must be a media type string such as application/ld+json")
			}
		}
	}
}

// checkLangProp checks name or description: a string, a language value
// object, or a non-empty array of those.
func checkLangProp(p *problems, at string, m map[string]any, key string) {
	raw, present := m[key]
	if !present {
		return
	}
	kAt := ptr(at, key)
	switch t := raw.(type) {
	case string:
	case map[string]any:
		checkLanguageValue(p, kAt, t)
	case []any:
		if len(t) == 0 {
			p.add(kAt, "must not be an empty array")
		}
		for i, e := range t {
			switch et := e.(type) {
			case string:
			case map[string]any:
				checkLanguageValue(p, ptr(kAt, i), et)
			default:
				p.add(ptr(kAt, i), "must be a string or a language value object, not %s", jsonKind(e))
			}
		}
	default:
		p.add(kAt, "must be a string, a language value object or an array of them, not %s", jsonKind(raw))
	}
}

func checkLanguageValue(p *problems, at string, o map[string]any) {
	if _, ok := o["@value"].(string); !ok {
		p.add(ptr(at, "@value"), "a language value object needs a string @value")
	}
	if l, present := o["@language"]; present {
		if s, ok := l.(string); !ok || !validLanguageTag(s) {
			p.add(ptr(at, "@language"), "must be a BCP 47 language tag such as en or fr-CA")
		}
	}
	if d, present := o["@direction"]; present {
		if d != "ltr" && d != "rtl" {
			p.add(ptr(at, "@direction"), `must be "ltr" or "rtl"`)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(o)) {
		switch k {
		case "@value", "@language", "@direction":
		default:
			p.add(ptr(at, k), "a language value object may only hold @value, @language and @direction")
		}
	}
}

// jsonKind names the JSON type of a decoded value, for messages.
func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case map[string]any:
		return "an object"
	case []any:
		return "an array"
	}
	return "a number"
}
