package securefile

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestWriteNewReadPrivate(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "secret")
	if err := WriteNew(path, []byte("one")); err != nil {
		t.Fatal(err)
	}
	err := WriteNew(path, []byte("two"))
	if !errors.Is(err, fs.ErrExist) || !strings.Contains(err.Error(), path) {
		t.Fatalf("second WriteNew: err = %v, want fs.ErrExist naming the path", err)
	}
	data, err := ReadPrivate(path, 16)
	if err != nil || string(data) != "one" {
		t.Fatalf("ReadPrivate = %q, %v; want the first write", data, err)
	}
	if _, err := ReadPrivate(path, 2); !errors.Is(err, ErrTooLarge) {
		t.Errorf("limit 2: err = %v, want ErrTooLarge", err)
	}
	if _, err := ReadPrivate(dir, 16); err == nil {
		t.Error("ReadPrivate of a directory succeeded")
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("%d entries left in the directory, want 1 (no temporary files)", len(entries))
	}
	if err := WriteNew(filepath.Join(dir, "missing", "x"), nil); err == nil {
		t.Error("WriteNew into a missing directory succeeded")
	}
}

func TestPrivateDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "b")
	if err := PrivateDir(dir); err != nil {
		t.Fatal(err)
	}
	if info, _ := os.Stat(dir); info.Mode().Perm() != 0o700 {
		t.Errorf("mode %04o, want 0700", info.Mode().Perm())
	}
	if err := os.Chmod(dir, 0o750); err != nil {
		t.Fatal(err)
	}
	if err := PrivateDir(dir); !errors.Is(err, ErrInsecureMode) {
		t.Errorf("0750 directory: err = %v, want ErrInsecureMode", err)
	}
	file := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := PrivateDir(file); err == nil {
		t.Error("PrivateDir of a file succeeded")
	}
}
