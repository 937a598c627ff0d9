//go:build windows

package tpm

import (
	"fmt"

	"github.com/google/go-tpm/tpm2/transport"
)

// openDevice fails: Windows reaches its TPM through TBS, not a device file.
func openDevice(path string) (transport.TPMCloser, error) {
	return nil, fmt.Errorf("%w %q: device files are not supported on Windows", ErrUnsupportedDevice, path)
}
