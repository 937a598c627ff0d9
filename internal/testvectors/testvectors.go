// Package testvectors locates the public test vectors that tests read byte
// for byte: the shared/vectors folder beside the checkout, or the folder
// named by AGENTID_VECTORS. A test that needs them fails, never skips, when
// they are missing.
package testvectors

import (
	"os"
	"path/filepath"
	"testing"
)

// Env names the environment variable that overrides the vectors' location.
const Env = "AGENTID_VECTORS"

// Dir returns the vectors folder: $AGENTID_VECTORS, or shared/vectors beside
// the module root (the directory holding go.mod, found from the working
// directory up).
func Dir(t testing.TB) string {
	t.Helper()
	if v := os.Getenv(Env); v != "" {
		return mustExist(t, v)
	}
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return mustExist(t, filepath.Join(dir, "..", "shared", "vectors"))
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatalf("test vectors: no go.mod above the working directory; set %s", Env)
		}
		dir = parent
	}
}

// Path joins elem to the vectors folder.
func Path(t testing.TB, elem ...string) string {
	t.Helper()
	return filepath.Join(append([]string{Dir(t)}, elem...)...)
}

func mustExist(t testing.TB, dir string) string {
	t.Helper()
	if _, err := os.Stat(dir); err != nil {
		t.Fatalf("test vectors not found at %s (set %s): %v", dir, Env, err)
	}
	return dir
}
