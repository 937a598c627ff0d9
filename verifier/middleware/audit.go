package middleware

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"

	"github.com/agentid/agentid/verifier"
)

// Auditor records one verification as an audit event. *verifier.AuditLog
// is one: events go into its hash chain in the database.
type Auditor interface {
	Record(ctx context.Context, ev verifier.Event) (*verifier.AuditRecord, error)
}

// WithAudit records every in-process verification the middleware makes as
// an audit event in organizationID's chain ("" for the operator chain):
// the agent, its principal, the credentials presented, the route's first
// RequireScope as action and resource, the service's domain as relying
// party, the decision (verified only when the request is let through) and
// the failed checks. The request's X-Request-Id, when it has one, is the
// event's request id. An event that cannot be recorded fails the request
// with 503: nothing is let through unrecorded.
//
// Remote verification (WithRemote) is recorded by the agentid server, so
// WithAudit with WithRemote is a configuration error.
func WithAudit(a Auditor, organizationID string) Option {
	return func(c *config) {
		if a == nil {
			c.errs = append(c.errs, fmt.Errorf("%w: WithAudit needs an auditor", ErrPolicy))
			return
		}
		c.auditor, c.auditOrg = a, organizationID
	}
}

// errAuditWithRemote is WithAudit given with WithRemote.
var errAuditWithRemote = errors.New("WithAudit is for in-process verification; the agentid server records remote verifications")

// record writes the audit event of one verification. It answers 503 and
// returns false when the event could not be recorded.
func (m *Middleware) record(w http.ResponseWriter, r *http.Request, res *verifier.Result, probs []verifier.Problem) bool {
	if m.cfg.auditor == nil {
		return true
	}
	ev := verifier.Event{
		OrganizationID: m.cfg.auditOrg,
		RelyingParty:   m.cfg.domain,
		Decision:       verifier.DecisionVerified,
		RequestID:      r.Header.Get("X-Request-Id"),
	}
	if a := res.Agent; a != nil {
		ev.Agent, ev.Principal, ev.CredentialIDs = a.ID, a.Principal, a.Credentials
	}
	if len(m.cfg.scopes) > 0 {
		ev.Action, ev.Resource = m.cfg.scopes[0].action, m.cfg.scopes[0].resource
	}
	if len(probs) > 0 {
		ev.Decision = verifier.DecisionRejected
		for _, p := range probs {
			if !slices.Contains(ev.Reasons, string(p.Check)) {
				ev.Reasons = append(ev.Reasons, string(p.Check))
			}
		}
	}
	if _, err := m.cfg.auditor.Record(r.Context(), ev); err != nil {
		m.log(r.Context(), "audit event not recorded", "error", err)
		writeProblem(w, &problemBody{Type: typeBase + "unavailable", Title: "Service unavailable", Status: http.StatusServiceUnavailable,
			Detail: "the verification could not be recorded in the audit trail; nothing was let through"})
		return false
	}
	return true
}
