// Command agentid is agentid's one binary: the server (issuer, verifier,
// DID resolver, portal), and the command-line tools for keys, DIDs,
// credentials, wallets and operations. This package holds flags, config and
// wiring only; the work is done by the packages it calls.
//
// Exit codes: 0 success, 1 failure (for example a DID that does not
// resolve), 2 bad input or usage.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
)

// Exit codes.
const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2
)

// usageError marks bad input or usage: exit code 2.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run executes the command line args and returns the exit code.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	root := newRootCmd()
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	fmt.Fprintln(stderr, "agentid:", err)
	var ue usageError
	if errors.As(err, &ue) || strings.HasPrefix(err.Error(), "unknown command ") {
		return exitUsage
	}
	return exitFailure
}

// globalFlags are the flags every command has.
type globalFlags struct {
	logFormat string
	logLevel  string
	json      bool
}

func newRootCmd() *cobra.Command {
	g := &globalFlags{}
	root := &cobra.Command{
		Use:   "agentid",
		Short: "Identities of their own for AI agents: issuer, verifier, wallet",
		Long: `agentid gives each AI agent an identity of its own: a did:key whose private key
lives in hardware, W3C Verifiable Credentials that say who the agent is and what
a human approved it to do, and a verifier that services call to check it.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			l, err := newLogger(cmd.ErrOrStderr(), g.logFormat, g.logLevel)
			if err != nil {
				return err
			}
			slog.SetDefault(l)
			return nil
		},
	}
	root.PersistentFlags().StringVar(&g.logFormat, "log-format", envOr("AGENTID_LOG_FORMAT", "text"), "log format: text or json (env AGENTID_LOG_FORMAT)")
	root.PersistentFlags().StringVar(&g.logLevel, "log-level", envOr("AGENTID_LOG_LEVEL", "info"), "log level: debug, info, warn or error (env AGENTID_LOG_LEVEL)")
	root.PersistentFlags().BoolVar(&g.json, "json", false, "print results as JSON")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })

	root.AddCommand(newServeCmd(), newKeyCmd(g), newDIDCmd(g), newStatusCmd(g), newVCCmd(), newTPMCmd(g), newAuditCmd(g), newAdminCmd(g), newVersionCmd(g))
	return root
}

// newLogger builds the slog logger the flags ask for.
func newLogger(w io.Writer, format, level string) (*slog.Logger, error) {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(level)); err != nil {
		return nil, usagef("--log-level %q: want debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lvl}
	switch strings.ToLower(format) {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, usagef("--log-format %q: want text or json", format)
}

// envOr returns the environment variable's value, or def when it is unset.
func envOr(name, def string) string {
	if v, ok := os.LookupEnv(name); ok && v != "" {
		return v
	}
	return def
}

// exactArgs is cobra.ExactArgs with a usage error.
func exactArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := cobra.ExactArgs(n)(cmd, args); err != nil {
			return usageError{err}
		}
		return nil
	}
}
