package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/agentid/agentid/credential/dataintegrity"
	"github.com/agentid/agentid/credential/sdjwt"
	"github.com/agentid/agentid/didmethods"
	"github.com/agentid/agentid/internal/store"
	"github.com/agentid/agentid/keys"
	"github.com/agentid/agentid/keys/software"
)

// Benchmarks of the verifier over HTTP (see issuance_bench_test.go for the
// server and what the metrics mean). Each verification writes its audit
// event before the answer.
//
//	go test -run '^$' -bench 'VerifyHTTP' -benchtime 5000x ./internal/server/
//
// For wrk and the agentid binary, see bench/verify.sh.

// verifyBodies issues what the verify benchmarks post: an eddsa-rdfc-2022
// credential with status entries (the server's own lists, fetched over
// loopback and revalidated per the default staleness), one without, and an
// SD-JWT VC presentation with a KB-JWT for nonce "bench-nonce" (a challenge
// /challenges did not issue: it is checked against the KB-JWT only, so the
// presentation may be posted again and again), and a VC 2.0 presentation
// of an eddsa-rdfc-2022 credential with the holder's authentication proof
// for the same nonce.
func verifyBodies(b *testing.B, s *benchServer) map[string][2]any {
	b.Helper()
	issue := func(options map[string]any, doc map[string]any) json.RawMessage {
		body, _ := json.Marshal(map[string]any{"credential": doc, "options": options})
		vc, err := s.issue(body)
		if err != nil {
			b.Fatal(err)
		}
		return vc
	}
	withStatus := issue(nil, identityDoc(b))
	noStatus := issue(map[string]any{"credentialStatus": false}, identityDoc(b))

	holder, err := software.Generate(keys.P256)
	if err != nil {
		b.Fatal(err)
	}
	did, err := didmethods.CreateKey(holder.Public())
	if err != nil {
		b.Fatal(err)
	}
	doc := identityDoc(b)
	doc["credentialSubject"].(map[string]any)["id"] = did
	var compact string
	if err := json.Unmarshal(issue(map[string]any{"format": "dc+sd-jwt"}, doc), &compact); err != nil {
		b.Fatal(err)
	}
	pres, err := sdjwt.Present(b.Context(), compact, sdjwt.PresentOptions{Disclose: []string{"/name"},
		KeyBinding: &sdjwt.KeyBinding{Signer: holder, Audience: "https://rp.example", Nonce: "bench-nonce", IssuedAt: time.Now()}})
	if err != nil {
		b.Fatal(err)
	}
	// A VC 2.0 presentation of an eddsa-rdfc-2022 credential about an
	// Ed25519 holder, with the holder's eddsa-rdfc-2022 authentication
	// proof for the same nonce.
	edHolder, err := software.Generate(keys.Ed25519)
	if err != nil {
		b.Fatal(err)
	}
	edDID, err := didmethods.CreateKey(edHolder.Public())
	if err != nil {
		b.Fatal(err)
	}
	doc = identityDoc(b)
	doc["credentialSubject"].(map[string]any)["id"] = edDID
	var held map[string]any
	if err := json.Unmarshal(issue(map[string]any{"credentialStatus": false}, doc), &held); err != nil {
		b.Fatal(err)
	}
	vp, err := dataintegrity.Sign(b.Context(), map[string]any{
		"@context":             []any{"https://www.w3.org/ns/credentials/v2"},
		"type":                 []any{"VerifiablePresentation"},
		"holder":               edDID,
		"verifiableCredential": []any{held},
	}, edHolder, dataintegrity.ProofOptions{
		Cryptosuite: dataintegrity.EdDSARDFC2022, VerificationMethod: edDID + "#" + strings.TrimPrefix(edDID, "did:key:"),
		ProofPurpose: dataintegrity.PurposeAuthentication, Challenge: "bench-nonce", Domain: []string{"https://rp.example"},
	})
	if err != nil {
		b.Fatal(err)
	}
	return map[string][2]any{
		"eddsa-rdfc-2022-vp":        {"/presentations/verify", map[string]any{"verifiablePresentation": vp, "options": map[string]any{"challenge": "bench-nonce", "domain": "https://rp.example"}}},
		"eddsa-rdfc-2022+status":    {"/credentials/verify", map[string]any{"verifiableCredential": withStatus}},
		"eddsa-rdfc-2022":           {"/credentials/verify", map[string]any{"verifiableCredential": noStatus}},
		"dc+sd-jwt+kb-presentation": {"/presentations/verify", map[string]any{"verifiablePresentation": pres, "options": map[string]any{"challenge": "bench-nonce", "domain": "https://rp.example"}}},
	}
}

// verifyOnce posts body to path and fails unless the answer is 200 with
// verified true.
func (s *benchServer) verifyOnce(path string, body []byte) error {
	req, err := http.NewRequest("POST", s.url+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK || !bytes.Contains(raw, []byte(`"verified":true`)) {
		return fmt.Errorf("verify: %d %s", resp.StatusCode, raw)
	}
	return nil
}

// BenchmarkVerifyHTTP measures POST /credentials/verify and POST
// /presentations/verify: verifications per second by 32 keep-alive clients
// in parallel, each answer after its audit event is committed.
func BenchmarkVerifyHTTP(b *testing.B) {
	benchStores(b, func(b *testing.B, st *store.Store) {
		s := newBenchServer(b, st)
		bodies := verifyBodies(b, s)
		for _, name := range []string{"eddsa-rdfc-2022", "eddsa-rdfc-2022+status", "dc+sd-jwt+kb-presentation", "eddsa-rdfc-2022-vp"} {
			b.Run(name, func(b *testing.B) {
				path := bodies[name][0].(string)
				body, _ := json.Marshal(bodies[name][1])
				if err := s.verifyOnce(path, body); err != nil { // warm up: lists, keys
					b.Fatal(err)
				}
				b.SetParallelism(max(1, 32/runtime.GOMAXPROCS(0)))
				u := startUsage()
				b.ResetTimer()
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						if err := s.verifyOnce(path, body); err != nil {
							b.Error(err)
							return
						}
					}
				})
				b.StopTimer()
				u.report(b, "verified/s")
			})
		}
	})
}
