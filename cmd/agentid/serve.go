package main

import (
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/agentid/agentid/internal/netguard"
	"github.com/agentid/agentid/internal/server"
	"github.com/agentid/agentid/internal/store"
	"github.com/agentid/agentid/issuer"
	"github.com/agentid/agentid/keys"
	"github.com/agentid/agentid/keys/attest"
	"github.com/agentid/agentid/keys/software"
	"github.com/agentid/agentid/verifier"
)

type serveFlags struct {
	addr            string
	data            string
	database        string
	publicURL       string
	roles           string
	kekFile         string
	fetchAllow      string
	maxBodyBytes    int64
	shutdownTimeout time.Duration
	statusStaleness time.Duration
	auditLinger     time.Duration
	statusMaxAge    time.Duration
	tpmRoots        string
	relyingParties  string
	debugAddr       string
	maxVerify       int
	verifiedCache   int
}

func newServeCmd() *cobra.Command {
	f := &serveFlags{}
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the server: issuer, verifier, DID resolver and portal in one process",
		Long: `Run the agentid server. On first start it creates the default organization with
an Ed25519 and a P-256 did:key issuer identity and an admin token: the token is
AGENTID_ADMIN_TOKEN when set, otherwise a new one written once to DATA/admin-token.

Private keys are stored encrypted under a key-encryption key: AGENTID_KEK
(base64 of 32 bytes) when set, otherwise the file --kek-file (created, 0600, on
first start). SIGINT or SIGTERM stop the server after in-flight requests finish.`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error { return serve(cmd, f) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.addr, "addr", envOr("AGENTID_ADDR", "127.0.0.1:8080"), "address to listen on (env AGENTID_ADDR)")
	fl.StringVar(&f.data, "data", envOr("AGENTID_DATA", "./agentid-data"), "data directory (env AGENTID_DATA)")
	fl.StringVar(&f.database, "database", envOr("AGENTID_DATABASE", ""), "database URL: postgres://… or sqlite:PATH; default SQLite at DATA/agentid.db (env AGENTID_DATABASE)")
	fl.StringVar(&f.publicURL, "public-url", envOr("AGENTID_PUBLIC_URL", ""), "URL clients reach the server at; default http://ADDR (env AGENTID_PUBLIC_URL)")
	fl.StringVar(&f.roles, "roles", envOr("AGENTID_ROLES", "issuer,verifier,portal"), "roles to serve, comma-separated (env AGENTID_ROLES)")
	fl.StringVar(&f.kekFile, "kek-file", envOr("AGENTID_KEK_FILE", ""), "key-encryption key file when AGENTID_KEK is unset; default DATA/kek (env AGENTID_KEK_FILE)")
	fl.StringVar(&f.relyingParties, "relying-parties", envOr("AGENTID_RELYING_PARTIES", ""), "JSON file of relying parties and their verification policies: trusted issuers per credential type, minAssurance, requireDelegation (env AGENTID_RELYING_PARTIES)")
	fl.StringVar(&f.fetchAllow, "fetch-allow", envOr("AGENTID_FETCH_ALLOW", ""), "CIDR ranges outbound fetches (did:web) may reach besides public addresses, comma-separated (env AGENTID_FETCH_ALLOW)")
	fl.Int64Var(&f.maxBodyBytes, "max-body-bytes", server.DefaultMaxBodyBytes, "largest request body accepted")
	fl.DurationVar(&f.shutdownTimeout, "shutdown-timeout", 30*time.Second, "how long to wait for in-flight requests on shutdown")
	fl.DurationVar(&f.statusStaleness, "status-staleness", server.DefaultStatusStaleness, "how old a fetched status list may be when verifying; 0 revalidates on every verification (env AGENTID_STATUS_STALENESS)")
	fl.DurationVar(&f.statusMaxAge, "status-max-age", issuer.DefaultStatusListMaxAge, "how long clients may cache a status list (Cache-Control max-age, and the list's ttl)")
	fl.StringVar(&f.tpmRoots, "tpm-roots", envOr("AGENTID_TPM_ROOTS", ""), "directory of trusted TPM manufacturer certificates (PEM or DER) for agent enrollment; without it only allowlisted EKs are trusted (env AGENTID_TPM_ROOTS)")
	fl.DurationVar(&f.auditLinger, "audit-linger", 0, "how long a small group of audit events waits for the events of verifications still in progress before it is committed, trading latency for fewer commits; 0 never waits (env AGENTID_AUDIT_LINGER)")
	fl.IntVar(&f.maxVerify, "max-concurrent-verifications", 0, "how many verification and challenge requests are worked on at once, the others wait; 0 means 4 per CPU, -1 no bound (env AGENTID_MAX_CONCURRENT_VERIFICATIONS)")
	fl.IntVar(&f.verifiedCache, "verified-cache", verifier.DefaultVerifiedCacheSize, "how many credentials the verifier remembers as having passed the checks that depend on their content alone (proof by a did:key or did:jwk key, context, schema); validity, status, trust and holder binding are checked every time; 0 turns it off (env AGENTID_VERIFIED_CACHE)")
	fl.StringVar(&f.debugAddr, "debug-addr", envOr("AGENTID_DEBUG_ADDR", ""), "address for Go's profiling endpoints (/debug/pprof/), off when empty; bind it to loopback (env AGENTID_DEBUG_ADDR)")
	return cmd
}

func serve(cmd *cobra.Command, f *serveFlags) error {
	ctx := cmd.Context()
	log := slog.Default()

	var roles []server.Role
	for _, r := range strings.Split(f.roles, ",") {
		if r = strings.TrimSpace(r); r != "" {
			roles = append(roles, server.Role(r))
		}
	}
	fetchAllow, err := netguard.ParseAllow(f.fetchAllow)
	if err != nil {
		return usageError{err}
	}
	var relyingParties []server.RelyingParty
	if f.relyingParties != "" {
		if relyingParties, err = server.LoadRelyingParties(f.relyingParties); err != nil {
			return usageError{err}
		}
	}
	if f.maxBodyBytes <= 0 {
		return usagef("--max-body-bytes must be positive")
	}
	if f.statusStaleness, err = statusStaleness(cmd, f.statusStaleness); err != nil {
		return usageError{err}
	}
	if f.auditLinger, err = auditLinger(cmd, f.auditLinger); err != nil {
		return usageError{err}
	}
	if f.maxVerify, err = maxConcurrentVerifications(cmd, f.maxVerify); err != nil {
		return usageError{err}
	}
	if f.verifiedCache, err = verifiedCacheSize(cmd, f.verifiedCache); err != nil {
		return usageError{err}
	}
	if err := os.MkdirAll(f.data, 0o700); err != nil {
		return fmt.Errorf("data directory: %w", err)
	}
	dbURL := f.database
	if dbURL == "" {
		dbURL = "sqlite:" + filepath.Join(f.data, "agentid.db")
	}
	st, err := store.Open(ctx, dbURL, store.WithLogger(log))
	if err != nil {
		return err
	}
	defer st.Close()

	kekFile := f.kekFile
	if kekFile == "" {
		kekFile = filepath.Join(f.data, "kek")
	}
	kek, generated, err := keys.LoadKEK(os.Getenv("AGENTID_KEK"), kekFile)
	if err != nil {
		return fmt.Errorf("key-encryption key: %w", err)
	}
	if generated {
		log.Warn("generated a new key-encryption key; keep it safe, or set AGENTID_KEK", "file", kekFile)
	}
	softKeys, err := software.NewBackend(kek, st)
	if err != nil {
		return err
	}
	km, err := keys.NewManager(keys.WithBackend(software.Scheme, softKeys), keys.WithLogger(log))
	if err != nil {
		return err
	}

	boot, err := issuer.Bootstrap(ctx, st, km, issuer.BootstrapOptions{
		AdminToken: os.Getenv("AGENTID_ADMIN_TOKEN"),
		TokenFile:  filepath.Join(f.data, "admin-token"),
	})
	if err != nil {
		return err
	}
	if boot.Created {
		for _, id := range boot.Identities {
			log.Info("created issuer identity", "org", boot.Organization.Slug, "did", id.DID, "cryptosuite", id.Cryptosuite)
		}
		if boot.TokenFile != "" {
			log.Info("wrote the default organization's admin token; it is not shown again", "file", boot.TokenFile)
			fmt.Fprintf(cmd.ErrOrStderr(), "admin token written to %s\n", boot.TokenFile)
		}
	}

	ln, err := net.Listen("tcp", f.addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	publicURL := f.publicURL
	if publicURL == "" {
		publicURL = "http://" + ln.Addr().String()
	}
	issOpts := []issuer.Option{issuer.WithStore(st), issuer.WithKeyManager(km), issuer.WithPublicURL(publicURL),
		issuer.WithLogger(log), issuer.WithStatusListMaxAge(f.statusMaxAge)}
	if f.tpmRoots != "" {
		roots, err := attest.LoadRoots(f.tpmRoots)
		if err != nil {
			ln.Close()
			return usageError{fmt.Errorf("--tpm-roots: %w", err)}
		}
		issOpts = append(issOpts, issuer.WithTPMRoots(roots))
	}
	iss, err := issuer.New(issOpts...)
	if err != nil {
		ln.Close()
		return usageError{err}
	}
	// With an https public URL every organization gets its did:web
	// identities, also on a database that ran without one before.
	if _, err := iss.EnsureWebIdentities(ctx); err != nil {
		ln.Close()
		return err
	}
	srv, err := server.New(
		server.WithStore(st),
		server.WithIssuer(iss),
		server.WithLogger(log),
		server.WithRoles(roles...),
		server.WithPublicURL(publicURL),
		server.WithFetchAllow(fetchAllow...),
		server.WithMaxBodyBytes(f.maxBodyBytes),
		server.WithShutdownTimeout(f.shutdownTimeout),
		server.WithStatusStaleness(f.statusStaleness),
		server.WithRelyingParties(relyingParties...),
		server.WithMaxConcurrentVerifications(f.maxVerify),
		server.WithVerifiedCache(f.verifiedCache),
		server.WithAuditLinger(f.auditLinger),
	)
	if err != nil {
		ln.Close()
		return usageError{err}
	}
	if f.debugAddr != "" {
		stop, err := serveDebug(f.debugAddr, log)
		if err != nil {
			ln.Close()
			return err
		}
		defer stop()
	}
	return srv.Serve(ctx, ln)
}
