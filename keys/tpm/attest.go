package tpm

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"
	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"

	"github.com/agentid/agentid/keys/attest"
)

// Errors of attestation.
var (
	// ErrNonceSize is a nonce that is empty or longer than MaxNonceSize.
	ErrNonceSize = errors.New("attestation nonce size")
	// ErrForeignKey is a key loaded in another TPM than the one asked to
	// attest it.
	ErrForeignKey = errors.New("key is not in this TPM")
	// ErrNoEndorsementKey is a TPM that can make neither an ECC P-256 nor an
	// RSA-2048 endorsement key.
	ErrNoEndorsementKey = errors.New("TPM has no usable endorsement key")
	// ErrAKChanged is an activation on a TPM whose attestation key is no
	// longer the one in the evidence (another TPM, or its endorsement seed
	// changed).
	ErrAKChanged = errors.New("attestation key changed since the evidence was made")
	// ErrActivation is a challenge the TPM refused to activate: it was not
	// made for this TPM's EK and AK, or was altered.
	ErrActivation = errors.New("credential activation failed")
)

// MaxNonceSize is the largest nonce Attest accepts. TPM2_Certify carries the
// nonce as a TPM2B_DATA, whose size limit is that of the TPM's largest
// digest; 32 bytes fit in every TPM.
const MaxNonceSize = 32

// EKKind selects the endorsement key's algorithm.
type EKKind string

// Endorsement key kinds (TCG EK Credential Profile, low-range templates).
const (
	// EKAuto tries ECC and falls back to RSA when the TPM cannot make an
	// ECC EK.
	EKAuto EKKind = ""
	// EKECC is the ECC NIST P-256 EK (template L-2); its certificate is at
	// NV index 0x01C0000A.
	EKECC EKKind = "ecc"
	// EKRSA is the RSA-2048 EK (template L-1); its certificate is at NV
	// index 0x01C00002.
	EKRSA EKKind = "rsa"
)

// NV indices of EK certificates (TCG EK Credential Profile, section 2.2.1.5).
const (
	EKCertIndexRSA tpm2.TPMHandle = 0x01C00002
	EKCertIndexECC tpm2.TPMHandle = 0x01C0000A
)

// ekTemplate returns the template and certificate index of an EK kind.
func ekTemplate(kind EKKind) (tpm2.TPMTPublic, tpm2.TPMHandle, error) {
	switch kind {
	case EKECC:
		return tpm2.ECCEKTemplate, EKCertIndexECC, nil
	case EKRSA:
		return tpm2.RSAEKTemplate, EKCertIndexRSA, nil
	}
	return tpm2.TPMTPublic{}, 0, fmt.Errorf("unknown endorsement key kind %q: want ecc or rsa", kind)
}

// primary is a transient primary key.
type primary struct {
	handle tpm2.TPMHandle
	name   tpm2.TPM2BName
	public tpm2.TPMTPublic
}

// createEK makes the EK of kind (EKAuto: ECC, else RSA) and returns it
// loaded, with the kind it has.
func createEK(tpm transport.TPM, kind EKKind) (primary, EKKind, error) {
	kinds := []EKKind{kind}
	if kind == EKAuto {
		kinds = []EKKind{EKECC, EKRSA}
	}
	var errs []error
	for _, k := range kinds {
		tmpl, _, err := ekTemplate(k)
		if err != nil {
			return primary{}, "", err
		}
		p, err := createPrimary(tpm, tpm2.TPMRHEndorsement, tmpl)
		if err == nil {
			return p, k, nil
		}
		var rc tpm2.TPMRC
		if !errors.As(err, &rc) {
			// Not the TPM refusing the template: the transport failed.
			return primary{}, "", fmt.Errorf("create %s endorsement key: %w", k, err)
		}
		errs = append(errs, fmt.Errorf("%s: %w", k, err))
	}
	return primary{}, "", fmt.Errorf("%w: %w", ErrNoEndorsementKey, errors.Join(errs...))
}

// createPrimary runs TPM2_CreatePrimary in hierarchy h.
func createPrimary(tpm transport.TPM, h tpm2.TPMHandle, tmpl tpm2.TPMTPublic) (primary, error) {
	rsp, err := tpm2.CreatePrimary{PrimaryHandle: hierarchy(h), InPublic: tpm2.New2B(tmpl)}.Execute(tpm)
	if err != nil {
		return primary{}, err
	}
	pub, err := rsp.OutPublic.Contents()
	if err != nil {
		flush(tpm, rsp.ObjectHandle)
		return primary{}, fmt.Errorf("decode public area: %w", err)
	}
	return primary{handle: rsp.ObjectHandle, name: rsp.Name, public: *pub}, nil
}

// createAK makes the attestation key: a primary of the endorsement
// hierarchy from akTemplate. Being a primary, it is the same key every time
// for as long as the endorsement seed does not change.
func createAK(tpm transport.TPM) (primary, error) {
	p, err := createPrimary(tpm, tpm2.TPMRHEndorsement, akTemplate())
	if err != nil {
		return primary{}, fmt.Errorf("create attestation key: %w", err)
	}
	return p, nil
}

// EKPublic returns the public area of the TPM's endorsement key of kind
// (EKAuto: ECC if the TPM can, else RSA) and the kind it is.
func (t *TPM) EKPublic(ctx context.Context, kind EKKind) (tpm2.TPMTPublic, EKKind, error) {
	tpm, release, err := t.acquire(ctx)
	if err != nil {
		return tpm2.TPMTPublic{}, "", fmt.Errorf("endorsement key: %w", err)
	}
	defer release()
	ek, got, err := createEK(tpm, kind)
	if err != nil {
		return tpm2.TPMTPublic{}, "", err
	}
	flush(tpm, ek.handle)
	return ek.public, got, nil
}

// EKCertificate returns the DER EK certificate of kind (EKECC or EKRSA)
// from the TPM's NV, or nil when the TPM has none.
func (t *TPM) EKCertificate(ctx context.Context, kind EKKind) ([]byte, error) {
	_, index, err := ekTemplate(kind)
	if err != nil {
		return nil, err
	}
	tpm, release, err := t.acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("EK certificate: %w", err)
	}
	defer release()
	return readEKCertificate(tpm, index)
}

// readEKCertificate reads the certificate at index, trimmed to its DER
// length (manufacturers may define the index larger than the certificate),
// or returns nil when the index is not defined.
func readEKCertificate(tpm transport.TPM, index tpm2.TPMHandle) ([]byte, error) {
	data, err := readNV(tpm, index)
	if err != nil || data == nil {
		return nil, err
	}
	s := cryptobyte.String(data)
	var cert cryptobyte.String
	if s.ReadASN1Element(&cert, cbasn1.SEQUENCE) {
		return []byte(cert), nil
	}
	return data, nil
}

// nvBufferMax returns the most bytes one NV_Read or NV_Write moves.
func nvBufferMax(tpm transport.TPM) int {
	rsp, err := tpm2.GetCapability{
		Capability: tpm2.TPMCapTPMProperties, Property: uint32(tpm2.TPMPTNVBufferMax), PropertyCount: 1,
	}.Execute(tpm)
	if err == nil {
		if props, err := rsp.CapabilityData.Data.TPMProperties(); err == nil {
			for _, p := range props.TPMProperty {
				if p.Property == tpm2.TPMPTNVBufferMax && p.Value > 0 {
					return int(p.Value)
				}
			}
		}
	}
	return 512 // the smallest MAX_NV_BUFFER_SIZE of the PC Client profile
}

// readNV reads a whole NV index, or returns nil when it is not defined.
func readNV(tpm transport.TPM, index tpm2.TPMHandle) ([]byte, error) {
	rp, err := tpm2.NVReadPublic{NVIndex: index}.Execute(tpm)
	if err != nil {
		if errors.Is(err, tpm2.TPMRCHandle) {
			return nil, nil
		}
		return nil, fmt.Errorf("read NV %#x: TPM2_NV_ReadPublic: %w", uint32(index), err)
	}
	pub, err := rp.NVPublic.Contents()
	if err != nil {
		return nil, fmt.Errorf("read NV %#x: %w", uint32(index), err)
	}
	// EK certificate indices are readable with their own empty auth value
	// (authRead) or with the owner's (ownerRead).
	auth := hierarchy(tpm2.TPMRHOwner)
	if pub.Attributes.AuthRead {
		auth = authNone(index, rp.NVName)
	}
	chunk := nvBufferMax(tpm)
	out := make([]byte, 0, pub.DataSize)
	for off := 0; off < int(pub.DataSize); off += chunk {
		n := min(chunk, int(pub.DataSize)-off)
		rsp, err := tpm2.NVRead{
			AuthHandle: auth,
			NVIndex:    tpm2.NamedHandle{Handle: index, Name: rp.NVName},
			Size:       uint16(n),
			Offset:     uint16(off),
		}.Execute(tpm)
		if err != nil {
			return nil, fmt.Errorf("read NV %#x at %d: %w", uint32(index), off, err)
		}
		out = append(out, rsp.Data.Buffer...)
	}
	return out, nil
}

// WriteEKCertificate stores der as the EK certificate of kind, the way a
// manufacturer provisions one: it defines the certificate's NV index
// (replacing an index already there) with owner authorization, readable by
// anyone (authRead with an empty auth value, ownerRead), and writes der in
// chunks of the TPM's NV buffer size. Real manufacturers define the index
// with platform authorization (platformCreate); tests and labs use this.
func (t *TPM) WriteEKCertificate(ctx context.Context, kind EKKind, der []byte) error {
	_, index, err := ekTemplate(kind)
	if err != nil {
		return err
	}
	if len(der) == 0 || len(der) > 0xFFFF {
		return fmt.Errorf("write EK certificate: %d bytes", len(der))
	}
	tpm, release, err := t.acquire(ctx)
	if err != nil {
		return fmt.Errorf("write EK certificate: %w", err)
	}
	defer release()
	if rp, err := (tpm2.NVReadPublic{NVIndex: index}).Execute(tpm); err == nil {
		if _, err := (tpm2.NVUndefineSpace{
			AuthHandle: hierarchy(tpm2.TPMRHOwner),
			NVIndex:    tpm2.NamedHandle{Handle: index, Name: rp.NVName},
		}).Execute(tpm); err != nil {
			return fmt.Errorf("write EK certificate: remove NV %#x: %w", uint32(index), err)
		}
	}
	if _, err := (tpm2.NVDefineSpace{
		AuthHandle: hierarchy(tpm2.TPMRHOwner),
		PublicInfo: tpm2.New2B(tpm2.TPMSNVPublic{
			NVIndex: index,
			NameAlg: tpm2.TPMAlgSHA256,
			Attributes: tpm2.TPMANV{
				OwnerWrite: true, OwnerRead: true, AuthRead: true, NoDA: true,
				NT: tpm2.TPMNTOrdinary,
			},
			DataSize: uint16(len(der)),
		}),
	}).Execute(tpm); err != nil {
		return fmt.Errorf("write EK certificate: define NV %#x: %w", uint32(index), err)
	}
	chunk := nvBufferMax(tpm)
	for off := 0; off < len(der); off += chunk {
		// The index's Name covers its attributes, and the first write sets
		// TPMA_NV_WRITTEN: read the Name again before every write.
		rp, err := tpm2.NVReadPublic{NVIndex: index}.Execute(tpm)
		if err != nil {
			return fmt.Errorf("write EK certificate: %w", err)
		}
		end := min(off+chunk, len(der))
		if _, err := (tpm2.NVWrite{
			AuthHandle: hierarchy(tpm2.TPMRHOwner),
			NVIndex:    tpm2.NamedHandle{Handle: index, Name: rp.NVName},
			Data:       tpm2.TPM2BMaxNVBuffer{Buffer: der[off:end]},
			Offset:     uint16(off),
		}).Execute(tpm); err != nil {
			return fmt.Errorf("write EK certificate: write NV %#x at %d: %w", uint32(index), off, err)
		}
	}
	t.log.DebugContext(ctx, "EK certificate written", "kind", kind, "bytes", len(der))
	return nil
}

// Info describes a TPM as its properties do; EK certificates name the same
// values in their subject alternative name.
type Info struct {
	// Manufacturer is TPM_PT_MANUFACTURER, four ASCII characters packed in
	// a uint32 ("IBM ", "MSFT", "STM ", …).
	Manufacturer uint32
	// Vendor is TPM_PT_VENDOR_STRING_1..4 concatenated, NULs removed.
	Vendor string
	// FirmwareVersion1 and FirmwareVersion2 are TPM_PT_FIRMWARE_VERSION_1/2.
	FirmwareVersion1, FirmwareVersion2 uint32
}

// ManufacturerID is Manufacturer as its four characters, spaces trimmed.
func (i Info) ManufacturerID() string {
	b := []byte{byte(i.Manufacturer >> 24), byte(i.Manufacturer >> 16), byte(i.Manufacturer >> 8), byte(i.Manufacturer)}
	return string(bytes.TrimRight(b, " \x00"))
}

// Info reads the TPM's manufacturer, vendor string and firmware version.
func (t *TPM) Info(ctx context.Context) (Info, error) {
	tpm, release, err := t.acquire(ctx)
	if err != nil {
		return Info{}, fmt.Errorf("TPM info: %w", err)
	}
	defer release()
	rsp, err := tpm2.GetCapability{
		Capability: tpm2.TPMCapTPMProperties, Property: uint32(tpm2.TPMPTManufacturer), PropertyCount: 8,
	}.Execute(tpm)
	if err != nil {
		return Info{}, fmt.Errorf("TPM info: %w", err)
	}
	props, err := rsp.CapabilityData.Data.TPMProperties()
	if err != nil {
		return Info{}, fmt.Errorf("TPM info: %w", err)
	}
	var info Info
	var vendor [4]uint32
	for _, p := range props.TPMProperty {
		switch p.Property {
		case tpm2.TPMPTManufacturer:
			info.Manufacturer = p.Value
		case tpm2.TPMPTVendorString1, tpm2.TPMPTVendorString1 + 1, tpm2.TPMPTVendorString1 + 2, tpm2.TPMPTVendorString1 + 3:
			vendor[p.Property-tpm2.TPMPTVendorString1] = p.Value
		case tpm2.TPMPTFirmwareVersion1:
			info.FirmwareVersion1 = p.Value
		case tpm2.TPMPTFirmwareVersion1 + 1:
			info.FirmwareVersion2 = p.Value
		}
	}
	var vs []byte
	for _, v := range vendor {
		vs = append(vs, byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
	}
	info.Vendor = string(bytes.TrimRight(bytes.ReplaceAll(vs, []byte{0}, nil), " "))
	return info, nil
}

// Attestation is the evidence that one agent key lives in this TPM, and
// what the TPM needs to answer the verifier's activation challenge for it.
type Attestation struct {
	// Evidence is the document to send to the verifier.
	Evidence attest.Evidence
	// EKKind is the kind of EK the evidence names.
	EKKind EKKind

	tpm    *TPM
	akName []byte
}

// AttestOption configures Attest.
type AttestOption func(*attestConfig)

type attestConfig struct{ ek EKKind }

// WithEK chooses the endorsement key's kind (default EKAuto: ECC, falling
// back to RSA).
func WithEK(kind EKKind) AttestOption { return func(c *attestConfig) { c.ek = kind } }

// Attest produces the evidence that key lives in this TPM, fresh for nonce
// (1 to MaxNonceSize bytes, chosen by the verifier):
//
//  1. it makes the EK and reads its public area and, when the TPM has one,
//     its certificate from NV;
//  2. it makes the AK (a restricted signing primary of the endorsement
//     hierarchy, see the package documentation);
//  3. it has the AK certify the key: TPM2_Certify with qualifyingData =
//     nonce returns a TPMS_ATTEST of type TPM_ST_ATTEST_CERTIFY naming the
//     key, and the AK's signature over it.
//
// The EK and the AK are flushed before Attest returns; Activate makes them
// again.
func (t *TPM) Attest(ctx context.Context, key *Key, nonce []byte, opts ...AttestOption) (*Attestation, error) {
	var cfg attestConfig
	for _, o := range opts {
		o(&cfg)
	}
	if len(nonce) == 0 || len(nonce) > MaxNonceSize {
		return nil, fmt.Errorf("attest: %w: %d bytes, want 1 to %d", ErrNonceSize, len(nonce), MaxNonceSize)
	}
	if key == nil || key.tpm.dev != t.dev {
		return nil, fmt.Errorf("attest: %w", ErrForeignKey)
	}
	tpm, release, err := t.acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("attest: %w", err)
	}
	defer release()
	kh, err := key.handleFor()
	if err != nil {
		return nil, fmt.Errorf("attest: %w", err)
	}

	ek, kind, err := createEK(tpm, cfg.ek)
	if err != nil {
		return nil, fmt.Errorf("attest: %w", err)
	}
	flush(tpm, ek.handle)
	_, certIndex, _ := ekTemplate(kind)
	ekCert, err := readEKCertificate(tpm, certIndex)
	if err != nil {
		return nil, fmt.Errorf("attest: EK certificate: %w", err)
	}

	ak, err := createAK(tpm)
	if err != nil {
		return nil, fmt.Errorf("attest: %w", err)
	}
	defer flush(tpm, ak.handle)
	rsp, err := tpm2.Certify{
		ObjectHandle:   authNone(kh, key.tpmName),
		SignHandle:     authNone(ak.handle, ak.name),
		QualifyingData: tpm2.TPM2BData{Buffer: nonce},
		InScheme:       tpm2.TPMTSigScheme{Scheme: tpm2.TPMAlgNull},
	}.Execute(tpm)
	if err != nil {
		return nil, fmt.Errorf("attest: TPM2_Certify: %w", err)
	}
	t.log.DebugContext(ctx, "key attested", "key", key.name, "ek", kind, "ekCertificate", ekCert != nil)
	return &Attestation{
		Evidence: attest.Evidence{
			Version:          attest.EvidenceVersion,
			EKCertificate:    ekCert,
			EKPublic:         tpm2.Marshal(ek.public),
			AKPublic:         tpm2.Marshal(ak.public),
			KeyPublic:        tpm2.Marshal(key.area),
			CertifyInfo:      append([]byte(nil), rsp.CertifyInfo.Bytes()...),
			CertifySignature: tpm2.Marshal(rsp.Signature),
		},
		EKKind: kind,
		tpm:    t,
		akName: ak.name.Buffer,
	}, nil
}

// Activate answers the verifier's activation challenge: it makes the EK and
// the AK again, and TPM2_ActivateCredential recovers the secret that the
// verifier encrypted to the EK for the AK's Name. The EK's policy is
// PolicySecret(TPM_RH_ENDORSEMENT), satisfied in a policy session with the
// endorsement hierarchy's (empty) auth value. A challenge made for another
// EK or AK, or altered, fails with ErrActivation.
func (a *Attestation) Activate(ctx context.Context, ch attest.ActivationChallenge) ([]byte, error) {
	tpm, release, err := a.tpm.acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("activate: %w", err)
	}
	defer release()
	ek, _, err := createEK(tpm, a.EKKind)
	if err != nil {
		return nil, fmt.Errorf("activate: %w", err)
	}
	defer flush(tpm, ek.handle)
	ak, err := createAK(tpm)
	if err != nil {
		return nil, fmt.Errorf("activate: %w", err)
	}
	defer flush(tpm, ak.handle)
	if !bytes.Equal(ak.name.Buffer, a.akName) {
		return nil, fmt.Errorf("activate: %w", ErrAKChanged)
	}
	endorsementPolicy := func(tpm transport.TPM, session tpm2.TPMISHPolicy, nonceTPM tpm2.TPM2BNonce) error {
		_, err := tpm2.PolicySecret{
			AuthHandle:    hierarchy(tpm2.TPMRHEndorsement),
			PolicySession: session,
			NonceTPM:      nonceTPM,
		}.Execute(tpm)
		return err
	}
	rsp, err := tpm2.ActivateCredential{
		ActivateHandle: authNone(ak.handle, ak.name),
		KeyHandle: tpm2.AuthHandle{
			Handle: ek.handle,
			Name:   ek.name,
			Auth:   tpm2.Policy(tpm2.TPMAlgSHA256, 16, endorsementPolicy),
		},
		CredentialBlob: tpm2.TPM2BIDObject{Buffer: ch.Credential},
		Secret:         tpm2.TPM2BEncryptedSecret{Buffer: ch.Secret},
	}.Execute(tpm)
	if err != nil {
		var rc tpm2.TPMRC
		if errors.As(err, &rc) {
			return nil, fmt.Errorf("activate: %w: %w", ErrActivation, err)
		}
		return nil, fmt.Errorf("activate: %w", err)
	}
	return rsp.CertInfo.Buffer, nil
}

// AKName is the TPM Name of the attestation key the evidence names (what a
// verifier binds its activation challenge to).
func (a *Attestation) AKName() []byte { return append([]byte(nil), a.akName...) }

// Close releases the attestation. It holds no TPM objects between calls
// (Activate makes and flushes its own), so Close only marks it done; it is
// there so that callers need not know that.
func (a *Attestation) Close() error { return nil }
