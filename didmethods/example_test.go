package didmethods_test

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"net"

	"github.com/agentid/agentid/didmethods"
)

func ExampleCreateKey() {
	pub := ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize)).Public()
	did, err := didmethods.CreateKey(pub)
	if err != nil {
		panic(err)
	}
	fmt.Println(did)
	// Output: did:key:z6MkiTBz1ymuepAQ4HEHYSF1H8quG5GLVVQR3djdX3mDooWp
}

func ExampleRegistry_Resolve() {
	// The server refuses did:web to private and loopback addresses.
	noPrivate := func(_ context.Context, _ string, ip net.IP) error {
		if ip != nil && (ip.IsPrivate() || ip.IsLoopback() || ip.IsUnspecified() || ip.IsLinkLocalUnicast()) {
			return fmt.Errorf("%s is not a public address", ip)
		}
		return nil
	}
	reg := didmethods.NewDefaultRegistry(didmethods.WithDialCheck(noPrivate))

	const did = "did:key:z6MkiTBz1ymuepAQ4HEHYSF1H8quG5GLVVQR3djdX3mDooWp"
	res, err := reg.Resolve(context.Background(), did, didmethods.ResolveOptions{})
	if err != nil {
		panic(err)
	}
	vm := res.Document.VerificationMethod[0]
	fmt.Println(vm.Type, vm.Controller == did)
	fmt.Println("assertionMethod:", res.Document.Authorizes(didmethods.AssertionMethod, vm.ID))
	fmt.Println("keyAgreement:", res.Document.Authorizes(didmethods.KeyAgreement, vm.ID))

	_, err = reg.Resolve(context.Background(), "did:example:123", didmethods.ResolveOptions{})
	fmt.Println(didmethods.ErrorCode(err))
	// Output:
	// Multikey true
	// assertionMethod: true
	// keyAgreement: false
	// methodNotSupported
}
