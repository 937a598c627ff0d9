// Command invoice-service is an example service that agents call, protected
// by agentid's middleware: GET /health is public; POST /invoices/{id}/pay
// requires an agent presentation with a delegation granting invoices:pay on
// the invoices resource to this service, and, with --require-hardware, an
// identity credential showing a TPM-bound key. See README.md for the round
// trip.
//
//	invoice-service --addr 127.0.0.1:8090 --domain http://127.0.0.1:8090 --agentid http://127.0.0.1:8080
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/agentid/agentid/verifier"
	"github.com/agentid/agentid/verifier/middleware"
)

// config is the service's flags.
type config struct {
	addr, domain, resource, agentidURL string
	inProcess, requireHardware         bool
	trustedIssuers                     string
}

func main() {
	var c config
	flag.StringVar(&c.addr, "addr", "127.0.0.1:8090", "listen address")
	flag.StringVar(&c.domain, "domain", "", "this service's domain, the presentations' domain and the delegations' audience (default http://ADDR)")
	flag.StringVar(&c.resource, "resource", "", "the resource the pay scope must cover (default DOMAIN/api/invoices)")
	flag.StringVar(&c.agentidURL, "agentid", "http://127.0.0.1:8080", "the agentid server that verifies presentations (remote mode)")
	flag.BoolVar(&c.inProcess, "in-process", false, "verify in this process (did:key and did:jwk issuers, no status lists) instead of calling --agentid")
	flag.BoolVar(&c.requireHardware, "require-hardware", false, "require hardware assurance (an identity credential of a TPM-bound agent)")
	flag.StringVar(&c.trustedIssuers, "trusted-issuer", "", "comma-separated issuer DIDs to accept (default: any issuer the verifier accepts)")
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if err := run(c, log); err != nil {
		log.Error("invoice-service", "error", err)
		os.Exit(1)
	}
}

func run(c config, log *slog.Logger) error {
	if c.domain == "" {
		c.domain = "http://" + c.addr
	}
	if c.resource == "" {
		c.resource = strings.TrimSuffix(c.domain, "/") + "/api/invoices"
	}
	protect, err := middleware.New(options(c, log)...)
	if err != nil {
		return err
	}
	srv := &http.Server{Addr: c.addr, Handler: newHandler(protect, log), ReadHeaderTimeout: 10 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()
	log.Info("invoice-service listening", "addr", c.addr, "domain", c.domain, "resource", c.resource)
	if err := srv.ListenAndServe(); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// options are the middleware options for c.
func options(c config, log *slog.Logger) []middleware.Option {
	opts := []middleware.Option{
		middleware.WithDomain(c.domain),
		middleware.RequireScope("invoices:pay", c.resource),
		middleware.WithLogger(log),
	}
	if c.inProcess {
		opts = append(opts, middleware.WithVerifier(verifier.New(verifier.WithLogger(log))),
			middleware.WithChallenges(verifier.NewMemoryChallenges()))
	} else {
		opts = append(opts, middleware.WithRemote(c.agentidURL, nil))
	}
	if c.requireHardware {
		opts = append(opts, middleware.RequireAssurance(middleware.AssuranceHardware))
	}
	if c.trustedIssuers != "" {
		opts = append(opts, middleware.RequireIssuer(strings.Split(c.trustedIssuers, ",")...))
	}
	return opts
}

// newHandler routes the service: /health in the open, pay behind protect.
func newHandler(protect func(http.Handler) http.Handler, log *slog.Logger) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.Handle("POST /invoices/{id}/pay", protect(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		pay(w, r, log)
	})))
	return mux
}

// payRequest is the body of a payment.
type payRequest struct {
	Amount   float64 `json:"amount"`
	Currency string  `json:"currency"`
}

// pay pays an invoice within the constraints of the delegation that
// granted invoices:pay: the middleware checked the scope, the handler
// checks what only it understands (maxAmount, currency).
func pay(w http.ResponseWriter, r *http.Request, log *slog.Logger) {
	agent, ok := middleware.AgentFrom(r.Context())
	if !ok || len(agent.Grants) == 0 {
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "route not protected"})
		return
	}
	var req payRequest
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096)).Decode(&req); err != nil || req.Amount <= 0 {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "body must be {\"amount\": positive number, \"currency\": ...}"})
		return
	}
	// Constraints fail closed: one that is present but unreadable refuses.
	grant := agent.Grants[0]
	if v, present := grant.Constraints["maxAmount"]; present {
		if limit, ok := number(v); !ok || req.Amount > limit {
			writeJSON(w, http.StatusForbidden, map[string]string{"error": fmt.Sprintf("the delegation allows at most %v", v)})
			return
		}
	}
	if v, present := grant.Constraints["currency"]; present {
		if cur, ok := v.(string); !ok || req.Currency != cur {
			writeJSON(w, http.StatusForbidden, map[string]string{"error": fmt.Sprintf("the delegation allows payments in %v only", v)})
			return
		}
	}
	id := r.PathValue("id")
	log.InfoContext(r.Context(), "invoice paid", "invoice", id, "agent", agent.DID, "principal", agent.Principal, "amount", req.Amount)
	writeJSON(w, http.StatusOK, map[string]any{"invoice": id, "paid": req.Amount, "currency": req.Currency,
		"agent": agent.DID, "onBehalfOf": agent.Principal})
}

// number reads a JSON number whichever way the claims were decoded.
func number(v any) (float64, bool) {
	switch n := v.(type) {
	case float64:
		return n, true
	case int:
		return float64(n), true
	case int64:
		return float64(n), true
	case json.Number:
		f, err := n.Float64()
		return f, err == nil
	}
	return 0, false
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
