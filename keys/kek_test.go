package keys

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func mustKEK(t *testing.T) *KEK {
	t.Helper()
	k, err := NewKEK()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestParseKEK(t *testing.T) {
	raw := bytes.Repeat([]byte{0xfb}, KEKSize) // 0xfb makes "+/" and "-_" differ
	want, err := newKEK([KEKSize]byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		s := "  " + enc.EncodeToString(raw) + "\n"
		k, err := ParseKEK(s)
		if err != nil {
			t.Fatalf("ParseKEK(%q): %v", s, err)
		}
		if k.ID() != want.ID() || k.blobKey != want.blobKey {
			t.Errorf("ParseKEK(%q) gives another key", s)
		}
	}
	secret := base64.StdEncoding.EncodeToString(raw[:31])
	for _, s := range []string{"", "not base64!", secret, base64.StdEncoding.EncodeToString(append(raw, 1))} {
		_, err := ParseKEK(s)
		if !errors.Is(err, ErrInvalidKEK) {
			t.Errorf("ParseKEK(%q) error = %v, want ErrInvalidKEK", s, err)
		}
		if s != "" && err != nil && strings.Contains(err.Error(), s) {
			t.Errorf("ParseKEK error repeats its input: %v", err)
		}
	}
}

func TestKeyBlobRoundTrip(t *testing.T) {
	kek := mustKEK(t)
	plain := []byte("private key bytes")
	const uri, typ = "software:aaaa", P256
	blob, err := kek.SealKeyBlob(uri, typ, plain)
	if err != nil {
		t.Fatal(err)
	}
	if len(blob) != len(plain)+blobOverhead {
		t.Errorf("blob is %d bytes, want %d", len(blob), len(plain)+blobOverhead)
	}
	if blob[0] != blobVersion1 || hex.EncodeToString(blob[1:5]) != kek.ID() {
		t.Errorf("blob header = %x, want version 1 and KEK id %s", blob[:5], kek.ID())
	}
	if bytes.Contains(blob, plain) {
		t.Error("blob contains the plaintext")
	}
	got, err := kek.OpenKeyBlob(uri, typ, blob)
	if err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("OpenKeyBlob = %q, %v", got, err)
	}

	// A fresh nonce per blob: sealing twice gives different blobs.
	blob2, err := kek.SealKeyBlob(uri, typ, plain)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(blob[5:17], blob2[5:17]) || bytes.Equal(blob, blob2) {
		t.Error("two seals reused a nonce")
	}

	// Another KEK is named as such, not as corruption.
	_, err = mustKEK(t).OpenKeyBlob(uri, typ, blob)
	if !errors.Is(err, ErrWrongKEK) || !strings.Contains(err.Error(), "encrypted under another key-encryption key") {
		t.Errorf("other KEK: err = %v, want ErrWrongKEK", err)
	}

	// Bound to the URI and the type.
	if _, err := kek.OpenKeyBlob("software:bbbb", typ, blob); !errors.Is(err, ErrKeyBlobCorrupt) {
		t.Errorf("other URI: err = %v, want ErrKeyBlobCorrupt", err)
	}
	if _, err := kek.OpenKeyBlob(uri, P384, blob); !errors.Is(err, ErrKeyBlobCorrupt) {
		t.Errorf("other type: err = %v, want ErrKeyBlobCorrupt", err)
	}

	// Every byte matters.
	for i := range blob {
		bad := append([]byte(nil), blob...)
		bad[i] ^= 0x01
		_, err := kek.OpenKeyBlob(uri, typ, bad)
		var want error
		switch {
		case i == 0:
			want = ErrUnsupportedBlobVersion
		case i < blobHeaderSize:
			want = ErrWrongKEK
		default:
			want = ErrKeyBlobCorrupt
		}
		if !errors.Is(err, want) {
			t.Errorf("byte %d flipped: err = %v, want %v", i, err, want)
		}
	}
	for _, n := range []int{0, 1, blobHeaderSize, blobOverhead - 1} {
		if _, err := kek.OpenKeyBlob(uri, typ, blob[:n]); err == nil {
			t.Errorf("blob truncated to %d bytes opened", n)
		}
	}
	if _, err := kek.OpenKeyBlob(uri, typ, blob[:len(blob)-1]); !errors.Is(err, ErrKeyBlobCorrupt) {
		t.Errorf("blob missing its last byte: err = %v, want ErrKeyBlobCorrupt", err)
	}
}

func writeFile(t *testing.T, path, data string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil { // WriteFile's mode is masked by umask
		t.Fatal(err)
	}
}

func TestLoadKEK(t *testing.T) {
	envKEK, fileKEK := bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32)
	envValue := base64.StdEncoding.EncodeToString(envKEK)
	wantEnv, _ := newKEK([32]byte(envKEK))
	wantFile, _ := newKEK([32]byte(fileKEK))

	t.Run("environment wins over the file", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "kek")
		writeFile(t, path, base64.RawURLEncoding.EncodeToString(fileKEK), 0o600)
		k, generated, err := LoadKEK(envValue, path)
		if err != nil || generated || k.ID() != wantEnv.ID() {
			t.Fatalf("LoadKEK = %v, %v, %v; want the environment's KEK %s", k, generated, err, wantEnv.ID())
		}
	})
	t.Run("bad environment value", func(t *testing.T) {
		_, _, err := LoadKEK("short", filepath.Join(t.TempDir(), "kek"))
		if !errors.Is(err, ErrInvalidKEK) || !strings.Contains(err.Error(), KEKEnv) {
			t.Fatalf("err = %v, want ErrInvalidKEK naming %s", err, KEKEnv)
		}
	})
	t.Run("file", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "kek")
		writeFile(t, path, base64.RawURLEncoding.EncodeToString(fileKEK)+"\n", 0o600)
		k, generated, err := LoadKEK("", path)
		if err != nil || generated || k.ID() != wantFile.ID() {
			t.Fatalf("LoadKEK = %v, %v, %v; want the file's KEK %s", k, generated, err, wantFile.ID())
		}
	})
	t.Run("file readable by others is refused", func(t *testing.T) {
		for _, mode := range []os.FileMode{0o644, 0o640, 0o604, 0o601} {
			path := filepath.Join(t.TempDir(), "kek")
			writeFile(t, path, base64.RawURLEncoding.EncodeToString(fileKEK), mode)
			_, _, err := LoadKEK("", path)
			if !errors.Is(err, ErrInsecureFileMode) || !strings.Contains(err.Error(), "chmod 600") {
				t.Errorf("mode %04o: err = %v, want ErrInsecureFileMode saying chmod 600", mode, err)
			}
		}
	})
	t.Run("malformed file", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "kek")
		writeFile(t, path, "garbage", 0o600)
		if _, _, err := LoadKEK("", path); !errors.Is(err, ErrInvalidKEK) || !strings.Contains(err.Error(), path) {
			t.Fatalf("err = %v, want ErrInvalidKEK naming the file", err)
		}
	})
	t.Run("generated when absent", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "data")
		path := filepath.Join(dir, "kek")
		k, generated, err := LoadKEK("", path)
		if err != nil || !generated {
			t.Fatalf("LoadKEK = %v, %v, %v; want a generated KEK", k, generated, err)
		}
		info, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if info.Mode().Perm() != 0o600 {
			t.Errorf("KEK file mode = %04o, want 0600", info.Mode().Perm())
		}
		if info, err := os.Stat(dir); err != nil || info.Mode().Perm() != 0o700 {
			t.Errorf("KEK directory: %v, %v; want mode 0700", info.Mode(), err)
		}
		again, generated, err := LoadKEK("", path)
		if err != nil || generated || again.ID() != k.ID() || again.blobKey != k.blobKey {
			t.Fatalf("second LoadKEK = %v, %v, %v; want the same KEK, not generated", again, generated, err)
		}
		entries, _ := os.ReadDir(dir)
		if len(entries) != 1 {
			t.Errorf("directory holds %d entries, want only the KEK file", len(entries))
		}
	})
	t.Run("nothing to go on", func(t *testing.T) {
		if _, _, err := LoadKEK("", ""); err == nil {
			t.Fatal("LoadKEK with no value and no path succeeded")
		}
	})
}

// secretForms lists encodings under which secret bytes could leak.
func secretForms(secret []byte) []string {
	return []string{
		hex.EncodeToString(secret),
		strings.ToUpper(hex.EncodeToString(secret)),
		base64.StdEncoding.EncodeToString(secret),
		base64.RawURLEncoding.EncodeToString(secret),
		fmt.Sprint(secret), // [12 34 …]
		string(secret),
	}
}

func TestKEKRedaction(t *testing.T) {
	kek := mustKEK(t)
	var outputs []string
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%x", "%X", "%d", "%q"} {
		outputs = append(outputs, fmt.Sprintf(verb, kek), fmt.Sprintf(verb, *kek))
		outputs = append(outputs, fmt.Sprintf(verb, struct{ K *KEK }{kek}), fmt.Sprintf(verb, struct{ K KEK }{*kek}))
	}
	var logs bytes.Buffer
	slog.New(slog.NewTextHandler(&logs, nil)).Info("kek", "kek", kek, "value", *kek)
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("kek", "kek", kek, "value", *kek)
	outputs = append(outputs, logs.String())
	if !strings.Contains(logs.String(), kek.ID()) {
		t.Errorf("log does not show the KEK id: %s", logs.String())
	}
	for _, out := range outputs {
		for _, secret := range [][]byte{kek.secret[:], kek.blobKey[:]} {
			for _, form := range secretForms(secret) {
				if strings.Contains(out, form) {
					t.Fatalf("output leaks the KEK: %s", out)
				}
			}
		}
	}
	if _, err := json.Marshal(kek); err == nil {
		t.Error("json.Marshal(*KEK) succeeded")
	}
	if _, err := json.Marshal(struct{ K KEK }{*kek}); err == nil {
		t.Error("json.Marshal of a struct holding a KEK succeeded")
	}
}
