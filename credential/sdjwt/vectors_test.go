package sdjwt

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/agentid/agentid/internal/testvectors"
	"github.com/agentid/agentid/keys"
	"github.com/agentid/agentid/keys/software"
)

// The keys of settings.yml in both vector suites (key_settings.issuer_keys[0]
// and key_settings.holder_key). The test checks they are still the ones in
// the files.
var (
	vectorIssuerJWK = keys.JWK{Kty: "EC", Crv: "P-256",
		D: "Ur2bNKuBPOrAaxsRnbSH6hIhmNTxSGXshDSUD1a1y7g",
		X: "b28d4MwZMjw8-00CG4xfnn9SLMVMM19SlqZpVb_uNtQ",
		Y: "Xv5zWwuoaTgdS6hV43yI6gBwTnjukmFQQnJ_kCxzqk8"}
	vectorHolderJWK = keys.JWK{Kty: "EC", Crv: "P-256",
		D: "5K5SCos8zf9zRemGGUl6yfok-_NiiryNZsvANWMhF-I",
		X: "TCAER19Zvu3OHF4j4W4vfSVoHIP1ILilDls7vCeGemc",
		Y: "ZxjiWWbZMQGHVWKVQ4hbSIirsVfuecCE6t4jT9F2HZQ"}
)

// vectorSuites are the vector folders with their settings.yml identifiers.
var vectorSuites = []struct {
	dir, verifier string
}{
	{"rfc9901-examples", "https://verifier.example.org"},
	{"sd-jwt-python-testcases", "https://example.com/verifier"},
}

const vectorNonce = "1234567890"

func readVector(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.TrimSpace(b)
}

func readJSONVector(t *testing.T, path string) any {
	t.Helper()
	var v any
	dec := json.NewDecoder(bytes.NewReader(readVector(t, path)))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return v
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// vectorCompact returns the compact form of a vector file: the .txt as is,
// or the flattened JSON serialization (RFC 9901 §8.1) rewritten as compact.
func vectorCompact(t *testing.T, dir, base string) string {
	t.Helper()
	if p := filepath.Join(dir, base+".txt"); exists(p) {
		return string(readVector(t, p))
	}
	var inner string
	if err := json.Unmarshal(readVector(t, filepath.Join(dir, base+".json")), &inner); err != nil {
		t.Fatal(err)
	}
	var js struct {
		Header struct {
			Disclosures []string `json:"disclosures"`
			KBJWT       string   `json:"kb_jwt"`
		} `json:"header"`
		Payload, Protected, Signature string
	}
	if err := json.Unmarshal([]byte(inner), &js); err != nil {
		t.Fatal(err)
	}
	c := Compact{IssuerJWT: js.Protected + "." + js.Payload + "." + js.Signature, Disclosures: js.Header.Disclosures, KeyBindingJWT: js.Header.KBJWT}
	return c.String()
}

func TestVectorSettingsKeys(t *testing.T) {
	for _, s := range vectorSuites {
		settings := string(readVector(t, testvectors.Path(t, "sd-jwt", s.dir, "settings.yml")))
		for _, v := range []string{vectorIssuerJWK.D, vectorIssuerJWK.X, vectorIssuerJWK.Y, vectorHolderJWK.D, vectorHolderJWK.X, vectorHolderJWK.Y, s.verifier} {
			if !strings.Contains(settings, v) {
				t.Errorf("%s/settings.yml does not contain %q", s.dir, v)
			}
		}
	}
}

func vectorKeys(t *testing.T) (issuer, holder keys.Signer) {
	t.Helper()
	i, err := software.FromPrivateJWK(vectorIssuerJWK)
	if err != nil {
		t.Fatal(err)
	}
	h, err := software.FromPrivateJWK(vectorHolderJWK)
	if err != nil {
		t.Fatal(err)
	}
	return i, h
}

// TestVectors runs every vector folder: it verifies the issued SD-JWT and
// the presentation with the settings.yml issuer key, compares the verified
// claims with verified_contents.json, checks every disclosure's digest
// against the payload, reproduces the issuance (disclosures byte for byte
// from the vector's salts) and the holder's selection of disclosures.
func TestVectors(t *testing.T) {
	issuer, holder := vectorKeys(t)
	passed, total := 0, 0
	for _, s := range vectorSuites {
		entries, err := os.ReadDir(testvectors.Path(t, "sd-jwt", s.dir))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			if !e.IsDir() {
				continue
			}
			total++
			dir := testvectors.Path(t, "sd-jwt", s.dir, e.Name())
			ok := t.Run(s.dir+"/"+e.Name(), func(t *testing.T) {
				runVector(t, dir, s.verifier, issuer, holder)
			})
			if ok {
				passed++
			}
		}
	}
	t.Logf("SD-JWT vector folders passed: %d/%d", passed, total)
}

func runVector(t *testing.T, dir, verifier string, issuer, holder keys.Signer) {
	ctx := context.Background()
	issued := vectorCompact(t, dir, "sd_jwt_issuance")
	presented := vectorCompact(t, dir, "sd_jwt_presentation")
	payload := readJSONVector(t, filepath.Join(dir, "sd_jwt_payload.json")).(map[string]any)
	userClaims := readJSONVector(t, filepath.Join(dir, "user_claims.json")).(map[string]any)
	want := readJSONVector(t, filepath.Join(dir, "verified_contents.json"))
	hasKB := exists(filepath.Join(dir, "kb_jwt_serialized.txt"))

	// 1. Every disclosure's digest, over its string exactly as given,
	// appears in the payload.
	c, err := ParseCompact(issued, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	payloadJSON, _ := json.Marshal(payload)
	for _, d := range c.Disclosures {
		if !bytes.Contains(payloadJSON, []byte(`"`+Digest(d)+`"`)) {
			// Recursive disclosures carry digests of others inside.
			found := false
			for _, o := range c.Disclosures {
				raw, _ := b64.DecodeString(o)
				if bytes.Contains(raw, []byte(Digest(d))) {
					found = true
				}
			}
			if !found {
				t.Errorf("digest of %s not found", d)
			}
		}
	}

	// 2. The issued SD-JWT verifies; with every disclosure the claims are
	// the user claims plus the issuer's plain claims.
	opts := VerifyOptions{IssuerKeys: StaticIssuerKey(issuer.Public()), Now: func() time.Time { return time.Unix(1795984939, 0) }}
	full, err := Verify(ctx, issued, opts)
	if err != nil {
		t.Fatalf("verify issuance: %v", err)
	}
	for k, v := range userClaims {
		if !reflect.DeepEqual(full.Claims[k], v) {
			t.Errorf("issuance claim %s = %v, want %v", k, full.Claims[k], v)
		}
	}

	// 3. The presentation verifies to verified_contents.json.
	popts := opts
	if hasKB {
		kbPayload := readJSONVector(t, filepath.Join(dir, "kb_jwt_payload.json")).(map[string]any)
		iat, _ := kbPayload["iat"].(json.Number).Int64()
		popts.Now = func() time.Time { return time.Unix(iat+10, 0) }
		popts.RequireKeyBinding, popts.Audience, popts.Nonce = true, verifier, vectorNonce
		if kb := string(readVector(t, filepath.Join(dir, "kb_jwt_serialized.txt"))); !strings.HasSuffix(presented, "~"+kb) {
			t.Errorf("presentation does not end in kb_jwt_serialized.txt")
		}
	}
	got, err := Verify(ctx, presented, popts)
	if err != nil {
		t.Fatalf("verify presentation: %v", err)
	}
	if !reflect.DeepEqual(any(got.Claims), want) {
		gj, _ := json.Marshal(got.Claims)
		wj, _ := json.Marshal(want)
		t.Errorf("verified claims\n got %s\nwant %s", gj, wj)
	}
	if hasKB && (got.KeyBinding == nil || got.KeyBinding.Nonce != vectorNonce) {
		t.Errorf("key binding result %+v", got.KeyBinding)
	}

	// 4. Holder: selecting the presented paths from the issuance gives the
	// presented disclosures; with our own KB-JWT it verifies to the same
	// claims.
	pc, err := ParseCompact(presented, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	var kb *KeyBinding
	if hasKB {
		kb = &KeyBinding{Signer: holder, Audience: verifier, Nonce: "n-1", IssuedAt: time.Unix(1795984939, 0)}
	}
	mine, err := Present(ctx, issued, PresentOptions{Disclose: got.Disclosed, Shallow: true, KeyBinding: kb})
	if err != nil {
		t.Fatalf("present: %v", err)
	}
	mc, _ := ParseCompact(mine, Limits{})
	if !sameSet(mc.Disclosures, pc.Disclosures) {
		t.Errorf("presented disclosures differ:\n got %v\nwant %v", mc.Disclosures, pc.Disclosures)
	}
	if hasKB {
		popts.Nonce = "n-1"
		popts.Now = func() time.Time { return time.Unix(1795984939, 0) }
		again, err := Verify(ctx, mine, popts)
		if err != nil {
			t.Fatalf("verify own presentation: %v", err)
		}
		if !reflect.DeepEqual(any(again.Claims), want) {
			t.Errorf("own presentation claims differ")
		}
	}

	// 5. Issuance reproduced: same salts, same disclosure paths, Python's
	// JSON spacing: the disclosures are the vector's byte for byte (those
	// holding a JSON object with more than one member are compared as
	// JSON, since Go maps keep no member order), and the payload is the
	// vector's without its decoy digests.
	reproduceIssuance(t, dir, issued, payload, userClaims, full, issuer)
}

func sameSet(a, b []string) bool {
	a, b = append([]string(nil), a...), append([]string(nil), b...)
	sort.Strings(a)
	sort.Strings(b)
	return reflect.DeepEqual(a, b) || (len(a) == 0 && len(b) == 0)
}

// saltReader returns fixed salts in order.
type saltReader struct{ buf []byte }

func (r *saltReader) Read(p []byte) (int, error) {
	if len(r.buf) == 0 {
		return 0, errors.New("salt reader exhausted")
	}
	n := copy(p, r.buf)
	r.buf = r.buf[n:]
	return n, nil
}

func reproduceIssuance(t *testing.T, dir, issued string, payload, userClaims map[string]any, full *Result, issuer keys.Signer) {
	t.Helper()
	ctx := context.Background()
	_, placed, _, err := parseForHolder(issued, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	saltOf := map[string][]byte{}
	var paths []string
	for _, p := range placed {
		raw, err := b64.DecodeString(p.d.Salt)
		if err != nil || len(raw) != SaltSize {
			t.Skipf("salt %q is not %d base64url bytes", p.d.Salt, SaltSize)
		}
		saltOf[p.path] = raw
		paths = append(paths, p.path)
	}
	claims := map[string]any{}
	for k, v := range userClaims {
		claims[k] = v
	}
	for k, v := range payload {
		if _, ok := userClaims[k]; !ok && k != "_sd" && k != "_sd_alg" {
			claims[k] = v
		}
	}
	header := map[string]any{}
	for k, v := range full.Header {
		if k != "alg" {
			header[k] = v
		}
	}
	// First pass: learn the order in which the issuer draws salts.
	first, err := Issue(ctx, issuer, claims, IssueOptions{Disclose: paths, Header: header})
	if err != nil {
		t.Fatal(err)
	}
	_, firstPlaced, _, err := parseForHolder(first, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	pathOf := map[string]string{}
	for _, p := range firstPlaced {
		pathOf[p.d.Encoded] = p.path
	}
	fc, _ := ParseCompact(first, Limits{})
	var salts []byte
	for _, d := range fc.Disclosures {
		salts = append(salts, saltOf[pathOf[d]]...)
	}
	// Second pass with the vector's salts.
	again, err := Issue(ctx, issuer, claims, IssueOptions{Disclose: paths, Header: header, Rand: &saltReader{salts}, encode: pythonJSON})
	if err != nil {
		t.Fatal(err)
	}
	ac, _ := ParseCompact(again, Limits{})
	vc, _ := ParseCompact(issued, Limits{})
	if len(ac.Disclosures) != len(vc.Disclosures) {
		t.Fatalf("%d disclosures, want %d", len(ac.Disclosures), len(vc.Disclosures))
	}
	byteEqual, jsonEqual := 0, 0
	vset := map[string]bool{}
	for _, d := range vc.Disclosures {
		vset[d] = true
	}
	vecByPath := map[string]*Disclosure{}
	for _, p := range placed {
		vecByPath[p.path] = p.d
	}
	_, againPlaced, _, err := parseForHolder(again, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	// Digests of disclosures that differ only in member order differ;
	// translate ours to the vector's by path before comparing values.
	translate := map[string]string{}
	for _, p := range againPlaced {
		if v := vecByPath[p.path]; v != nil {
			translate[p.d.Digest()] = v.Digest()
		}
	}
	for _, p := range againPlaced {
		if vset[p.d.Encoded] {
			byteEqual++
			continue
		}
		v := vecByPath[p.path]
		if v == nil || v.Salt != p.d.Salt || v.Name != p.d.Name || !reflect.DeepEqual(sortSD(v.Value), sortSD(translateDigests(p.d.Value, translate))) {
			t.Errorf("disclosure at %s: got %s, want %v", p.path, p.d.Encoded, v)
			continue
		}
		if !hasMultiMemberObject(v.Value) && !containsDigestOf(v.Value, translate) {
			t.Errorf("disclosure at %s differs in bytes only: %s vs %s", p.path, p.d.Encoded, v.Encoded)
			continue
		}
		jsonEqual++
	}
	t.Logf("disclosures reproduced: %d byte for byte, %d as JSON (member order)", byteEqual, jsonEqual)
	if jsonEqual == 0 {
		// Every disclosure byte-identical: the payload must equal the
		// vector's once decoys are removed.
		at, err := parseJWT(ac.IssuerJWT, Limits{}.withDefaults())
		if err != nil {
			t.Fatal(err)
		}
		known := map[string]bool{}
		for _, d := range vc.Disclosures {
			known[Digest(d)] = true
		}
		if !reflect.DeepEqual(stripDecoys(payload, known), any(at.payload)) {
			gj, _ := json.Marshal(at.payload)
			wj, _ := json.Marshal(stripDecoys(payload, known))
			t.Errorf("payload\n got %s\nwant %s", gj, wj)
		}
	}
}

// translateDigests replaces digests in _sd arrays and "..." elements.
func translateDigests(v any, tr map[string]string) any {
	switch v := v.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, e := range v {
			switch k {
			case "_sd":
				var l []any
				for _, d := range e.([]any) {
					if n, ok := tr[d.(string)]; ok {
						d = n
					}
					l = append(l, d)
				}
				out[k] = l
			case "...":
				if n, ok := tr[e.(string)]; ok {
					e = n
				}
				out[k] = e
			default:
				out[k] = translateDigests(e, tr)
			}
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = translateDigests(e, tr)
		}
		return out
	}
	return v
}

// sortSD sorts every _sd array (translated digests lose their order).
func sortSD(v any) any {
	switch v := v.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, e := range v {
			if l, ok := e.([]any); ok && k == "_sd" {
				l = append([]any(nil), l...)
				sort.Slice(l, func(i, j int) bool { return l[i].(string) < l[j].(string) })
				out[k] = l
				continue
			}
			out[k] = sortSD(e)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = sortSD(e)
		}
		return out
	}
	return v
}

func hasMultiMemberObject(v any) bool {
	switch v := v.(type) {
	case map[string]any:
		if len(v) > 1 {
			return true
		}
		for _, e := range v {
			if hasMultiMemberObject(e) {
				return true
			}
		}
	case []any:
		for _, e := range v {
			if hasMultiMemberObject(e) {
				return true
			}
		}
	}
	return false
}

// containsDigestOf reports whether v holds a digest that tr translates to
// another one (a child disclosure that was not byte-identical).
func containsDigestOf(v any, tr map[string]string) bool {
	raw, _ := json.Marshal(v)
	for mine, vec := range tr {
		if mine != vec && bytes.Contains(raw, []byte(vec)) {
			return true
		}
	}
	return false
}

// stripDecoys removes from every _sd array the digests not in known.
func stripDecoys(v any, known map[string]bool) any {
	switch v := v.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, e := range v {
			if k == "_sd" {
				var kept []any
				for _, d := range e.([]any) {
					if known[d.(string)] {
						kept = append(kept, d)
					}
				}
				if kept != nil {
					out[k] = kept
				}
				continue
			}
			out[k] = stripDecoys(e, known)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = stripDecoys(e, known)
		}
		return out
	}
	return v
}
