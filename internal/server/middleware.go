package server

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/agentid/agentid/internal/problem"
)

const (
	requestIDHeader = "X-Request-Id"
	requestIDKey    = "agentid.requestID"
)

// requestID gives every request an id: the client's X-Request-Id when it is
// short and printable, a random one otherwise. It is echoed in the response
// and in problem documents, and logged.
func requestID() gin.HandlerFunc {
	return func(c *gin.Context) {
		id := c.GetHeader(requestIDHeader)
		if !validRequestID(id) {
			var b [12]byte
			_, _ = rand.Read(b[:])
			id = hex.EncodeToString(b[:])
		}
		c.Set(requestIDKey, id)
		c.Header(requestIDHeader, id)
		c.Next()
	}
}

func validRequestID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, r := range id {
		if r < 0x21 || r > 0x7e {
			return false
		}
	}
	return true
}

// observe logs each request and records its metrics, labelled by route
// pattern (never by raw path, which would let clients grow the label set).
func (s *Server) observe() gin.HandlerFunc {
	return func(c *gin.Context) {
		start := time.Now()
		s.metrics.inFlight.Inc()
		defer s.metrics.inFlight.Dec()
		c.Next()
		route := c.FullPath()
		matched := route != ""
		if !matched {
			route = "unmatched"
		}
		status := c.Writer.Status()
		elapsed := time.Since(start)
		s.metrics.observe(c.Request.Method, route, matched, status, elapsed.Seconds())
		ctx := c.Request.Context()
		level := slog.LevelInfo
		if status >= 500 && ctx.Err() == nil {
			// A 5xx for a client that went away (its request's context
			// ended) is the client's doing, not a failure of the server.
			level = slog.LevelError
		}
		if !s.log.Enabled(ctx, level) {
			return // the attributes below cost more than the check
		}
		s.log.LogAttrs(ctx, level, "request",
			slog.String("request_id", c.GetString(requestIDKey)),
			slog.String("method", c.Request.Method),
			slog.String("route", route),
			slog.Int("status", status),
			slog.Duration("elapsed", elapsed),
			slog.String("remote", c.ClientIP()),
		)
	}
}

// recoverPanics turns a panic in a handler into a logged, counted 500
// problem; the server keeps running.
func (s *Server) recoverPanics() gin.HandlerFunc {
	return func(c *gin.Context) {
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			if err, ok := v.(error); ok && errors.Is(err, http.ErrAbortHandler) {
				panic(v)
			}
			s.metrics.panics.Inc()
			s.log.Error("panic in handler", "request_id", c.GetString(requestIDKey),
				"route", c.FullPath(), "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
			if !c.Writer.Written() {
				s.writeProblem(c, problem.Internal(fmt.Errorf("panic: %v", v)))
			}
			c.Abort()
		}()
		c.Next()
	}
}

// limitBody bounds every request body; reading past the limit fails, and
// bindJSON turns that into 413.
func (s *Server) limitBody() gin.HandlerFunc {
	return func(c *gin.Context) {
		if c.Request.ContentLength > s.maxBody {
			s.writeProblem(c, problem.TooLarge(s.maxBody))
			c.Abort()
			return
		}
		c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, s.maxBody)
		c.Next()
	}
}

// securityHeaders sets headers every JSON API response should carry.
func securityHeaders() gin.HandlerFunc {
	return func(c *gin.Context) {
		h := c.Writer.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		c.Next()
	}
}

// writeProblem answers with p, logging its cause for 5xx problems: as an
// error, or at info level when the client went away first (the request's
// context ended, which is what most often makes a database call fail then).
func (s *Server) writeProblem(c *gin.Context, p *problem.Problem) {
	out := *p
	out.RequestID = c.GetString(requestIDKey)
	if out.Instance == "" {
		out.Instance = c.Request.URL.Path
	}
	if out.Status >= 500 {
		if c.Request.Context().Err() != nil {
			s.log.Info("client went away before the answer", "request_id", out.RequestID, "route", c.FullPath(), "error", p.Unwrap())
		} else {
			s.log.Error("request failed", "request_id", out.RequestID, "route", c.FullPath(), "error", p.Unwrap())
		}
	}
	problem.Write(c.Writer, &out)
	c.Abort()
}

// fail answers with the problem err carries, or a 500.
func (s *Server) fail(c *gin.Context, err error) {
	s.writeProblem(c, problem.From(err))
}

// bindJSON decodes the request body into v, strictly (unknown fields are
// allowed; trailing data is not), and answers with a 400 or 413 problem when
// it cannot. It returns false when it has answered.
func (s *Server) bindJSON(c *gin.Context, v any) bool {
	if err := decodeJSON(c.Request.Body, v); err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			s.writeProblem(c, problem.TooLarge(tooLarge.Limit))
			return false
		}
		s.fail(c, err)
		return false
	}
	return true
}
