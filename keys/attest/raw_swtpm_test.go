package attest_test

import (
	"encoding/binary"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"

	"github.com/agentid/agentid/keys/attest"
	"github.com/agentid/agentid/keys/tpm/tpmtest"
)

// These tests drive swtpm with go-tpm directly, without package keys/tpm, to
// make evidence keys/tpm would never make (an exportable key; a key
// certified by one AK while the evidence names another). They talk to a
// swtpm of their own: swtpm serves one client at a time, and the simulator
// is only reachable through keys/tpm.

// rawConn is swtpm's TCP command channel as a transport.TPM: each response
// is read in full, by the size its header announces, and a command the TPM
// asks to retry (TPM_RC_RETRY, as swtpm does while it self-tests) is sent
// again.
type rawConn struct{ c net.Conn }

func (r rawConn) Send(cmd []byte) ([]byte, error) {
	for range 12 {
		rsp, err := r.roundTrip(cmd)
		if err != nil || binary.BigEndian.Uint32(rsp[6:10]) != uint32(tpm2.TPMRCRetry) {
			return rsp, err
		}
		time.Sleep(5 * time.Millisecond)
	}
	return nil, errors.New("TPM kept asking to retry")
}

func (r rawConn) roundTrip(cmd []byte) ([]byte, error) {
	if _, err := r.c.Write(cmd); err != nil {
		return nil, err
	}
	hdr := make([]byte, 10)
	if _, err := io.ReadFull(r.c, hdr); err != nil {
		return nil, err
	}
	size := binary.BigEndian.Uint32(hdr[2:6])
	if size < 10 || size > 1<<16 {
		return nil, errors.New("bad response size")
	}
	rsp := make([]byte, size)
	copy(rsp, hdr)
	_, err := io.ReadFull(r.c, rsp[10:])
	return rsp, err
}

func rawSwtpm(t *testing.T) transport.TPM {
	t.Helper()
	c, err := net.DialTimeout("tcp", strings.TrimPrefix(tpmtest.Swtpm(t), "swtpm://"), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return rawConn{c}
}

type rawObject struct {
	handle tpm2.TPMHandle
	name   tpm2.TPM2BName
	public tpm2.TPMTPublic
}

func createPrimary(t *testing.T, tp transport.TPM, h tpm2.TPMHandle, tmpl tpm2.TPMTPublic) rawObject {
	t.Helper()
	rsp, err := tpm2.CreatePrimary{
		PrimaryHandle: tpm2.AuthHandle{Handle: h, Auth: tpm2.PasswordAuth(nil)},
		InPublic:      tpm2.New2B(tmpl),
	}.Execute(tp)
	if err != nil {
		t.Fatalf("CreatePrimary: %v", err)
	}
	pub, err := rsp.OutPublic.Contents()
	if err != nil {
		t.Fatal(err)
	}
	return rawObject{rsp.ObjectHandle, rsp.Name, *pub}
}

func flush(tp transport.TPM, o rawObject) {
	_, _ = tpm2.FlushContext{FlushHandle: o.handle}.Execute(tp)
}

// akTemplate is a restricted ECDSA P-256 signing key; unique makes distinct
// AKs from one hierarchy.
func akTemplate(unique string) tpm2.TPMTPublic {
	return tpm2.TPMTPublic{
		Type:    tpm2.TPMAlgECC,
		NameAlg: tpm2.TPMAlgSHA256,
		ObjectAttributes: tpm2.TPMAObject{
			FixedTPM: true, FixedParent: true, SensitiveDataOrigin: true,
			UserWithAuth: true, Restricted: true, SignEncrypt: true,
		},
		Parameters: tpm2.NewTPMUPublicParms(tpm2.TPMAlgECC, &tpm2.TPMSECCParms{
			Scheme: tpm2.TPMTECCScheme{
				Scheme:  tpm2.TPMAlgECDSA,
				Details: tpm2.NewTPMUAsymScheme(tpm2.TPMAlgECDSA, &tpm2.TPMSSigSchemeECDSA{HashAlg: tpm2.TPMAlgSHA256}),
			},
			CurveID: tpm2.TPMECCNistP256,
		}),
		Unique: tpm2.NewTPMUPublicID(tpm2.TPMAlgECC, &tpm2.TPMSECCPoint{
			X: tpm2.TPM2BECCParameter{Buffer: []byte(unique)},
		}),
	}
}

// agentKeyTemplate is an unrestricted ECDSA P-256 signing key with the
// given fixedTPM/fixedParent.
func agentKeyTemplate(fixed bool) tpm2.TPMTPublic {
	return tpm2.TPMTPublic{
		Type:    tpm2.TPMAlgECC,
		NameAlg: tpm2.TPMAlgSHA256,
		ObjectAttributes: tpm2.TPMAObject{
			FixedTPM: fixed, FixedParent: fixed, SensitiveDataOrigin: true,
			UserWithAuth: true, SignEncrypt: true,
		},
		Parameters: tpm2.NewTPMUPublicParms(tpm2.TPMAlgECC, &tpm2.TPMSECCParms{
			Scheme: tpm2.TPMTECCScheme{
				Scheme:  tpm2.TPMAlgECDSA,
				Details: tpm2.NewTPMUAsymScheme(tpm2.TPMAlgECDSA, &tpm2.TPMSSigSchemeECDSA{HashAlg: tpm2.TPMAlgSHA256}),
			},
			CurveID: tpm2.TPMECCNistP256,
		}),
		Unique: tpm2.NewTPMUPublicID(tpm2.TPMAlgECC, &tpm2.TPMSECCPoint{}),
	}
}

// childKey creates and loads a key under a fresh SRK (flushed again, so
// that EK, AK and key fit the three transient slots).
func childKey(t *testing.T, tp transport.TPM, tmpl tpm2.TPMTPublic) rawObject {
	t.Helper()
	srk := createPrimary(t, tp, tpm2.TPMRHOwner, tpm2.ECCSRKTemplate)
	defer flush(tp, srk)
	c, err := tpm2.Create{
		ParentHandle: tpm2.AuthHandle{Handle: srk.handle, Name: srk.name, Auth: tpm2.PasswordAuth(nil)},
		InPublic:     tpm2.New2B(tmpl),
	}.Execute(tp)
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	l, err := tpm2.Load{
		ParentHandle: tpm2.AuthHandle{Handle: srk.handle, Name: srk.name, Auth: tpm2.PasswordAuth(nil)},
		InPrivate:    c.OutPrivate,
		InPublic:     c.OutPublic,
	}.Execute(tp)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	pub, err := c.OutPublic.Contents()
	if err != nil {
		t.Fatal(err)
	}
	return rawObject{l.ObjectHandle, l.Name, *pub}
}

// certify has ak certify key over nonce and returns the evidence, naming
// the AK claimed (which may be another than the signer).
func certify(t *testing.T, tp transport.TPM, ek, signer, claimed, key rawObject, nonce []byte) *attest.Evidence {
	t.Helper()
	rsp, err := tpm2.Certify{
		ObjectHandle:   tpm2.AuthHandle{Handle: key.handle, Name: key.name, Auth: tpm2.PasswordAuth(nil)},
		SignHandle:     tpm2.AuthHandle{Handle: signer.handle, Name: signer.name, Auth: tpm2.PasswordAuth(nil)},
		QualifyingData: tpm2.TPM2BData{Buffer: nonce},
		InScheme:       tpm2.TPMTSigScheme{Scheme: tpm2.TPMAlgNull},
	}.Execute(tp)
	if err != nil {
		t.Fatalf("Certify: %v", err)
	}
	return &attest.Evidence{
		Version:          attest.EvidenceVersion,
		EKPublic:         tpm2.Marshal(ek.public),
		AKPublic:         tpm2.Marshal(claimed.public),
		KeyPublic:        tpm2.Marshal(key.public),
		CertifyInfo:      rsp.CertifyInfo.Bytes(),
		CertifySignature: tpm2.Marshal(rsp.Signature),
	}
}

// activate runs TPM2_ActivateCredential for ak under the EK (whose policy
// is PolicySecret(TPM_RH_ENDORSEMENT)).
func activate(tp transport.TPM, ek, ak rawObject, ch attest.ActivationChallenge) ([]byte, error) {
	policy := func(tp transport.TPM, s tpm2.TPMISHPolicy, nonceTPM tpm2.TPM2BNonce) error {
		_, err := tpm2.PolicySecret{
			AuthHandle:    tpm2.AuthHandle{Handle: tpm2.TPMRHEndorsement, Auth: tpm2.PasswordAuth(nil)},
			PolicySession: s,
			NonceTPM:      nonceTPM,
		}.Execute(tp)
		return err
	}
	rsp, err := tpm2.ActivateCredential{
		ActivateHandle: tpm2.AuthHandle{Handle: ak.handle, Name: ak.name, Auth: tpm2.PasswordAuth(nil)},
		KeyHandle:      tpm2.AuthHandle{Handle: ek.handle, Name: ek.name, Auth: tpm2.Policy(tpm2.TPMAlgSHA256, 16, policy)},
		CredentialBlob: tpm2.TPM2BIDObject{Buffer: ch.Credential},
		Secret:         tpm2.TPM2BEncryptedSecret{Buffer: ch.Secret},
	}.Execute(tp)
	if err != nil {
		return nil, err
	}
	return rsp.CertInfo.Buffer, nil
}

func allowVerifier(t *testing.T, ek rawObject) *attest.Verifier {
	t.Helper()
	h, err := attest.EKPublicKeyHash(tpm2.Marshal(ek.public))
	if err != nil {
		t.Fatal(err)
	}
	v, err := attest.NewVerifier(attest.Policy{EKAllowlist: []string{h}})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestExportableKeyOnSwtpm: a key that could be duplicated out of the TPM,
// truthfully certified by the TPM, is refused with ErrKeyExportable. The
// same flow with a non-exportable key verifies and activates, so it is the
// attribute check, and nothing else, that refuses.
func TestExportableKeyOnSwtpm(t *testing.T) {
	tp := rawSwtpm(t)
	nonce := make([]byte, 32)
	for _, fixed := range []bool{true, false} {
		key := childKey(t, tp, agentKeyTemplate(fixed))
		ek := createPrimary(t, tp, tpm2.TPMRHEndorsement, tpm2.ECCEKTemplate)
		ak := createPrimary(t, tp, tpm2.TPMRHEndorsement, akTemplate("ak"))
		ev := certify(t, tp, ek, ak, ak, key, nonce)
		claimed, err := ev.CertifiedKey()
		if err != nil {
			t.Fatal(err)
		}
		p, err := allowVerifier(t, ek).Verify(ev, nonce, claimed)
		if fixed {
			if err != nil {
				t.Fatalf("non-exportable key: %v", err)
			}
			secret, err := activate(tp, ek, ak, p.Challenge)
			if err != nil {
				t.Fatalf("ActivateCredential: %v", err)
			}
			if _, err := p.Complete(secret); err != nil {
				t.Fatal(err)
			}
		} else if !errors.Is(err, attest.ErrKeyExportable) {
			t.Fatalf("exportable key: %v", err)
		}
		flush(tp, key)
		flush(tp, ek)
		flush(tp, ak)
	}
}

// TestKeyCertifiedByAnotherAKOnSwtpm: AK1 certified the key, the evidence
// names AK2 of the same TPM, which would pass activation. The signature
// check refuses it.
func TestKeyCertifiedByAnotherAKOnSwtpm(t *testing.T) {
	tp := rawSwtpm(t)
	nonce := make([]byte, 32)
	key := childKey(t, tp, agentKeyTemplate(true))
	ek := createPrimary(t, tp, tpm2.TPMRHEndorsement, tpm2.ECCEKTemplate)
	ak1 := createPrimary(t, tp, tpm2.TPMRHEndorsement, akTemplate("ak1"))
	ev := certify(t, tp, ek, ak1, ak1, key, nonce)
	flush(tp, ak1)
	ak2 := createPrimary(t, tp, tpm2.TPMRHEndorsement, akTemplate("ak2"))
	ev.AKPublic = tpm2.Marshal(ak2.public)
	claimed, _ := ev.CertifiedKey()
	if _, err := allowVerifier(t, ek).Verify(ev, nonce, claimed); !errors.Is(err, attest.ErrSignatureInvalid) {
		t.Fatalf("key certified by another AK: %v", err)
	}
}
