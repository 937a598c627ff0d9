package server

import (
	"strconv"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// metrics are the server's Prometheus collectors, on a registry of its own so
// that several servers in one process (tests) do not collide.
type metrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	inFlight prometheus.Gauge
	panics   prometheus.Counter

	// observers caches the children of requests and duration per matched
	// route (routeKey), so that a request does not look its labels up (a
	// hash, a lock, a status code formatted) in each vector.
	observers sync.Map // routeKey → *routeObservers
}

// routeKey names the series one request is counted in. Only matched routes
// are cached: their methods and status codes are the server's own, so the
// cache is as bounded as the label sets.
type routeKey struct {
	method, route string
	status        int
}

type routeObservers struct {
	requests prometheus.Counter
	duration prometheus.Observer
}

// observe counts one request of method on route (a route pattern, or
// "unmatched") answered with status after seconds.
func (m *metrics) observe(method, route string, matched bool, status int, seconds float64) {
	k := routeKey{method: method, route: route, status: status}
	if o, ok := m.observers.Load(k); ok {
		ro := o.(*routeObservers)
		ro.requests.Inc()
		ro.duration.Observe(seconds)
		return
	}
	ro := &routeObservers{
		requests: m.requests.WithLabelValues(method, route, strconv.Itoa(status)),
		duration: m.duration.WithLabelValues(method, route),
	}
	if matched {
		m.observers.Store(k, ro)
	}
	ro.requests.Inc()
	ro.duration.Observe(seconds)
}

func newMetrics(reg *prometheus.Registry) (*metrics, error) {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "agentid_http_requests_total",
			Help: "HTTP requests answered, by method, route and status code.",
		}, []string{"method", "route", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "agentid_http_request_duration_seconds",
			Help:    "Time to answer HTTP requests, by method and route.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2.5, 12),
		}, []string{"method", "route"}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "agentid_http_requests_in_flight",
			Help: "HTTP requests being answered now.",
		}),
		panics: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "agentid_http_panics_recovered_total",
			Help: "Panics in HTTP handlers that were recovered and answered with 500.",
		}),
	}
	for _, c := range []prometheus.Collector{
		m.requests, m.duration, m.inFlight, m.panics,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}
