// Command openloop is an open-loop HTTP load generator for bench/verify.sh:
// it sends POST requests at a fixed rate, whatever the server's answers
// take, and measures each latency from the moment the request was due, so
// that a slow answer delays no later measurement (no coordinated
// omission). wrk, which waits for each answer before sending the next on a
// connection, cannot hold a rate; this can.
//
//	go run ./bench/openloop -url http://127.0.0.1:18181/credentials/verify -body cred.json -rate 300 -duration 10s
//
// The generator runs on the same cores as the server it measures, so every
// microsecond of its own CPU per request is taken from the server and shows
// up in the server's latency. It is therefore built to be cheap per request:
// a fixed pool of -conns persistent keep-alive TCP connections, each owned by
// one worker goroutine; the request bytes (request line, Host, Content-Type:
// application/json, X-Relying-Party: bench, Content-Length and the body) are
// built once and written with one Write; answers are read through a
// bufio.Reader per connection by a small HTTP/1.1 response reader of its own
// (status line, headers, then a Content-Length, chunked or close-delimited
// body, which is discarded). In a steady state a request allocates nothing.
// It runs with GOMAXPROCS 1 (-procs): with more, the runtime's threads wake
// each other for every request, which costs more CPU than it saves.
// -parser std reads answers with net/http's ReadResponse instead, which
// costs more CPU per request; it is kept to compare the two.
//
// Schedule: request i is due at start + i/rate, for i from 0 up to
// rate*duration. A free worker takes the next i from a shared counter,
// sleeps until i is due if that is in the future, sends it, reads the whole
// answer and records latency = time the answer was read − time i was due.
// A request sent late is thus measured from when it was due.
//
// It prints one line:
//
//	RESULT sent=… rate=… p50_ms=… p90_ms=… p99_ms=… max_ms=… non200=… errors=… late=… client_cpu_us_per_req=… answered=… wake_late=… redials=… lag_p50_ms=… lag_p99_ms=…
//
// whose fields are:
//   - sent: requests sent (rate*duration of them).
//   - rate: answers per second, from the start to the last answer.
//   - p50_ms … max_ms: latency percentiles over the answered requests.
//   - non200: answers whose status was not 200.
//   - errors: requests that got no answer: a dial, write or read error, an
//     answer that is not HTTP/1.x, or no answer within -timeout of the send
//     (the connection is then closed). The worker redials and goes on.
//   - late: requests whose index was taken by a worker more than 1 ms after
//     they were due, that is, no worker was free (all -conns connections
//     had a request in flight) during the first millisecond after they
//     were due. Each is still measured from when it was due.
//   - client_cpu_us_per_req: this process's user+system CPU time
//     (getrusage) over the run, divided by the answered requests.
//   - answered: requests that got an answer (sent − errors).
//   - wake_late: requests a worker held in time but sent more than 1 ms
//     after they were due because the worker woke from its sleep late.
//   - redials: connections opened after the initial pool: after an error,
//     an answer with Connection: close, or a keep-alive connection the
//     server had closed (a request that finds its reused connection closed
//     before any answer byte is resent once on a new one, and is not an
//     error).
//   - lag_p50_ms, lag_p99_ms: percentiles of send time − due time over the
//     sent requests: the part of each latency spent before the send. A
//     sleeping goroutine wakes up to about 1 ms late (the Go runtime waits
//     for timers in epoll_wait, whose timeout is in whole milliseconds), so
//     even an idle generator shows a lag_p50_ms of about 0.5.
package main

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// lateAfter is how long after its due time a request may be taken or sent
// before it counts as late (or wake_late).
const lateAfter = time.Millisecond

func main() {
	target := flag.String("url", "", "http:// URL to POST to")
	bodyFile := flag.String("body", "", "file holding the JSON request body")
	rate := flag.Float64("rate", 100, "requests per second")
	duration := flag.Duration("duration", 10*time.Second, "how long to send")
	conns := flag.Int("conns", 64, "persistent connections, hence most requests in flight at once")
	timeout := flag.Duration("timeout", 30*time.Second, "a request unanswered this long after its send is an error")
	parser := flag.String("parser", "own", "how answers are read: own, or std (net/http.ReadResponse)")
	procs := flag.Int("procs", 1, "GOMAXPROCS: one processor costs less CPU per request than several, which wake each other")
	flag.Parse()
	runtime.GOMAXPROCS(*procs)
	body, err := os.ReadFile(*bodyFile)
	if err != nil {
		fmt.Fprintln(os.Stderr, "openloop: read body:", err)
		os.Exit(1)
	}
	res, err := run(config{URL: *target, Body: body, Rate: *rate, Duration: *duration,
		Conns: *conns, Timeout: *timeout, StdParser: *parser == "std"})
	if err == nil && *parser != "own" && *parser != "std" {
		err = fmt.Errorf("-parser must be own or std")
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "openloop:", err)
		os.Exit(1)
	}
	fmt.Println(res)
}

type config struct {
	URL       string
	Body      []byte
	Rate      float64 // requests per second
	Duration  time.Duration
	Conns     int
	Timeout   time.Duration
	StdParser bool
}

// result is what one run measured; String gives the RESULT line.
type result struct {
	Sent, Answered, Non200, Errors, Late, WakeLate, Redials int
	Elapsed                                                 time.Duration
	Latencies                                               []time.Duration // sorted, one per answer
	Lags                                                    []time.Duration // sorted send time − due time, one per request
	CPU                                                     time.Duration   // user+system
}

func (r result) pct(p float64) time.Duration {
	if len(r.Latencies) == 0 {
		return 0
	}
	return r.Latencies[min(int(p/100*float64(len(r.Latencies))), len(r.Latencies)-1)]
}

func (r result) String() string {
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	cpu := 0.0
	if r.Answered > 0 {
		cpu = float64(r.CPU.Nanoseconds()) / 1000 / float64(r.Answered)
	}
	lag := func(p float64) float64 {
		if len(r.Lags) == 0 {
			return 0
		}
		return ms(r.Lags[min(int(p/100*float64(len(r.Lags))), len(r.Lags)-1)])
	}
	return fmt.Sprintf("RESULT sent=%d rate=%.0f p50_ms=%.2f p90_ms=%.2f p99_ms=%.2f max_ms=%.2f non200=%d errors=%d late=%d client_cpu_us_per_req=%.1f answered=%d wake_late=%d redials=%d lag_p50_ms=%.2f lag_p99_ms=%.2f",
		r.Sent, float64(r.Answered)/r.Elapsed.Seconds(), ms(r.pct(50)), ms(r.pct(90)), ms(r.pct(99)),
		ms(r.pct(100)), r.Non200, r.Errors, r.Late, cpu, r.Answered, r.WakeLate, r.Redials, lag(50), lag(99))
}

// gen is the state the workers share.
type gen struct {
	addr      string // host:port to dial
	req       []byte // the whole request, written as is
	n         int64  // requests to send
	rate      float64
	start     time.Time
	next      atomic.Int64
	lat       []int64 // latency in ns of request i, 0 if it got no answer
	lag       []int64 // send time − due time of request i, in ns
	stdParser bool
}

// due is when request i is due.
func (g *gen) due(i int64) time.Time {
	return g.start.Add(time.Duration(float64(i) * float64(time.Second) / g.rate))
}

// worker owns one connection and sends one request at a time on it.
type worker struct {
	g    *gen
	mu   sync.Mutex // guards conn against the watchdog; the worker alone replaces it
	conn net.Conn
	br   *bufio.Reader
	used bool // conn has carried an answer, so the server may have closed it since
	// sentAt is when the request in flight was sent, in ns since start
	// (0: none in flight); the watchdog closes the connection when it is
	// too old.
	sentAt                                        atomic.Int64
	non200, errs, late, wakeLate, dials, answered int
}

func run(c config) (result, error) {
	u, err := url.Parse(c.URL)
	if err != nil || u.Scheme != "http" || u.Host == "" {
		return result{}, fmt.Errorf("-url must be an http:// URL, got %q", c.URL)
	}
	if c.Rate <= 0 || c.Conns <= 0 || c.Duration <= 0 || c.Timeout <= 0 {
		return result{}, fmt.Errorf("-rate, -conns, -duration and -timeout must be positive")
	}
	addr := u.Host
	if u.Port() == "" {
		addr = net.JoinHostPort(u.Hostname(), "80")
	}
	g := &gen{
		addr: addr,
		req: append(fmt.Appendf(nil, "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nX-Relying-Party: bench\r\nContent-Length: %d\r\n\r\n",
			u.RequestURI(), u.Host, len(c.Body)), c.Body...),
		n:         int64(math.Round(c.Rate * c.Duration.Seconds())),
		rate:      c.Rate,
		stdParser: c.StdParser,
	}
	g.lat = make([]int64, g.n)
	g.lag = make([]int64, g.n)
	cpu0 := cpuTime()

	// Open the pool before the clock starts, so that no request waits for a
	// dial; a worker whose dial fails dials again for its first request.
	workers := make([]*worker, c.Conns)
	var wg sync.WaitGroup
	for k := range workers {
		w := &worker{g: g}
		workers[k] = w
		wg.Go(func() {
			if w.dial() == nil {
				w.dials = 0 // the initial pool is not counted in redials
			}
		})
	}
	wg.Wait()

	g.start = time.Now()
	for _, w := range workers {
		wg.Go(w.loop)
	}
	done := make(chan struct{})
	go watchdog(g, workers, c.Timeout, done)
	wg.Wait()
	elapsed := time.Since(g.start)
	close(done)
	for _, w := range workers {
		w.mu.Lock()
		if w.conn != nil {
			_ = w.conn.Close()
		}
		w.mu.Unlock()
	}

	res := result{Sent: int(g.n), Elapsed: elapsed, CPU: cpuTime() - cpu0}
	for _, w := range workers {
		res.Answered += w.answered
		res.Non200 += w.non200
		res.Errors += w.errs
		res.Late += w.late
		res.WakeLate += w.wakeLate
		res.Redials += w.dials
	}
	res.Latencies = make([]time.Duration, 0, res.Answered)
	for _, l := range g.lat {
		if l > 0 {
			res.Latencies = append(res.Latencies, time.Duration(l))
		}
	}
	slices.Sort(res.Latencies)
	res.Lags = make([]time.Duration, g.n)
	for i, l := range g.lag {
		res.Lags[i] = time.Duration(l)
	}
	slices.Sort(res.Lags)
	if res.Answered == 0 {
		return res, fmt.Errorf("no answers (%d errors)", res.Errors)
	}
	return res, nil
}

// watchdog closes the connection of a request in flight for longer than
// timeout, so that its worker's read fails and it goes on; a per-request
// deadline would cost a timer update on every request.
func watchdog(g *gen, workers []*worker, timeout time.Duration, done <-chan struct{}) {
	tick := time.NewTicker(min(max(timeout/10, 10*time.Millisecond), time.Second))
	defer tick.Stop()
	for {
		select {
		case <-done:
			return
		case <-tick.C:
		}
		now := int64(time.Since(g.start))
		for _, w := range workers {
			if s := w.sentAt.Load(); s != 0 && now-s > int64(timeout) {
				w.mu.Lock()
				if w.conn != nil {
					_ = w.conn.Close()
				}
				w.mu.Unlock()
			}
		}
	}
}

func (w *worker) loop() {
	g := w.g
	for {
		i := g.next.Add(1) - 1
		if i >= g.n {
			return
		}
		due := g.due(i)
		now := time.Now()
		if d := due.Sub(now); d > 0 {
			time.Sleep(d)
			now = time.Now()
			if now.Sub(due) > lateAfter {
				w.wakeLate++
			}
		} else if -d > lateAfter {
			w.late++
		}
		g.lag[i] = int64(now.Sub(due))
		// now.Sub(g.start) is at least the due offset, which is >= 0, and
		// 1 ns is added so that a request sent at the very start is not 0.
		w.sentAt.Store(int64(now.Sub(g.start)) + 1)
		status, err := w.do()
		w.sentAt.Store(0)
		if err != nil {
			w.errs++
			continue
		}
		g.lat[i] = max(int64(time.Since(due)), 1)
		w.answered++
		if status != http.StatusOK {
			w.non200++
		}
	}
}

// do sends the request and reads the whole answer.
func (w *worker) do() (status int, err error) {
	for attempt := 0; ; attempt++ {
		if w.conn == nil {
			if err := w.dial(); err != nil {
				return 0, err
			}
		}
		reused := w.used
		_, err = w.conn.Write(w.g.req)
		if err == nil {
			// Peek waits for the first byte of the answer: an error here
			// means the server sent nothing.
			if _, err = w.br.Peek(1); err == nil {
				var keep bool
				if w.g.stdParser {
					status, keep, err = readResponseStd(w.br)
				} else {
					status, keep, err = readResponse(w.br)
				}
				if err == nil {
					w.used = true
					if !keep {
						w.drop()
					}
					return status, nil
				}
				w.drop()
				return 0, err
			}
		}
		w.drop()
		// A reused keep-alive connection the server has closed in the
		// meantime fails before any answer byte; send once more on a new
		// one (but not when the watchdog closed it).
		if !reused || attempt > 0 || errors.Is(err, net.ErrClosed) {
			return 0, err
		}
	}
}

func (w *worker) dial() error {
	conn, err := net.Dial("tcp", w.g.addr)
	if err != nil {
		return err
	}
	w.dials++
	w.mu.Lock()
	w.conn = conn
	w.mu.Unlock()
	if w.br == nil {
		w.br = bufio.NewReaderSize(conn, 16<<10)
	} else {
		w.br.Reset(conn)
	}
	w.used = false
	return nil
}

func (w *worker) drop() {
	w.mu.Lock()
	if w.conn != nil {
		_ = w.conn.Close()
		w.conn = nil
	}
	w.mu.Unlock()
}

var errMalformed = errors.New("malformed HTTP response")

// readResponse reads one HTTP/1.x response from br and discards its body. It
// returns the status and whether the connection may carry another request.
// Informational (1xx) answers are skipped.
func readResponse(br *bufio.Reader) (status int, keep bool, err error) {
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			return 0, false, noEOF(err)
		}
		// "HTTP/1.1 200 OK\r\n"
		if len(line) < 12 || string(line[:7]) != "HTTP/1." || line[8] != ' ' {
			return 0, false, errMalformed
		}
		status = 0
		for _, c := range line[9:12] {
			if c < '0' || c > '9' {
				return 0, false, errMalformed
			}
			status = status*10 + int(c-'0')
		}
		keep = line[7] == '1' // HTTP/1.1 keeps the connection by default, 1.0 does not
		length, chunked := int64(-1), false
		for {
			line, err = br.ReadSlice('\n')
			if err != nil {
				return 0, false, noEOF(err)
			}
			line = trimSpace(line)
			if len(line) == 0 {
				break
			}
			colon := bytes.IndexByte(line, ':')
			if colon <= 0 {
				return 0, false, errMalformed
			}
			name, value := line[:colon], trimSpace(line[colon+1:])
			switch {
			case equalFold(name, "content-length"):
				length, err = parseUint(value, 10)
				if err != nil {
					return 0, false, errMalformed
				}
			case equalFold(name, "transfer-encoding"):
				chunked = hasToken(value, "chunked")
			case equalFold(name, "connection"):
				if hasToken(value, "close") {
					keep = false
				} else if hasToken(value, "keep-alive") {
					keep = true
				}
			}
		}
		switch {
		case status >= 100 && status < 200 && status != http.StatusSwitchingProtocols:
			continue // the real answer follows
		case status == http.StatusNoContent || status == http.StatusNotModified:
		case chunked:
			err = discardChunked(br)
		case length >= 0:
			_, err = br.Discard(int(length))
		default: // the body ends when the server closes the connection
			_, err = io.Copy(io.Discard, br)
			keep = false
		}
		if err != nil {
			return 0, false, noEOF(err)
		}
		return status, keep, nil
	}
}

// discardChunked reads a chunked body, and its trailers, up to its end.
func discardChunked(br *bufio.Reader) error {
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			return err
		}
		line = trimSpace(line)
		if semi := bytes.IndexByte(line, ';'); semi >= 0 { // chunk extensions
			line = trimSpace(line[:semi])
		}
		size, err := parseUint(line, 16)
		if err != nil {
			return errMalformed
		}
		if size == 0 {
			for { // trailers up to an empty line
				line, err = br.ReadSlice('\n')
				if err != nil {
					return err
				}
				if len(trimSpace(line)) == 0 {
					return nil
				}
			}
		}
		if _, err = br.Discard(int(size)); err != nil {
			return err
		}
		if line, err = br.ReadSlice('\n'); err != nil {
			return err
		}
		if len(trimSpace(line)) != 0 {
			return errMalformed
		}
	}
}

// readResponseStd is readResponse with net/http's parser.
func readResponseStd(br *bufio.Reader) (status int, keep bool, err error) {
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return 0, false, err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	if cerr := resp.Body.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return 0, false, err
	}
	return resp.StatusCode, !resp.Close, nil
}

// noEOF turns an end of stream in the middle of a response into an error
// that says so.
func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t' || b[len(b)-1] == '\r' || b[len(b)-1] == '\n') {
		b = b[:len(b)-1]
	}
	return b
}

// equalFold reports whether b equals lower, which is in lower case, ignoring
// the case of ASCII letters in b.
func equalFold(b []byte, lower string) bool {
	if len(b) != len(lower) {
		return false
	}
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}

// hasToken reports whether the comma-separated list v holds token, which is
// in lower case, ignoring case.
func hasToken(v []byte, token string) bool {
	for len(v) > 0 {
		item := v
		if comma := bytes.IndexByte(v, ','); comma >= 0 {
			item, v = v[:comma], v[comma+1:]
		} else {
			v = nil
		}
		if equalFold(trimSpace(item), token) {
			return true
		}
	}
	return false
}

// parseUint parses a non-negative number in base 10 or 16 without
// allocating; it refuses an empty string and values above 1<<40.
func parseUint(b []byte, base int64) (int64, error) {
	if len(b) == 0 {
		return 0, errMalformed
	}
	var n int64
	for _, c := range b {
		var d int64
		switch {
		case '0' <= c && c <= '9':
			d = int64(c - '0')
		case base == 16 && 'a' <= c && c <= 'f':
			d = int64(c-'a') + 10
		case base == 16 && 'A' <= c && c <= 'F':
			d = int64(c-'A') + 10
		default:
			return 0, errMalformed
		}
		if n = n*base + d; n > 1<<40 {
			return 0, errMalformed
		}
	}
	return n, nil
}

// cpuTime is this process's user+system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
