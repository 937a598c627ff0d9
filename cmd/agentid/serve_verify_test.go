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
