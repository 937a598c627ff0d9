package tpm

import (
	"context"

	"github.com/google/go-tpm/tpm2"
)

// ReadPublicFromTPM asks the TPM for the public area of the loaded key
// (TPM2_ReadPublic), rather than trusting the blob.
func ReadPublicFromTPM(ctx context.Context, k *Key) (*tpm2.TPMTPublic, []byte, error) {
	tpm, release, err := k.tpm.acquire(ctx)
	if err != nil {
		return nil, nil, err
	}
	defer release()
	h, err := k.handleFor()
	if err != nil {
		return nil, nil, err
	}
	rsp, err := tpm2.ReadPublic{ObjectHandle: h}.Execute(tpm)
	if err != nil {
		return nil, nil, err
	}
	pub, err := rsp.OutPublic.Contents()
	if err != nil {
		return nil, nil, err
	}
	return pub, rsp.Name.Buffer, nil
}
