//go:build cgo

package tpm

import (
	"github.com/google/go-tpm-tools/simulator"
	"github.com/google/go-tpm/tpm2/transport"
)

// The reference simulator is one global C object: simulator.Get blocks until
// the previous instance is closed. This package starts it once, on the first
// Open("sim"), and never closes it, so every TPM opened on "sim" in this
// process shares it (tests included: they see each other's NV indices and
// persistent objects, and must not assume a fresh TPM).
func init() {
	openSimulator = func() (transport.TPM, error) {
		s, err := simulator.Get()
		if err != nil {
			return nil, err
		}
		return transport.FromReadWriter(s), nil
	}
}
