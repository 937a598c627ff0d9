package credential

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// ValidateJSONLD with the default expander does not copy the document, so
// it must leave it as it was, whether the check passes or fails, on the
// JSON-LD fast path or on json-gold's.
func TestValidateJSONLDDoesNotModifyDocument(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "vcdm2-suite", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no fixtures: %v", err)
	}
	for _, path := range files {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		m, err := DecodeObject(data)
		if err != nil {
			continue
		}
		before, _ := json.Marshal(m)
		_ = ValidateJSONLD(context.Background(), NewCredential(m), nil)
		after, _ := json.Marshal(m)
		if string(before) != string(after) {
			t.Fatalf("%s: ValidateJSONLD modified the document\nbefore: %s\nafter:  %s", path, before, after)
		}
	}
}
