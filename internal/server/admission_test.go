package server

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// admitted is an engine whose one route, behind an admission bound of n,
// counts the requests inside it and holds each until release is closed.
func admitted(t *testing.T, n int) (e *gin.Engine, a *admission, inside, most *atomic.Int64, entered chan struct{}, release chan struct{}) {
	t.Helper()
	a, err := newAdmission(n, prometheus.NewRegistry())
	if err != nil || a == nil {
		t.Fatalf("newAdmission(%d) = %v, %v", n, a, err)
	}
	inside, most = &atomic.Int64{}, &atomic.Int64{}
	entered, release = make(chan struct{}, 64), make(chan struct{})
	gin.SetMode(gin.ReleaseMode)
	e = gin.New()
	e.POST("/verify", a.middleware(), func(c *gin.Context) {
		now := inside.Add(1)
		for {
			m := most.Load()
			if now <= m || most.CompareAndSwap(m, now) {
				break
			}
		}
		entered <- struct{}{}
		<-release
		inside.Add(-1)
		c.Status(http.StatusOK)
	})
	return e, a, inside, most, entered, release
}

func TestAdmissionBoundsConcurrentVerifications(t *testing.T) {
	e, a, _, most, entered, release := admitted(t, 2)
	var wg sync.WaitGroup
	codes := make(chan int, 6)
	for range 6 {
		wg.Go(func() {
			rec := httptest.NewRecorder()
			e.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/verify", nil))
			codes <- rec.Code
		})
	}
	// Two get in; the other four wait.
	<-entered
	<-entered
	deadline := time.Now().Add(5 * time.Second)
	for gaugeValue(t, a.waiting) != 4 {
		if time.Now().After(deadline) {
			t.Fatalf("waiting = %v, want 4", gaugeValue(t, a.waiting))
		}
		time.Sleep(time.Millisecond)
	}
	select {
	case <-entered:
		t.Fatal("a third request got in past a bound of 2")
	case <-time.After(50 * time.Millisecond):
	}
	close(release)
	wg.Wait()
	close(codes)
	for c := range codes {
		if c != http.StatusOK {
			t.Errorf("status %d, want 200", c)
		}
	}
	if m := most.Load(); m != 2 {
		t.Fatalf("at most %d requests were inside at once, want 2", m)
	}
	if w := gaugeValue(t, a.waiting); w != 0 {
		t.Fatalf("waiting = %v after all finished", w)
	}
}

func TestAdmissionClientGoneWhileWaiting(t *testing.T) {
	e, a, inside, _, entered, release := admitted(t, 1)
	defer close(release)
	go e.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodPost, "/verify", nil))
	<-entered

	ctx, cancel := context.WithCancel(context.Background())
	rec := httptest.NewRecorder()
	done := make(chan struct{})
	go func() {
		e.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/verify", nil).WithContext(ctx))
		close(done)
	}()
	for gaugeValue(t, a.waiting) != 1 {
		time.Sleep(time.Millisecond)
	}
	cancel()
	<-done
	if rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("status %d, want 503", rec.Code)
	}
	if n := inside.Load(); n != 1 {
		t.Fatalf("%d requests inside, want only the first", n)
	}
	if w := gaugeValue(t, a.waiting); w != 0 {
		t.Fatalf("waiting = %v after the client left", w)
	}
}

func TestAdmissionDefaultsAndOff(t *testing.T) {
	a, err := newAdmission(0, prometheus.NewRegistry())
	if err != nil || a == nil {
		t.Fatalf("default: %v, %v", a, err)
	}
	if got, want := cap(a.slots), DefaultVerifyConcurrencyPerCPU*runtimeCPUs(); got != want {
		t.Fatalf("default bound %d, want %d", got, want)
	}
	if a, err := newAdmission(-1, prometheus.NewRegistry()); err != nil || a != nil {
		t.Fatalf("-1: %v, %v; want no bound", a, err)
	}
}

func gaugeValue(t *testing.T, g prometheus.Gauge) float64 {
	t.Helper()
	var m dto.Metric
	if err := g.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetGauge().GetValue()
}

// A handler that gives its slot back early (a verification before it waits
// for its audit commit) lets the next request in while it is still running.
func TestAdmissionReleasedEarly(t *testing.T) {
	a, err := newAdmission(1, prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	gin.SetMode(gin.ReleaseMode)
	e := gin.New()
	entered, hold := make(chan string, 2), make(chan struct{})
	e.POST("/verify", a.middleware(), func(c *gin.Context) {
		entered <- c.Query("n")
		releaseAdmission(c)
		releaseAdmission(c) // twice is once
		if c.Query("n") == "1" {
			<-hold
		}
		c.Status(http.StatusOK)
	})
	go e.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodPost, "/verify?n=1", nil))
	if n := <-entered; n != "1" {
		t.Fatalf("entered %s", n)
	}
	done := make(chan int)
	go func() {
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/verify?n=2", nil))
		done <- rec.Code
	}()
	select {
	case n := <-entered:
		if n != "2" {
			t.Fatalf("entered %s", n)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the second request did not get in after the first gave its slot back")
	}
	if code := <-done; code != http.StatusOK {
		t.Fatalf("second: %d", code)
	}
	close(hold)
	// The slot is free again: exactly one was taken and given back per request.
	deadline := time.Now().Add(5 * time.Second)
	for len(a.slots) != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d slots still taken", len(a.slots))
		}
		time.Sleep(time.Millisecond)
	}
}
