package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestServeRelyingPartiesFileRefused: a relying-parties file that cannot be
// read or does not check is a usage error naming it, before anything
// starts; AGENTID_RELYING_PARTIES is read like the flag.
func TestServeRelyingPartiesFileRefused(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "rp.json")
	if err := os.WriteFile(bad, []byte(`[{"id": "erp", "minAssurance": "titanium"}]`), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		path, want string
	}{
		{filepath.Join(dir, "missing.json"), "relying parties"},
		{bad, "minAssurance"},
	} {
		code, _, stderr := runCLI(t, "serve", "--relying-parties", tc.path, "--data", filepath.Join(dir, "data"), "--addr", "127.0.0.1:0")
		if code != exitUsage || !strings.Contains(stderr, tc.want) {
			t.Errorf("%s: exit %d, stderr %q", tc.path, code, stderr)
		}
	}
	t.Setenv("AGENTID_RELYING_PARTIES", bad)
	if code, _, stderr := runCLI(t, "serve", "--data", filepath.Join(dir, "data"), "--addr", "127.0.0.1:0"); code != exitUsage || !strings.Contains(stderr, "minAssurance") {
		t.Errorf("from the environment: exit %d, stderr %q", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "data")); !os.IsNotExist(err) {
		t.Errorf("the data directory was created: %v", err)
	}
}
