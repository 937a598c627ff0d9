package server

import (
	"runtime"
	"sync"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/agentid/agentid/internal/problem"
)

// DefaultVerifyConcurrencyPerCPU is how many verification requests per CPU
// (GOMAXPROCS) are worked on at once unless WithMaxConcurrentVerifications
// says otherwise. Verification is CPU-bound but waits on the database (the
// audit commit, status lists) and now and then on the network (a remote
// status list, did:web), so a few per CPU keep the CPUs busy.
const DefaultVerifyConcurrencyPerCPU = 4

// WithMaxConcurrentVerifications bounds how many challenge and verification
// requests are worked on at once; the others wait, in arrival order as the
// Go scheduler allows, before their body is read. 0 (the default) means
// DefaultVerifyConcurrencyPerCPU × GOMAXPROCS; a negative n means no bound.
//
// A verification gives its slot back once its result is computed, before
// it waits for its audit event to be committed (see releaseAdmission).
//
// Without a bound, N open connections are N verifications in flight, each
// holding its decoded document, JSON-LD state and database connection: with
// 64 connections on 2 CPUs the heap and the SQLite page caches grow for no
// gain in throughput, since the CPUs are already saturated.
func WithMaxConcurrentVerifications(n int) Option {
	return func(s *Server) { s.verifyConcurrency = n }
}

// admission is the bound WithMaxConcurrentVerifications sets.
type admission struct {
	slots   chan struct{}
	waiting prometheus.Gauge
}

// newAdmission builds the bound for n concurrent requests (see
// WithMaxConcurrentVerifications), nil when there is none.
func newAdmission(n int, reg prometheus.Registerer) (*admission, error) {
	if n == 0 {
		n = DefaultVerifyConcurrencyPerCPU * runtimeCPUs()
	}
	if n < 0 {
		return nil, nil
	}
	a := &admission{
		slots: make(chan struct{}, n),
		waiting: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "agentid_verify_requests_waiting",
			Help: "Verification and challenge requests waiting for one of the --max-concurrent-verifications slots.",
		}),
	}
	limit := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "agentid_verify_concurrency_limit",
		Help: "How many verification and challenge requests are worked on at once.",
	})
	limit.Set(float64(n))
	for _, c := range []prometheus.Collector{a.waiting, limit} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return a, nil
}

// middleware holds a request until a slot is free. A client that goes away
// while waiting is answered 503 (nobody reads it; it is not logged as a
// server error) and nothing is verified.
func (a *admission) middleware() gin.HandlerFunc {
	return func(c *gin.Context) {
		select {
		case a.slots <- struct{}{}:
		default:
			a.waiting.Inc()
			select {
			case a.slots <- struct{}{}:
				a.waiting.Dec()
			case <-c.Request.Context().Done():
				a.waiting.Dec()
				p := problem.Unavailable("the request ended while waiting to be verified")
				p.RequestID, p.Instance = c.GetString(requestIDKey), c.Request.URL.Path
				problem.Write(c.Writer, p)
				c.Abort()
				return
			}
		}
		var once sync.Once
		release := func() { once.Do(func() { <-a.slots }) }
		c.Set(admissionReleaseKey, release)
		defer release()
		c.Next()
	}
}

// admissionReleaseKey holds, in the gin context of an admitted request, the
// function that gives its slot back.
const admissionReleaseKey = "agentid.admission.release"

// releaseAdmission gives the request's slot back before the handler is
// done: a verification gives it back once its result is computed, before it
// waits for its audit event to be committed. Commits are shared (group
// commit), so the more verifications wait on one, the fewer commits: a slot
// held through that wait would cap every group at the bound.
func releaseAdmission(c *gin.Context) {
	if f, ok := c.Get(admissionReleaseKey); ok {
		if release, ok := f.(func()); ok {
			release()
		}
	}
}

// runtimeCPUs is GOMAXPROCS, what the default bound is counted in.
func runtimeCPUs() int { return runtime.GOMAXPROCS(0) }
