package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

const testBody = `{"credential":"x"}`

// server starts a loopback HTTP server that checks every request is the one
// the generator is meant to send, counts the bad ones in bad, and answers
// with h.
func server(t *testing.T, bad *atomic.Int64, h http.HandlerFunc) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		if err != nil || string(b) != testBody || r.Method != http.MethodPost || r.URL.Path != "/credentials/verify" ||
			r.URL.RawQuery != "a=1" || r.Header.Get("Content-Type") != "application/json" ||
			r.Header.Get("X-Relying-Party") != "bench" || r.ContentLength != int64(len(testBody)) {
			bad.Add(1)
		}
		h(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/credentials/verify?a=1"
}

func runAt(t *testing.T, url string, rate float64, d time.Duration, std bool) result {
	t.Helper()
	res, err := run(config{URL: url, Body: []byte(testBody), Rate: rate, Duration: d, Conns: 64,
		Timeout: 30 * time.Second, StdParser: std})
	if err != nil {
		t.Fatal(err)
	}
	t.Log(res)
	return res
}

func check(t *testing.T, res result, sent, non200 int) {
	t.Helper()
	if res.Sent != sent || res.Answered != sent || res.Errors != 0 || res.Non200 != non200 ||
		len(res.Latencies) != sent {
		t.Errorf("sent %d answered %d errors %d non200 %d latencies %d, want %d sent and answered, no errors, %d non200",
			res.Sent, res.Answered, res.Errors, res.Non200, len(res.Latencies), sent, non200)
	}
	if len(res.Latencies) > 0 && (res.Latencies[0] <= 0 || res.pct(100) > 5*time.Second) {
		t.Errorf("latencies from %v to %v", res.Latencies[0], res.pct(100))
	}
	if len(res.Lags) != sent || (sent > 0 && res.Lags[0] < 0) {
		t.Errorf("%d send lags from %v, want %d, none negative (nothing is sent early)", len(res.Lags), res.Lags[0], sent)
	}
	if res.CPU <= 0 {
		t.Errorf("CPU time %v", res.CPU)
	}
}

func TestSmallAnswers(t *testing.T) {
	t.Parallel()
	for _, std := range []bool{false, true} {
		var bad atomic.Int64
		url := server(t, &bad, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"valid":true}`)
		})
		d := time.Second
		if std {
			d = 300 * time.Millisecond
		}
		res := runAt(t, url, 500, d, std)
		check(t, res, int(500*d.Seconds()), 0)
		if bad.Load() != 0 {
			t.Errorf("std %v: %d requests were not the expected POST", std, bad.Load())
		}
		if res.Redials != 0 {
			t.Errorf("std %v: %d redials on keep-alive connections", std, res.Redials)
		}
		if !strings.HasPrefix(res.String(), "RESULT sent=") || !strings.Contains(res.String(), " late=") ||
			!strings.Contains(res.String(), " client_cpu_us_per_req=") {
			t.Errorf("RESULT line: %s", res)
		}
	}
}

func TestChunkedAnswers(t *testing.T) {
	t.Parallel()
	var bad atomic.Int64
	chunk := bytes.Repeat([]byte("0123456789abcdef"), 2048) // 32 KiB
	url := server(t, &bad, func(w http.ResponseWriter, r *http.Request) {
		for range 3 {
			_, _ = w.Write(chunk)
			w.(http.Flusher).Flush() // forces a chunked body
		}
	})
	check(t, runAt(t, url, 500, 500*time.Millisecond, false), 250, 0)
	if bad.Load() != 0 {
		t.Errorf("%d requests were not the expected POST", bad.Load())
	}
}

func TestNon200(t *testing.T) {
	t.Parallel()
	var bad atomic.Int64
	url := server(t, &bad, func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "invalid presentation", http.StatusBadRequest)
	})
	check(t, runAt(t, url, 500, 300*time.Millisecond, false), 150, 150)
}

func TestConnectionClose(t *testing.T) {
	t.Parallel()
	var bad atomic.Int64
	url := server(t, &bad, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Connection", "close")
		_, _ = io.WriteString(w, "ok")
	})
	res, err := run(config{URL: url, Body: []byte(testBody), Rate: 200, Duration: 300 * time.Millisecond,
		Conns: 4, Timeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	check(t, res, 60, 0)
	if res.Redials < 60-4 {
		t.Errorf("%d redials after answers with Connection: close", res.Redials)
	}
}

func TestSlowServer(t *testing.T) {
	t.Parallel()
	var bad atomic.Int64
	url := server(t, &bad, func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(20 * time.Millisecond)
	})
	res := runAt(t, url, 200, 500*time.Millisecond, false)
	check(t, res, 100, 0)
	if res.pct(50) < 20*time.Millisecond {
		t.Errorf("p50 %v below the server's 20 ms", res.pct(50))
	}
}

// TestLate: one connection and a server that takes 20 ms per answer cannot
// hold 200/s, so most requests are taken late, and measured from when they
// were due (latency grows along the run).
func TestLate(t *testing.T) {
	t.Parallel()
	var bad atomic.Int64
	url := server(t, &bad, func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(20 * time.Millisecond)
	})
	res, err := run(config{URL: url, Body: []byte(testBody), Rate: 200, Duration: 100 * time.Millisecond,
		Conns: 1, Timeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	check(t, res, 20, 0)
	// Request i is sent at about 20i ms and was due at 5i ms.
	if res.Late < 15 || res.pct(100) < 300*time.Millisecond || res.Lags[len(res.Lags)-1] < 250*time.Millisecond {
		t.Errorf("late %d, max %v; want most late and the last measured from its due time", res.Late, res.pct(100))
	}
}

// TestTimeout: an answer that never comes is an error after -timeout, and
// the worker goes on with a new connection.
func TestTimeout(t *testing.T) {
	t.Parallel()
	var bad, calls atomic.Int64
	release := make(chan struct{})
	url := server(t, &bad, func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			<-release
		}
	})
	defer close(release)
	res, err := run(config{URL: url, Body: []byte(testBody), Rate: 100, Duration: 200 * time.Millisecond,
		Conns: 4, Timeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if res.Errors != 1 || res.Answered != 19 {
		t.Errorf("errors %d answered %d, want 1 and 19", res.Errors, res.Answered)
	}
}

func TestReadResponse(t *testing.T) {
	for _, c := range []struct {
		name, in    string
		status      int
		keep        bool
		rest, error string
	}{
		{"length", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhelloNEXT", 200, true, "NEXT", ""},
		{"chunked", "HTTP/1.1 400 Bad Request\r\ntransfer-encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\nA\r\n0123456789\r\n0\r\nX-Trailer: y\r\n\r\nNEXT", 400, true, "NEXT", ""},
		{"close", "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok", 200, false, "", ""},
		{"1.0", "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok", 200, false, "", ""},
		{"1.0 keep-alive", "HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 2\r\n\r\nokNEXT", 200, true, "NEXT", ""},
		{"until EOF", "HTTP/1.1 200 OK\r\n\r\nall of it", 200, false, "", ""},
		{"continue", "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\nNEXT", 201, true, "NEXT", ""},
		{"no content", "HTTP/1.1 204 No Content\r\n\r\nNEXT", 204, true, "NEXT", ""},
		{"short body", "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", 0, false, "", "EOF"},
		{"short chunk", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab", 0, false, "", "EOF"},
		{"bad chunk size", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 0, false, "", "malformed"},
		{"bad length", "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", 0, false, "", "malformed"},
		{"not http", "SSH-2.0-OpenSSH\r\n\r\n", 0, false, "", "malformed"},
		{"cut headers", "HTTP/1.1 200 OK\r\nContent-Le", 0, false, "", "unexpected EOF"},
	} {
		br := bufio.NewReader(strings.NewReader(c.in))
		status, keep, err := readResponse(br)
		if c.error != "" {
			if err == nil || !strings.Contains(err.Error(), c.error) {
				t.Errorf("%s: error %v, want one with %q", c.name, err, c.error)
			}
			continue
		}
		rest, _ := io.ReadAll(br)
		if err != nil || status != c.status || keep != c.keep || string(rest) != c.rest {
			t.Errorf("%s: status %d keep %v rest %q err %v, want %d %v %q", c.name, status, keep, rest, err, c.status, c.keep, c.rest)
		}
	}
}

// TestNoAllocations: reading an answer with the own parser allocates nothing.
func TestNoAllocations(t *testing.T) {
	resp := "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
	sr := strings.NewReader(resp)
	br := bufio.NewReader(sr)
	allocs := testing.AllocsPerRun(100, func() {
		sr.Reset(resp)
		br.Reset(sr)
		if status, keep, err := readResponse(br); err != nil || status != 200 || !keep {
			t.Fatal(status, keep, err)
		}
	})
	if allocs != 0 {
		t.Errorf("%v allocations per answer", allocs)
	}
}

// FuzzReadResponse feeds the own parser arbitrary bytes: it must not panic,
// and what it accepts must be a status of three digits.
func FuzzReadResponse(f *testing.F) {
	for _, s := range []string{
		"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
		"HTTP/1.1 400 Bad Request\r\nTransfer-Encoding: chunked\r\n\r\n5;x=1\r\nhello\r\n0\r\nT: y\r\n\r\n",
		"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.0 204 No Content\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		status, _, err := readResponse(bufio.NewReader(bytes.NewReader(in)))
		if err == nil && (status < 0 || status > 999) {
			t.Fatalf("status %d accepted", status)
		}
	})
}

// FuzzReadResponseDifferential builds well-formed answers from the fuzzed
// parts and reads each with the own parser and with net/http's: both must
// give the same status and keep-alive, and stop at the same byte (the next
// answer's first).
func FuzzReadResponseDifferential(f *testing.F) {
	f.Add(uint16(200), []byte(`{"verified":true}`), false, uint8(0), false, false)
	f.Add(uint16(400), []byte(strings.Repeat("x", 5000)), true, uint8(7), true, false)
	f.Add(uint16(204), []byte{}, false, uint8(0), false, true)
	f.Fuzz(func(t *testing.T, code uint16, body []byte, chunked bool, chunk uint8, closeConn, http10 bool) {
		status := 200 + int(code)%400 // 200..599: a final answer with a body
		if status == http.StatusNoContent || status == http.StatusNotModified {
			body = nil
		}
		var b bytes.Buffer
		proto := "HTTP/1.1"
		if http10 {
			proto = "HTTP/1.0"
		}
		fmt.Fprintf(&b, "%s %d %s\r\nContent-Type: application/json\r\n", proto, status, http.StatusText(status))
		if closeConn {
			b.WriteString("Connection: close\r\n")
		}
		switch {
		case chunked && !http10 && len(body) > 0:
			b.WriteString("Transfer-Encoding: chunked\r\n\r\n")
			size := int(chunk) + 1
			for rest := body; len(rest) > 0; {
				n := min(size, len(rest))
				fmt.Fprintf(&b, "%x\r\n%s\r\n", n, rest[:n])
				rest = rest[n:]
			}
			b.WriteString("0\r\n\r\n")
		default:
			fmt.Fprintf(&b, "Content-Length: %d\r\n\r\n", len(body))
			b.Write(body)
		}
		b.WriteString("NEXT")
		read := func(parse func(*bufio.Reader) (int, bool, error)) (int, bool, string, error) {
			br := bufio.NewReader(bytes.NewReader(b.Bytes()))
			s, k, err := parse(br)
			rest, _ := io.ReadAll(br)
			return s, k, string(rest), err
		}
		s1, k1, r1, err1 := read(readResponse)
		s2, k2, r2, err2 := read(readResponseStd)
		if err1 != nil || err2 != nil || s1 != s2 || k1 != k2 || r1 != r2 || r1 != "NEXT" {
			t.Fatalf("own: %d %v %q %v; net/http: %d %v %q %v\n%q", s1, k1, r1, err1, s2, k2, r2, err2, b.String())
		}
	})
}
