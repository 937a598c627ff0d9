package store_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/agentid/agentid/internal/store"
)

// Commits only append to the write-ahead log (no checkpoint inside a
// COMMIT); the background checkpointer copies the log into the database
// file while the store is open, and Close leaves an empty log.
func TestSQLiteCheckpointsInTheBackground(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "agentid.db")
	st, err := store.Open(ctx, "sqlite:"+path)
	if err != nil {
		t.Fatal(err)
	}
	closed := false
	defer func() {
		if !closed {
			st.Close()
		}
	}()
	size := func(p string) int64 {
		fi, err := os.Stat(p)
		if err != nil {
			return 0
		}
		return fi.Size()
	}
	// Let the migrations' pages reach the file first.
	time.Sleep(600 * time.Millisecond)
	before := size(path)
	for i := range 300 {
		org := &store.Organization{Slug: fmt.Sprintf("org-%03d", i), Name: strings.Repeat("n", 500)}
		if err := st.CreateOrganization(ctx, org); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for size(path) <= before {
		if time.Now().After(deadline) {
			t.Fatalf("database file still %d bytes after 300 commits: the log was not checkpointed", size(path))
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	closed = true
	if n := size(path + "-wal"); n != 0 {
		t.Fatalf("write-ahead log is %d bytes after Close, want empty", n)
	}
	// Everything is in the database file.
	st, err = store.Open(ctx, "sqlite:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	org, err := st.OrganizationBySlug(ctx, "org-299")
	if err != nil || org.Name == "" {
		t.Fatalf("last organization after reopening: %v, %v", org, err)
	}
}
