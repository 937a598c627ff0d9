package main

import (
	"errors"
	"fmt"
	"os"
	"strconv"
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

// auditLinger is --audit-linger, or AGENTID_AUDIT_LINGER when the flag is
// not given.
func auditLinger(cmd *cobra.Command, flag time.Duration) (time.Duration, error) {
	d := flag
	if v, ok := os.LookupEnv("AGENTID_AUDIT_LINGER"); ok && v != "" && !cmd.Flags().Changed("audit-linger") {
		var err error
		if d, err = time.ParseDuration(v); err != nil {
			return 0, fmt.Errorf("AGENTID_AUDIT_LINGER=%q: %v", v, err)
		}
	}
	if d < 0 || d > maxAuditLinger {
		return 0, fmt.Errorf("--audit-linger %s: want 0 (no wait) to %s", d, maxAuditLinger)
	}
	return d, nil
}

// maxAuditLinger bounds --audit-linger: every verification may wait that
// long more for its audit event.
const maxAuditLinger = 100 * time.Millisecond

// verifiedCacheSize is --verified-cache, or AGENTID_VERIFIED_CACHE when the
// flag is not given.
func verifiedCacheSize(cmd *cobra.Command, flag int) (int, error) {
	n := flag
	if v, ok := os.LookupEnv("AGENTID_VERIFIED_CACHE"); ok && v != "" && !cmd.Flags().Changed("verified-cache") {
		var err error
		if n, err = strconv.Atoi(v); err != nil {
			return 0, fmt.Errorf("AGENTID_VERIFIED_CACHE=%q: not a whole number", v)
		}
	}
	if n < 0 {
		return 0, fmt.Errorf("--verified-cache %d: want 0 (off) or more", n)
	}
	return n, nil
}

// maxConcurrentVerifications is --max-concurrent-verifications, or
// AGENTID_MAX_CONCURRENT_VERIFICATIONS when the flag is not given: a
// number of requests, 0 for the default bound, -1 for none.
func maxConcurrentVerifications(cmd *cobra.Command, flag int) (int, error) {
	n := flag
	if v, ok := os.LookupEnv("AGENTID_MAX_CONCURRENT_VERIFICATIONS"); ok && v != "" && !cmd.Flags().Changed("max-concurrent-verifications") {
		var err error
		if n, err = strconv.Atoi(v); err != nil {
			return 0, fmt.Errorf("AGENTID_MAX_CONCURRENT_VERIFICATIONS=%q: not a whole number", v)
		}
	}
	if n < -1 {
		return 0, fmt.Errorf("--max-concurrent-verifications %d: want a positive number, 0 (4 per CPU) or -1 (no bound)", n)
	}
	return n, nil
}
