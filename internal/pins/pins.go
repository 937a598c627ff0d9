//go:build tools

// Package pins holds the versions of libraries that the design has chosen
// for work that is not written yet — legacy VC verification (aries-framework-go
// v0.3.2, with go-jose v3 pinned for its security fix), RDF canonicalization
// (json-gold v0.4.2) and the TPM (go-tpm v0.9.8) — so that go.mod records
// them from the start and nobody resolves a different version by accident.
// The build tag keeps them out of every binary until code uses them.
package pins

import (
	_ "github.com/go-jose/go-jose/v3"
	_ "github.com/google/go-tpm/tpm2"
	_ "github.com/hyperledger/aries-framework-go/pkg/doc/verifiable"
	_ "github.com/piprate/json-gold/ld"
	_ "github.com/santhosh-tekuri/jsonschema/v6"
)
