package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/agentid/agentid/internal/testvectors"
)

// TestStatusDecodeReproducesVectors decodes the generated Bitstring Status
// List vectors (as a string argument, a file and standard input) and
// compares the set indexes with the vectors'.
func TestStatusDecodeReproducesVectors(t *testing.T) {
	files, _ := filepath.Glob(testvectors.Path(t, "bitstring-status-list", "generated", "*.json"))
	if len(files) != 3 {
		t.Fatalf("%d generated vectors", len(files))
	}
	for _, f := range files {
		raw, _ := os.ReadFile(f)
		var v struct {
			Length      int    `json:"length"`
			SetIndexes  []int  `json:"setIndexes"`
			EncodedList string `json:"encodedList"`
		}
		if err := json.Unmarshal(raw, &v); err != nil {
			t.Fatal(err)
		}
		t.Run(filepath.Base(f), func(t *testing.T) {
			listFile := filepath.Join(t.TempDir(), "list.txt")
			_ = os.WriteFile(listFile, []byte(v.EncodedList+"\n"), 0o600)
			for _, arg := range []string{v.EncodedList, listFile} {
				code, out, stderr := runCLI(t, "status", "decode", "--json", arg)
				if code != 0 {
					t.Fatalf("exit %d: %s", code, stderr)
				}
				var got decodedStatus
				if err := json.Unmarshal([]byte(out), &got); err != nil {
					t.Fatal(err)
				}
				var idx []int
				for _, e := range got.Set {
					if e.Value != 1 {
						t.Fatalf("entry %d has value %d", e.Index, e.Value)
					}
					idx = append(idx, e.Index)
				}
				if got.Entries != v.Length || got.Kind != "BitstringStatusList" || !slices.Equal(idx, v.SetIndexes) {
					t.Fatalf("decoded %d entries, set %v; want %d, %v", got.Entries, idx, v.Length, v.SetIndexes)
				}
			}
		})
	}
}

// TestStatusDecodeTokenStatusList decodes the Token Status List draft's
// example lists.
func TestStatusDecodeTokenStatusList(t *testing.T) {
	for _, c := range []struct {
		lst  string
		bits string
		want string
	}{
		// draft-ietf-oauth-status-list: statuses [1,0,0,1,1,1,0,1, 1,1,0,0,0,1,0,1] at 1 bit.
		{"eNrbuRgAAhcBXQ", "1", "0\t1\n3\t1\n4\t1\n5\t1\n7\t1\n8\t1\n9\t1\n13\t1\n15\t1\n"},
		// statuses [1,2,0,3,0,1,0,1,1,2,3,3] at 2 bits.
		{"eNo76fITAAPfAgc", "2", "0\t1\n1\t2\n3\t3\n5\t1\n7\t1\n8\t1\n9\t2\n10\t3\n11\t3\n"},
	} {
		code, out, stderr := runCLI(t, "status", "decode", "--bits", c.bits, c.lst)
		if code != 0 {
			t.Fatalf("%s: exit %d: %s", c.lst, code, stderr)
		}
		_, body, _ := strings.Cut(out, "\n")
		if !strings.HasPrefix(out, "TokenStatusList:") || body != c.want {
			t.Errorf("%s: got\n%s\nwant set entries\n%s", c.lst, out, c.want)
		}
	}
}

func TestStatusDecodeRefusesGarbage(t *testing.T) {
	for _, arg := range []string{"uNOTGZIP", "H4sIgarbage", "eNgarbage"} {
		if code, _, stderr := runCLI(t, "status", "decode", arg); code != exitUsage || stderr == "" {
			t.Errorf("%s: exit %d %q", arg, code, stderr)
		}
	}
	if code, _, _ := runCLI(t, "status", "decode", filepath.Join(t.TempDir(), "missing")); code != exitUsage {
		t.Errorf("missing file: exit %d", code)
	}
}
