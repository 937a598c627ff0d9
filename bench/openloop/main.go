// Command openloop is an open-loop HTTP load generator for bench/verify.sh:
// it sends POST requests at a fixed rate, whatever the server's answers
// take, and measures each latency from the moment the request was due, so
// that a slow answer delays no later measurement (no coordinated
// omission). wrk, which waits for each answer before sending the next on a
// connection, cannot hold a rate; this can.
//
//	go run ./bench/openloop -url http://127.0.0.1:18181/credentials/verify -body cred.json -rate 300 -duration 10s
//
// It prints one line: RESULT sent=… rate=… p50_ms=… p90_ms=… p99_ms=…
// max_ms=… non200=… errors=… late=…, where late counts requests that could
// not be sent on time because every connection (-conns) was busy (each is
// still measured from when it was due).
package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	url := flag.String("url", "", "URL to POST to")
	bodyFile := flag.String("body", "", "file holding the JSON request body")
	rate := flag.Float64("rate", 100, "requests per second")
	duration := flag.Duration("duration", 10*time.Second, "how long to send")
	conns := flag.Int("conns", 64, "most requests in flight at once")
	flag.Parse()
	if err := run(*url, *bodyFile, *rate, *duration, *conns); err != nil {
		fmt.Fprintln(os.Stderr, "openloop:", err)
		os.Exit(1)
	}
}

func run(url, bodyFile string, rate float64, duration time.Duration, conns int) error {
	if url == "" || bodyFile == "" || rate <= 0 || conns <= 0 {
		return fmt.Errorf("-url, -body, a positive -rate and -conns are required")
	}
	body, err := os.ReadFile(bodyFile)
	if err != nil {
		return fmt.Errorf("read body: %w", err)
	}
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		MaxIdleConnsPerHost: conns, MaxConnsPerHost: conns, DisableCompression: true}}
	interval := time.Duration(float64(time.Second) / rate)
	n := int(duration / interval)

	var (
		mu        sync.Mutex
		latencies = make([]time.Duration, 0, n)
		non200    atomic.Int64
		errs      atomic.Int64
		late      atomic.Int64
		wg        sync.WaitGroup
		slots     = make(chan struct{}, conns)
	)
	start := time.Now()
	for i := range n {
		due := start.Add(time.Duration(i) * interval)
		time.Sleep(time.Until(due))
		select {
		case slots <- struct{}{}:
		default:
			late.Add(1)
			slots <- struct{}{}
		}
		wg.Go(func() {
			defer func() { <-slots }()
			req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
			if err != nil {
				errs.Add(1)
				return
			}
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("X-Relying-Party", "bench")
			resp, err := client.Do(req)
			if err != nil {
				errs.Add(1)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
			took := time.Since(due)
			if resp.StatusCode != http.StatusOK {
				non200.Add(1)
			}
			mu.Lock()
			latencies = append(latencies, took)
			mu.Unlock()
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	if len(latencies) == 0 {
		return fmt.Errorf("no answers (%d errors)", errs.Load())
	}
	slices.Sort(latencies)
	pct := func(p float64) float64 {
		i := min(int(p/100*float64(len(latencies))), len(latencies)-1)
		return float64(latencies[i].Microseconds()) / 1000
	}
	fmt.Printf("RESULT sent=%d rate=%.0f p50_ms=%.2f p90_ms=%.2f p99_ms=%.2f max_ms=%.2f non200=%d errors=%d late=%d\n",
		n, float64(len(latencies))/elapsed.Seconds(), pct(50), pct(90), pct(99),
		float64(latencies[len(latencies)-1].Microseconds())/1000, non200.Load(), errs.Load(), late.Load())
	return nil
}
