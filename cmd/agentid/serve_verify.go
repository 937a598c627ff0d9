package main

import (
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"
)

// errBadStaleness is a negative or unparsable status staleness.
var errBadStaleness = errors.New("invalid status staleness")

// statusStaleness is --status-staleness, or AGENTID_STATUS_STALENESS when
// the flag was not given (a Go duration such as 60s or 0).
func statusStaleness(cmd *cobra.Command, flag time.Duration) (time.Duration, error) {
	d := flag
	if v, ok := os.LookupEnv("AGENTID_STATUS_STALENESS"); ok && v != "" && !cmd.Flags().Changed("status-staleness") {
		var err error
		if d, err = time.ParseDuration(v); err != nil {
			return 0, fmt.Errorf("%w: AGENTID_STATUS_STALENESS=%q: %v", errBadStaleness, v, err)
		}
	}
	if d < 0 {
		return 0, fmt.Errorf("%w: %s is negative", errBadStaleness, d)
	}
	return d, nil
}
