// Package ginagent adapts the AgentID middleware (package
// verifier/middleware) to gin routes. It is the one package besides
// internal/server and web that imports gin, kept apart so that a net/http
// service using the middleware does not pull gin in.
//
//	guard, err := ginagent.New(middleware.WithDomain("https://erp.example.com"),
//		middleware.WithRemote("https://agentid.example.com", nil),
//		middleware.RequireScope("invoices:pay", "https://erp.example.com/api/invoices"))
//	r.POST("/invoices/:id/pay", guard, func(c *gin.Context) {
//		agent, _ := ginagent.AgentFrom(c)
//		...
//	})
//
// The protocol, the answers (401 with a challenge, 403, 503) and the policy
// options are the middleware's.
package ginagent

import (
	"github.com/gin-gonic/gin"

	"github.com/agentid/agentid/verifier/middleware"
)

// contextKey is where the agent is kept in the gin context.
const contextKey = "agentid.agent"

// New returns a gin handler that runs the AgentID middleware built from
// opts: on success it puts the agent in the gin context and in the
// request's context (middleware.AgentFrom works too) and calls the next
// handler; otherwise it has answered and aborts the chain. Its errors are
// middleware.New's.
func New(opts ...middleware.Option) (gin.HandlerFunc, error) {
	m, err := middleware.Build(opts...)
	if err != nil {
		return nil, err
	}
	return func(c *gin.Context) {
		agent, ok := m.Authenticate(c.Writer, c.Request)
		if !ok {
			c.Abort()
			return
		}
		c.Set(contextKey, agent)
		c.Request = c.Request.WithContext(middleware.NewContext(c.Request.Context(), agent))
		c.Next()
	}, nil
}

// AgentFrom returns the agent the middleware verified for this request.
func AgentFrom(c *gin.Context) (*middleware.Agent, bool) {
	v, ok := c.Get(contextKey)
	if !ok {
		return nil, false
	}
	a, ok := v.(*middleware.Agent)
	return a, ok && a != nil
}
