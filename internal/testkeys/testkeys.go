// Package testkeys makes the software keys that tests sign with, together
// with the did:key that names each and its verification method, so that
// every test builds parties the same way.
package testkeys

import (
	"strings"
	"testing"

	"github.com/agentid/agentid/didmethods"
	"github.com/agentid/agentid/keys"
	"github.com/agentid/agentid/keys/software"
)

// New generates a software key of type typ and returns it with its did:key
// and the DID URL of its verification method (did:key:X#X).
func New(t testing.TB, typ keys.KeyType) (key *software.Key, did, vm string) {
	t.Helper()
	k, err := software.Generate(typ)
	if err != nil {
		t.Fatal(err)
	}
	did, err = didmethods.CreateKey(k.Public())
	if err != nil {
		t.Fatal(err)
	}
	return k, did, did + "#" + strings.TrimPrefix(did, "did:key:")
}

// Manager returns a key manager whose one back end keeps software keys in
// st, sealed under a new random key-encryption key.
func Manager(t testing.TB, st keys.BlobStore) *keys.Manager {
	t.Helper()
	kek, err := keys.NewKEK()
	if err != nil {
		t.Fatal(err)
	}
	return ManagerKEK(t, st, kek)
}

// ManagerKEK returns a key manager whose one back end keeps software keys
// in st, sealed under kek.
func ManagerKEK(t testing.TB, st keys.BlobStore, kek *keys.KEK) *keys.Manager {
	t.Helper()
	b, err := software.NewBackend(kek, st)
	if err != nil {
		t.Fatal(err)
	}
	km, err := keys.NewManager(keys.WithBackend(software.Scheme, b))
	if err != nil {
		t.Fatal(err)
	}
	return km
}
