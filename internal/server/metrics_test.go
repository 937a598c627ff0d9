package server

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/agentid/agentid/internal/store/storetest"
)

// TestMetricsObserveCachesMatchedRoutes: cached observers count into the
// same series as the label lookups they replace, each request once; an
// unmatched route is counted but not cached.
func TestMetricsObserveCachesMatchedRoutes(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := newMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		m.observe("POST", "/credentials/verify", true, 200, 0.001)
	}
	m.observe("POST", "/credentials/verify", true, 400, 0.002)
	m.observe("GET", "unmatched", false, 404, 0.001)
	m.observe("GET", "unmatched", false, 404, 0.001)

	counts := map[[3]string]float64{}
	histograms := map[[2]string]uint64{}
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		for _, mt := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range mt.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			switch f.GetName() {
			case "agentid_http_requests_total":
				counts[[3]string{labels["method"], labels["route"], labels["code"]}] = mt.GetCounter().GetValue()
			case "agentid_http_request_duration_seconds":
				histograms[[2]string{labels["method"], labels["route"]}] = mt.GetHistogram().GetSampleCount()
			}
		}
	}
	want := map[[3]string]float64{
		{"POST", "/credentials/verify", "200"}: 3,
		{"POST", "/credentials/verify", "400"}: 1,
		{"GET", "unmatched", "404"}:            2,
	}
	for k, v := range want {
		if counts[k] != v {
			t.Errorf("requests%v = %v, want %v (all: %v)", k, counts[k], v, counts)
		}
	}
	if histograms[[2]string{"POST", "/credentials/verify"}] != 4 || histograms[[2]string{"GET", "unmatched"}] != 2 {
		t.Errorf("durations = %v", histograms)
	}
	cached := 0
	m.observers.Range(func(k, _ any) bool {
		if k.(routeKey).route == "unmatched" {
			t.Errorf("unmatched route cached: %v", k)
		}
		cached++
		return true
	})
	if cached != 2 {
		t.Errorf("%d routes cached, want 2", cached)
	}
}

// BenchmarkMiddleware measures the middleware chain every request goes
// through (request id, metrics, access log, panic recovery, headers, body
// limit) around GET /healthz, with the access log at Info.
//
//	go test -run '^$' -bench Middleware -benchmem ./internal/server/
func BenchmarkMiddleware(b *testing.B) {
	s, err := New(WithStore(storetest.SQLite(b)), WithLogger(discardLogger()))
	if err != nil {
		b.Fatal(err)
	}
	h := s.Handler()
	req := httptest.NewRequest("GET", "/healthz", nil)
	b.ReportAllocs()
	for b.Loop() {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			b.Fatal(w.Code)
		}
	}
}
