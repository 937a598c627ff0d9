package attest

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"slices"
	"time"
)

// OIDs of the TCG EK Credential Profile (TCG "EK Credential Profile for TPM
// Family 2.0", section 3.2 and the TCG OID registry).
var (
	oidSubjectAltName   = asn1.ObjectIdentifier{2, 5, 29, 17}
	oidTPMManufacturer  = asn1.ObjectIdentifier{2, 23, 133, 2, 1}
	oidTPMModel         = asn1.ObjectIdentifier{2, 23, 133, 2, 2}
	oidTPMVersion       = asn1.ObjectIdentifier{2, 23, 133, 2, 3}
	oidEKCertificateEKU = asn1.ObjectIdentifier{2, 23, 133, 8, 1}
)

// TPMInfo is what an EK certificate's subject-alternative-name says about
// the TPM: the TCG attributes tpmManufacturer, tpmModel and tpmVersion
// (firmware), as the manufacturer wrote them. Manufacturers write the vendor
// as "id:" and the hex of its four-character TCG vendor ID, for example
// "id:494E5443" for Intel ("INTC").
type TPMInfo struct {
	Manufacturer    string `json:"manufacturer,omitempty"`
	Model           string `json:"model,omitempty"`
	FirmwareVersion string `json:"firmwareVersion,omitempty"`
}

// ParseEKCertificate parses a DER EK certificate in the TCG format.
//
// A TCG EK certificate usually has an empty subject, so its
// subject-alternative-name is critical, and it holds only a directoryName
// with the TPM attributes. Go's x509 parser understands DNS names, e-mail
// addresses, IPs and URIs in a SAN, and lists a critical SAN holding none of
// them in UnhandledCriticalExtensions, which makes Verify refuse the
// certificate. ParseEKCertificate parses that SAN itself (encoding/asn1),
// returns the TPM attributes, and only then removes the SAN from
// UnhandledCriticalExtensions, so that a SAN it could not check still
// fails. Errors wrap ErrEKCertificateMalformed.
func ParseEKCertificate(der []byte) (*x509.Certificate, TPMInfo, error) {
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, TPMInfo{}, fmt.Errorf("%w: %v", ErrEKCertificateMalformed, err)
	}
	var info TPMInfo
	for _, ext := range cert.Extensions {
		if !ext.Id.Equal(oidSubjectAltName) {
			continue
		}
		info, err = parseTCGSubjectAltName(ext.Value)
		if err != nil {
			return nil, TPMInfo{}, fmt.Errorf("%w: subject alternative name: %v", ErrEKCertificateMalformed, err)
		}
		cert.UnhandledCriticalExtensions = slices.DeleteFunc(cert.UnhandledCriticalExtensions, func(id asn1.ObjectIdentifier) bool {
			return id.Equal(oidSubjectAltName)
		})
	}
	return cert, info, nil
}

// parseTCGSubjectAltName reads the TPM attributes from a SubjectAltName
// extension value: GeneralNames, a SEQUENCE of GeneralName, where the TCG
// uses directoryName ([4] EXPLICIT Name) holding one or more RDNs with the
// tcg-at-tpmManufacturer, tcg-at-tpmModel and tcg-at-tpmVersion attributes.
// Other kinds of GeneralName are allowed and ignored (Go's parser has them).
// An attribute that appears twice, or whose value is not a string, is an
// error.
func parseTCGSubjectAltName(value []byte) (TPMInfo, error) {
	var names []asn1.RawValue
	rest, err := asn1.Unmarshal(value, &names)
	if err != nil {
		return TPMInfo{}, err
	}
	if len(rest) != 0 {
		return TPMInfo{}, fmt.Errorf("trailing data")
	}
	var info TPMInfo
	seen := map[string]bool{}
	for _, gn := range names {
		if gn.Class != asn1.ClassContextSpecific || gn.Tag != 4 {
			continue
		}
		if !gn.IsCompound {
			return TPMInfo{}, fmt.Errorf("directoryName is not constructed")
		}
		var rdns pkix.RDNSequence
		rest, err := asn1.Unmarshal(gn.Bytes, &rdns)
		if err != nil {
			return TPMInfo{}, fmt.Errorf("directoryName: %v", err)
		}
		if len(rest) != 0 {
			return TPMInfo{}, fmt.Errorf("directoryName: trailing data")
		}
		for _, rdn := range rdns {
			for _, atv := range rdn {
				var dst *string
				switch {
				case atv.Type.Equal(oidTPMManufacturer):
					dst = &info.Manufacturer
				case atv.Type.Equal(oidTPMModel):
					dst = &info.Model
				case atv.Type.Equal(oidTPMVersion):
					dst = &info.FirmwareVersion
				default:
					continue
				}
				s, ok := atv.Value.(string)
				if !ok {
					return TPMInfo{}, fmt.Errorf("attribute %v is not a string", atv.Type)
				}
				if seen[atv.Type.String()] {
					return TPMInfo{}, fmt.Errorf("attribute %v appears twice", atv.Type)
				}
				seen[atv.Type.String()] = true
				*dst = s
			}
		}
	}
	return info, nil
}

// checkEKUsage accepts an EK certificate without an extended key usage, or
// one whose extended key usage includes tcg-kp-EKCertificate or
// anyExtendedKeyUsage.
func checkEKUsage(cert *x509.Certificate) error {
	if len(cert.ExtKeyUsage) == 0 && len(cert.UnknownExtKeyUsage) == 0 {
		return nil
	}
	if slices.Contains(cert.ExtKeyUsage, x509.ExtKeyUsageAny) {
		return nil
	}
	for _, u := range cert.UnknownExtKeyUsage {
		if u.Equal(oidEKCertificateEKU) {
			return nil
		}
	}
	return ErrEKCertificateUsage
}

// verifyEKChain checks that cert chains to roots at time now. Extended key
// usage is checked by checkEKUsage (Go does not know the TCG OID), so the
// chain is verified for any usage. Intermediate certificates are looked up
// in roots too: a roots directory may hold a manufacturer's intermediates,
// and every certificate in it is a trust anchor.
func verifyEKChain(cert *x509.Certificate, roots *x509.CertPool, now time.Time) error {
	if roots == nil {
		return fmt.Errorf("%w: no TPM roots are configured", ErrEKCertificateChain)
	}
	_, err := cert.Verify(x509.VerifyOptions{
		Roots:       roots,
		CurrentTime: now,
		KeyUsages:   []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
	})
	if err != nil {
		return fmt.Errorf("%w: %v", ErrEKCertificateChain, err)
	}
	return nil
}
