package tpm

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/go-tpm/tpm2/transport"
)

// Errors of opening and using a TPM.
var (
	// ErrUnsupportedDevice is a TPM string that names no kind of TPM this
	// package can open.
	ErrUnsupportedDevice = errors.New("unsupported TPM device")
	// ErrSimulatorUnavailable is "sim" in a binary built without cgo: the
	// reference simulator is C code.
	ErrSimulatorUnavailable = errors.New("TPM simulator not available: this binary was built without cgo")
	// ErrClosed is a TPM or key used after Close.
	ErrClosed = errors.New("TPM closed")
)

// SimulatorURI is the device string of the in-process simulator.
const SimulatorURI = "sim"

// swtpmPrefix starts the device string of an swtpm TCP command channel.
const swtpmPrefix = "swtpm://"

// dialTimeout bounds connecting to swtpm.
const dialTimeout = 5 * time.Second

// TPM is an open TPM. It is safe for concurrent use: commands that belong
// together (create a parent, load under it, flush it) run as one sequence,
// one sequence at a time per device.
//
// Several Opens of the same device string in one process share one
// connection (swtpm serves one client at a time, and the simulator exists
// once per process); the connection closes with the last Close. The
// simulator itself is started on first use and lives until the process
// exits, so keys created in it stay loadable for the whole process.
type TPM struct {
	dev    *device
	closed atomic.Bool
	log    *slog.Logger
}

// device is one connection to a TPM, shared by the TPMs opened on it.
type device struct {
	uri string
	// sem serializes command sequences; a channel rather than a mutex so
	// that waiting can be abandoned when the context ends.
	sem   chan struct{}
	tpm   transport.TPM
	close func() error // nil: never closed (the simulator)
	refs  int          // guarded by devices.mu
}

// devices is the process-wide table of open devices, by device string.
var devices = struct {
	mu sync.Mutex
	m  map[string]*device
}{m: make(map[string]*device)}

// openSimulator opens the in-process simulator; sim_cgo.go sets it.
var openSimulator func() (transport.TPM, error)

// Open opens the TPM named by uri:
//
//	/dev/tpmrm0, /dev/tpm0   a device file (any absolute path): the Linux
//	                         kernel's resource manager, or the raw device
//	swtpm://HOST:PORT        swtpm's TCP command channel, which carries raw
//	                         TPM 2.0 commands, as served by
//	                         swtpm socket --tpm2 --server type=tcp,port=PORT
//	                         --ctrl type=tcp,port=PORT+1
//	                         --flags not-need-init,startup-clear
//	sim                      the reference simulator in this process (cgo)
//
// Errors wrap ErrUnsupportedDevice for any other string and
// ErrSimulatorUnavailable for "sim" without cgo.
func Open(uri string) (*TPM, error) {
	name, err := canonicalDevice(uri)
	if err != nil {
		return nil, err
	}
	devices.mu.Lock()
	defer devices.mu.Unlock()
	d, ok := devices.m[name]
	if !ok {
		d, err = dial(name)
		if err != nil {
			return nil, fmt.Errorf("open TPM %s: %w", name, err)
		}
		devices.m[name] = d
	}
	d.refs++
	return &TPM{dev: d, log: slog.Default().With("component", "tpm", "device", name)}, nil
}

// canonicalDevice checks a device string and returns its canonical form.
func canonicalDevice(uri string) (string, error) {
	switch {
	case uri == SimulatorURI:
		return uri, nil
	case strings.HasPrefix(uri, swtpmPrefix):
		hostport := strings.TrimPrefix(uri, swtpmPrefix)
		host, port, err := net.SplitHostPort(hostport)
		if err != nil || host == "" || port == "" || strings.ContainsAny(hostport, "/?#") {
			return "", fmt.Errorf("%w %q: want swtpm://HOST:PORT", ErrUnsupportedDevice, uri)
		}
		return swtpmPrefix + net.JoinHostPort(host, port), nil
	case strings.HasPrefix(uri, "/") && !strings.ContainsAny(uri, "?#"):
		return uri, nil
	}
	return "", fmt.Errorf("%w %q: want a device path such as /dev/tpmrm0, swtpm://HOST:PORT or sim", ErrUnsupportedDevice, uri)
}

// dial connects to a canonical device string.
func dial(name string) (*device, error) {
	d := &device{uri: name, sem: make(chan struct{}, 1)}
	switch {
	case name == SimulatorURI:
		if openSimulator == nil {
			return nil, ErrSimulatorUnavailable
		}
		t, err := openSimulator()
		if err != nil {
			return nil, err
		}
		d.tpm = t
	case strings.HasPrefix(name, swtpmPrefix):
		conn, err := net.DialTimeout("tcp", strings.TrimPrefix(name, swtpmPrefix), dialTimeout)
		if err != nil {
			return nil, err
		}
		t := &streamTPM{conn: conn}
		d.tpm, d.close = t, conn.Close
	default:
		t, err := openDevice(name)
		if err != nil {
			return nil, err
		}
		d.tpm, d.close = t, t.Close
	}
	return d, nil
}

// URI is the device string the TPM was opened with, in canonical form; key
// URIs embed it.
func (t *TPM) URI() string { return t.dev.uri }

// Close releases this handle on the device; the connection closes with the
// last handle (never, for the simulator). Keys loaded through t must be
// closed first. Close is idempotent.
func (t *TPM) Close() error {
	if t.closed.Swap(true) {
		return nil
	}
	devices.mu.Lock()
	defer devices.mu.Unlock()
	d := t.dev
	d.refs--
	if d.refs > 0 || d.close == nil {
		return nil
	}
	delete(devices.m, d.uri)
	if err := d.close(); err != nil {
		return fmt.Errorf("close TPM %s: %w", d.uri, err)
	}
	return nil
}

// acquire waits for the device and returns it with a release function. The
// wait ends early, with ctx's error, when ctx ends; a TPM command in flight
// cannot be interrupted, but a context deadline becomes the I/O deadline of
// a network TPM.
func (t *TPM) acquire(ctx context.Context) (transport.TPM, func(), error) {
	if t.closed.Load() {
		return nil, nil, ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	select {
	case t.dev.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, nil, ctx.Err()
	}
	if s, ok := t.dev.tpm.(*streamTPM); ok {
		deadline, _ := ctx.Deadline()
		_ = s.conn.SetDeadline(deadline)
	}
	return t.dev.tpm, func() { <-t.dev.sem }, nil
}

// streamTPM sends TPM commands over a byte stream (swtpm's TCP channel).
//
// go-tpm's transport.FromReadWriter issues a single Read for the response,
// which on a TCP connection may return only part of it; streamTPM reads the
// response header and then exactly the size the header announces.
type streamTPM struct {
	conn net.Conn
}

// tpmHeaderSize is the size of a TPM command or response header: tag (2),
// size (4), command or response code (4).
const tpmHeaderSize = 10

// maxResponseSize bounds what a TPM may send back (TPM 2.0 buffers are at
// most a few KiB).
const maxResponseSize = 64 << 10

// Response codes after which a command is sent again: the TPM did not
// start it (TPM_RC_RETRY; libtpms answers so while it self-tests an
// algorithm on first use), or is busy (TPM_RC_YIELDED, TPM_RC_TESTING).
const (
	rcRetry   = 0x922
	rcYielded = 0x908
	rcTesting = 0x90A
)

// maxRetries bounds resending; the waits double from 1 ms, about 2 s in all.
const maxRetries = 11

// Send implements transport.TPM.
func (s *streamTPM) Send(cmd []byte) ([]byte, error) {
	for attempt := 0; ; attempt++ {
		rsp, err := s.roundTrip(cmd)
		if err != nil {
			return nil, err
		}
		switch binary.BigEndian.Uint32(rsp[6:10]) {
		case rcRetry, rcYielded, rcTesting:
			if attempt < maxRetries {
				time.Sleep(time.Millisecond << attempt)
				continue
			}
		}
		return rsp, nil
	}
}

// roundTrip sends one command and reads its response.
func (s *streamTPM) roundTrip(cmd []byte) ([]byte, error) {
	if _, err := s.conn.Write(cmd); err != nil {
		return nil, fmt.Errorf("send TPM command: %w", err)
	}
	hdr := make([]byte, tpmHeaderSize)
	if _, err := io.ReadFull(s.conn, hdr); err != nil {
		return nil, fmt.Errorf("read TPM response header: %w", err)
	}
	size := binary.BigEndian.Uint32(hdr[2:6])
	if size < tpmHeaderSize || size > maxResponseSize {
		return nil, fmt.Errorf("TPM response announces %d bytes", size)
	}
	rsp := make([]byte, size)
	copy(rsp, hdr)
	if _, err := io.ReadFull(s.conn, rsp[tpmHeaderSize:]); err != nil {
		return nil, fmt.Errorf("read TPM response: %w", err)
	}
	return rsp, nil
}
