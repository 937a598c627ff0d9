package main

import (
	"errors"
	"testing"
	"time"

	"github.com/spf13/cobra"
)

func TestStatusStaleness(t *testing.T) {
	newCmd := func(args ...string) *cobra.Command {
		cmd := &cobra.Command{}
		cmd.Flags().Duration("status-staleness", time.Minute, "")
		if err := cmd.Flags().Parse(args); err != nil {
			t.Fatal(err)
		}
		return cmd
	}
	t.Setenv("AGENTID_STATUS_STALENESS", "0s")
	if d, err := statusStaleness(newCmd(), time.Minute); err != nil || d != 0 {
		t.Fatalf("env 0s: %v %v", d, err)
	}
	if d, err := statusStaleness(newCmd("--status-staleness=5s"), 5*time.Second); err != nil || d != 5*time.Second {
		t.Fatalf("flag wins over env: %v %v", d, err)
	}
	t.Setenv("AGENTID_STATUS_STALENESS", "soon")
	if _, err := statusStaleness(newCmd(), time.Minute); !errors.Is(err, errBadStaleness) {
		t.Fatalf("bad env: %v", err)
	}
	t.Setenv("AGENTID_STATUS_STALENESS", "")
	if _, err := statusStaleness(newCmd(), -time.Second); !errors.Is(err, errBadStaleness) {
		t.Fatalf("negative: %v", err)
	}
}

func TestVerifyTuningFlags(t *testing.T) {
	newCmd := func(args ...string) *cobra.Command {
		cmd := &cobra.Command{}
		cmd.Flags().Int("max-concurrent-verifications", 0, "")
		cmd.Flags().Int("verified-cache", 1024, "")
		if err := cmd.Flags().Parse(args); err != nil {
			t.Fatal(err)
		}
		return cmd
	}
	t.Setenv("AGENTID_MAX_CONCURRENT_VERIFICATIONS", "6")
	t.Setenv("AGENTID_VERIFIED_CACHE", "0")
	if n, err := maxConcurrentVerifications(newCmd(), 0); err != nil || n != 6 {
		t.Fatalf("env 6: %d %v", n, err)
	}
	if n, err := verifiedCacheSize(newCmd(), 1024); err != nil || n != 0 {
		t.Fatalf("env 0: %d %v", n, err)
	}
	if n, err := maxConcurrentVerifications(newCmd("--max-concurrent-verifications=-1"), -1); err != nil || n != -1 {
		t.Fatalf("flag wins over env: %d %v", n, err)
	}
	if n, err := verifiedCacheSize(newCmd("--verified-cache=7"), 7); err != nil || n != 7 {
		t.Fatalf("flag wins over env: %d %v", n, err)
	}
	t.Setenv("AGENTID_MAX_CONCURRENT_VERIFICATIONS", "many")
	t.Setenv("AGENTID_VERIFIED_CACHE", "big")
	if _, err := maxConcurrentVerifications(newCmd(), 0); err == nil {
		t.Fatal("AGENTID_MAX_CONCURRENT_VERIFICATIONS=many accepted")
	}
	if _, err := verifiedCacheSize(newCmd(), 1024); err == nil {
		t.Fatal("AGENTID_VERIFIED_CACHE=big accepted")
	}
	t.Setenv("AGENTID_MAX_CONCURRENT_VERIFICATIONS", "")
	t.Setenv("AGENTID_VERIFIED_CACHE", "")
	if _, err := maxConcurrentVerifications(newCmd(), -2); err == nil {
		t.Fatal("-2 accepted")
	}
	if _, err := verifiedCacheSize(newCmd(), -1); err == nil {
		t.Fatal("a negative cache size accepted")
	}
}

func TestAuditLingerFlag(t *testing.T) {
	newCmd := func(args ...string) *cobra.Command {
		cmd := &cobra.Command{}
		cmd.Flags().Duration("audit-linger", 0, "")
		if err := cmd.Flags().Parse(args); err != nil {
			t.Fatal(err)
		}
		return cmd
	}
	t.Setenv("AGENTID_AUDIT_LINGER", "")
	if d, err := auditLinger(newCmd(), 0); err != nil || d != 0 {
		t.Fatalf("neither flag nor env: %v %v", d, err)
	}
	t.Setenv("AGENTID_AUDIT_LINGER", "2ms")
	if d, err := auditLinger(newCmd(), 0); err != nil || d != 2*time.Millisecond {
		t.Fatalf("env 2ms: %v %v", d, err)
	}
	if d, err := auditLinger(newCmd("--audit-linger=500us"), 500*time.Microsecond); err != nil || d != 500*time.Microsecond {
		t.Fatalf("flag wins over env: %v %v", d, err)
	}
	t.Setenv("AGENTID_AUDIT_LINGER", "soon")
	if _, err := auditLinger(newCmd(), 0); err == nil {
		t.Fatal("env soon: no error")
	}
	t.Setenv("AGENTID_AUDIT_LINGER", "")
	for _, bad := range []time.Duration{-time.Millisecond, time.Second} {
		if _, err := auditLinger(newCmd(), bad); err == nil {
			t.Fatalf("%v: no error", bad)
		}
	}
}
