package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/agentid/agentid/internal/store"
	"github.com/agentid/agentid/verifier"
)

// errChainBroken is a verification that found a broken audit chain: exit 1.
var errChainBroken = errors.New("the audit chain is broken")

// auditDBFlags choose the database, as for serve.
type auditDBFlags struct {
	data     string
	database string
}

func (f *auditDBFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.data, "data", envOr("AGENTID_DATA", "./agentid-data"), "data directory holding agentid.db (env AGENTID_DATA)")
	fl.StringVar(&f.database, "database", envOr("AGENTID_DATABASE", ""), "database URL: postgres://… or sqlite:PATH; default SQLite at DATA/agentid.db (env AGENTID_DATABASE)")
}

// open opens the database the flags name. A SQLite file that does not exist
// is bad input: reading an audit trail must not create an empty database.
func (f *auditDBFlags) open(cmd *cobra.Command) (*store.Store, error) {
	dbURL := f.database
	if dbURL == "" {
		path := filepath.Join(f.data, "agentid.db")
		if _, err := os.Stat(path); err != nil {
			return nil, usagef("no database at %s (give --data DIR or --database URL)", path)
		}
		dbURL = "sqlite:" + path
	} else if rest, ok := strings.CutPrefix(dbURL, "sqlite:"); ok {
		if _, err := os.Stat(strings.TrimPrefix(rest, "//")); err != nil {
			return nil, usagef("no database at %s", rest)
		}
	}
	st, err := store.Open(cmd.Context(), dbURL)
	if err != nil {
		return nil, usageError{err}
	}
	return st, nil
}

func newAuditCmd(g *globalFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "Export and check the verifier's audit trail",
		Long: `Every verification is an audit event in a hash chain, one chain per
organization plus the operator chain of events of no organization. Each event
carries the SHA-256 of the one before it, so a changed, deleted or inserted
event breaks the chain.`,
	}
	cmd.AddCommand(newAuditExportCmd(), newAuditVerifyCmd(g))
	return cmd
}

type auditExportFlags struct {
	db        auditDBFlags
	org       string
	agent     string
	principal string
	decision  string
	from      string
	to        string
	after     int64
	limit     int
}

func newAuditExportCmd() *cobra.Command {
	f := &auditExportFlags{}
	cmd := &cobra.Command{
		Use:   "export [--database URL | --data DIR] [--org SLUG|ID|operator] [filters]",
		Short: "Write audit events as JSON lines on stdout",
		Long: `Write audit events, one JSON object a line, on stdout: every chain, chain by
chain, or the one --org names ("operator" for the events of no organization).
An export without filters (other than --org) is whole chains, which
'agentid audit verify FILE' checks.`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error { return auditExport(cmd, f) },
	}
	f.db.register(cmd)
	fl := cmd.Flags()
	fl.StringVar(&f.org, "org", "", `only this organization's chain (slug or id), or "operator"`)
	fl.StringVar(&f.agent, "agent", "", "only events of this agent DID")
	fl.StringVar(&f.principal, "principal", "", "only events of this principal DID")
	fl.StringVar(&f.decision, "decision", "", "only verified or rejected events")
	fl.StringVar(&f.from, "from", "", "only events at or after this RFC 3339 time")
	fl.StringVar(&f.to, "to", "", "only events before this RFC 3339 time")
	fl.Int64Var(&f.after, "after", 0, "only events after this sequence number")
	fl.IntVar(&f.limit, "limit", 0, "at most this many events per chain (0: all)")
	return cmd
}

func auditExport(cmd *cobra.Command, f *auditExportFlags) error {
	filter := store.AuditFilter{Agent: f.agent, Principal: f.principal, AfterSeq: f.after, Limit: f.limit}
	switch f.decision {
	case "", verifier.DecisionVerified, verifier.DecisionRejected:
		filter.Decision = f.decision
	default:
		return usagef("--decision %q: want %s or %s", f.decision, verifier.DecisionVerified, verifier.DecisionRejected)
	}
	for _, p := range []struct {
		name, value string
		dst         *time.Time
	}{{"--from", f.from, &filter.From}, {"--to", f.to, &filter.To}} {
		if p.value == "" {
			continue
		}
		t, err := time.Parse(time.RFC3339Nano, p.value)
		if err != nil {
			return usagef("%s %q: want an RFC 3339 time, e.g. 2026-11-29T10:00:00Z", p.name, p.value)
		}
		*p.dst = t
	}
	if f.after < 0 || f.limit < 0 {
		return usagef("--after and --limit must not be negative")
	}

	st, err := f.db.open(cmd)
	if err != nil {
		return err
	}
	defer st.Close()
	ctx := cmd.Context()
	log, err := verifier.NewAuditLog(st)
	if err != nil {
		return err
	}

	var chains []string
	switch f.org {
	case "":
		heads, err := st.AuditHeads(ctx)
		if err != nil {
			return err
		}
		for _, h := range heads {
			chains = append(chains, h.OrganizationID)
		}
	case "operator":
		chains = []string{""}
	default:
		org, err := st.OrganizationBySlug(ctx, f.org)
		if errors.Is(err, store.ErrNotFound) {
			org, err = st.OrganizationByID(ctx, f.org)
		}
		if errors.Is(err, store.ErrNotFound) {
			return usagef("--org %q: no such organization", f.org)
		}
		if err != nil {
			return err
		}
		chains = []string{org.ID}
	}

	out := cmd.OutOrStdout()
	for _, chain := range chains {
		filter.OrganizationID = chain
		err := log.Each(ctx, filter, func(ev *verifier.AuditRecord) error {
			line, err := json.Marshal(ev)
			if err != nil {
				return err
			}
			_, err = out.Write(append(line, '\n'))
			return err
		})
		if err != nil {
			return fmt.Errorf("export chain %q: %w", chain, err)
		}
	}
	return nil
}

type auditVerifyFlags struct {
	db auditDBFlags
}

func newAuditVerifyCmd(g *globalFlags) *cobra.Command {
	f := &auditVerifyFlags{}
	cmd := &cobra.Command{
		Use:   "verify [--database URL | --data DIR | FILE.jsonl | -]",
		Short: "Check the audit hash chains and name the first broken event",
		Long: `Check the audit trail's hash chains, in the database (--data or --database, as
for serve) or in a JSON-lines export (FILE, or - for stdin). Prints, for each
chain, OK with its number of events and its head (sequence and hash: note it
down; a later check that ends before it shows a truncated log), or the first
broken event and why. Exit 0 when every chain is intact, 1 when one is broken,
2 on bad input.`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 1 {
				return usagef("at most one FILE")
			}
			if len(args) == 1 && (cmd.Flags().Changed("data") || cmd.Flags().Changed("database")) {
				return usagef("give a FILE or --data/--database, not both")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error { return auditVerify(cmd, g, f, args) },
	}
	f.db.register(cmd)
	return cmd
}

func auditVerify(cmd *cobra.Command, g *globalFlags, f *auditVerifyFlags, args []string) error {
	var (
		reports []*verifier.ChainReport
		names   = map[string]string{"": "operator"}
	)
	if len(args) == 1 {
		var r io.Reader = cmd.InOrStdin()
		if args[0] != "-" {
			file, err := os.Open(args[0])
			if err != nil {
				return usageError{err}
			}
			defer file.Close()
			r = file
		}
		var err error
		reports, err = verifier.VerifyAuditExport(r)
		if err != nil {
			return usageError{err}
		}
	} else {
		st, err := f.db.open(cmd)
		if err != nil {
			return err
		}
		defer st.Close()
		ctx := cmd.Context()
		log, err := verifier.NewAuditLog(st)
		if err != nil {
			return err
		}
		if reports, err = log.VerifyAll(ctx); err != nil {
			return err
		}
		orgs, err := st.ListOrganizations(ctx)
		if err != nil {
			return err
		}
		for _, o := range orgs {
			names[o.ID] = o.Slug + " (" + o.ID + ")"
		}
	}

	broken := false
	for _, r := range reports {
		broken = broken || !r.OK
	}
	out := cmd.OutOrStdout()
	if g.json {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		if err := enc.Encode(map[string]any{"ok": !broken, "chains": reports}); err != nil {
			return err
		}
	} else {
		if len(reports) == 0 {
			fmt.Fprintln(out, "OK: no audit events")
		}
		for _, r := range reports {
			name := names[r.OrganizationID]
			if name == "" {
				name = r.OrganizationID
			}
			if r.OK {
				fmt.Fprintf(out, "OK chain %s: %d events, head %d %s\n", name, r.Events, r.HeadSeq, r.HeadHash)
				continue
			}
			b := r.Broken
			fmt.Fprintf(out, "BROKEN chain %s: event %d", name, b.Seq)
			if b.ID != "" {
				fmt.Fprintf(out, " (id %s)", b.ID)
			}
			fmt.Fprintf(out, ": %s: %s; last intact event %d %s\n", b.Kind, b.Reason, r.HeadSeq, r.HeadHash)
		}
	}
	if broken {
		return errChainBroken
	}
	return nil
}
