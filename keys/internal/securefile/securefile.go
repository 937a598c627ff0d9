// Package securefile writes and reads the small secret files agentid keeps on
// disk (the key-encryption key, private JWK files, encrypted key blobs) with
// two guarantees:
//
//   - WriteNew never replaces an existing file and never lets a reader see a
//     half-written one: it writes a temporary file in the same directory, makes
//     it durable, then hard-links it into place. A hard link fails if the
//     name exists, so "create if absent" is atomic even between processes.
//   - ReadPrivate refuses a file that group or others may access (any bit of
//     mode 0077), the same rule ssh applies to private keys, because a secret
//     that others could read must be treated as leaked.
//
// The permission checks are skipped on Windows, where Unix mode bits do not
// describe who may read a file.
package securefile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
)

// ErrInsecureMode is a secret file or directory that group or others may
// access.
var ErrInsecureMode = errors.New("accessible by group or others")

// ErrTooLarge is a file larger than the caller's limit.
var ErrTooLarge = errors.New("file too large")

// checkModes reports whether Unix permission bits are meaningful here.
var checkModes = runtime.GOOS != "windows"

// WriteNew creates path with mode 0600 holding data. It fails with an error
// wrapping fs.ErrExist, and naming path, when path already exists; the
// existing file is left untouched.
func WriteNew(path string, data []byte) (err error) {
	dir := filepath.Dir(path)
	// A short temporary name: path's own name may already be near the file
	// system's limit.
	tmp, err := os.CreateTemp(dir, ".tmp-*")
	if err != nil {
		return fmt.Errorf("create temporary file for %s: %w", path, err)
	}
	tmpName := tmp.Name()
	defer func() {
		// The temporary name goes away on success (after the link) and on
		// failure; only the linked name stays.
		if rmErr := os.Remove(tmpName); rmErr != nil && !errors.Is(rmErr, fs.ErrNotExist) && err == nil {
			err = fmt.Errorf("remove temporary file %s: %w", tmpName, rmErr)
		}
	}()
	// CreateTemp uses mode 0600 already; Chmod makes it explicit and
	// independent of that detail.
	if checkModes {
		if err := tmp.Chmod(0o600); err != nil {
			_ = tmp.Close()
			return fmt.Errorf("chmod temporary file for %s: %w", path, err)
		}
	}
	if _, err := tmp.Write(data); err != nil {
		_ = tmp.Close()
		return fmt.Errorf("write temporary file for %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		_ = tmp.Close()
		return fmt.Errorf("sync temporary file for %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("close temporary file for %s: %w", path, err)
	}
	if err := os.Link(tmpName, path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("%s already exists; refusing to overwrite it: %w", path, fs.ErrExist)
		}
		// Some file systems have no hard links. Fall back to an exclusive
		// create, which still never overwrites but is not atomic for
		// concurrent readers.
		if exErr := writeExclusive(path, data); exErr != nil {
			return fmt.Errorf("link %s: %v; exclusive create: %w", path, err, exErr)
		}
		return nil
	}
	syncDir(dir)
	return nil
}

// writeExclusive writes data to a new file with O_EXCL.
func writeExclusive(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("%s already exists; refusing to overwrite it: %w", path, fs.ErrExist)
		}
		return err
	}
	if _, err := f.Write(data); err != nil {
		_ = f.Close()
		_ = os.Remove(path)
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		_ = f.Close()
		_ = os.Remove(path)
		return fmt.Errorf("sync %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		_ = os.Remove(path)
		return fmt.Errorf("close %s: %w", path, err)
	}
	return nil
}

// syncDir makes a new directory entry durable. Failure is ignored: not every
// platform can open or sync a directory, and the data itself was synced.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
}

// ReadPrivate reads a secret file of at most maxSize bytes. It fails when
// path is not a regular file, or when its mode lets group or others access it
// (the error wraps ErrInsecureMode and says to run chmod 600). A missing file
// gives an error wrapping fs.ErrNotExist.
func ReadPrivate(path string, maxSize int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("stat %s: %w", path, err)
	}
	if !info.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", path)
	}
	if checkModes && info.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("%s has mode %04o and is %w; run chmod 600 %s",
			path, info.Mode().Perm(), ErrInsecureMode, path)
	}
	if info.Size() > maxSize {
		return nil, fmt.Errorf("%s: %w (%d bytes, limit %d)", path, ErrTooLarge, info.Size(), maxSize)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxSize+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if int64(len(data)) > maxSize {
		return nil, fmt.Errorf("%s: %w (limit %d bytes)", path, ErrTooLarge, maxSize)
	}
	return data, nil
}

// PrivateDir creates dir with mode 0700 if it does not exist (parents too),
// and fails with an error wrapping ErrInsecureMode, saying to run chmod 700,
// when it exists and group or others may access it.
func PrivateDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create directory %s: %w", dir, err)
	}
	info, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("stat %s: %w", dir, err)
	}
	if !info.IsDir() {
		return fmt.Errorf("%s is not a directory", dir)
	}
	if checkModes && info.Mode().Perm()&0o077 != 0 {
		return fmt.Errorf("directory %s has mode %04o and is %w; run chmod 700 %s",
			dir, info.Mode().Perm(), ErrInsecureMode, dir)
	}
	return nil
}
