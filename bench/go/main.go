// go_bench: the Go peers of gort's benchmark workloads (bench/gort_bench.c).
//
// Usage:
//
//	go_bench <workload> <procs> [loops]
//	go_bench calibrate
//
// GORT_BENCH_SCALE=<d> (an integer, default 1) divides the workloads' sizes
// by d for a smoke run (bench/run.sh --quick); see setSizes.
//
// Sets runtime.GOMAXPROCS(procs), runs one workload once and prints its
// figures as lines of the form
//
//	RESULT bench=<name> impl=go procs=<n> metric=<metric> value=<number> unit=<unit>
//
// The workloads are defined exactly as in gort_bench.c; keep the two in step
// (bench/README.md describes them).  Only the workload itself is timed.
package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"runtime/pprof"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// The workloads' sizes: the full ones (the brief's) are the *Full
// constants; GORT_BENCH_SCALE=<d> (an integer, default 1) divides them for
// a smoke run (bench/run.sh --quick: figures not comparable with full
// ones).  setSizes fills the variables below, which the workloads use,
// exactly as set_sizes() does in gort_bench.c.
const (
	spawnCountFull     = 1000000  // spawn: coroutines spawned
	yieldRoundsFull    = 5000000  // yield, yield-fp: yields per coroutine
	stealTasksFull     = 20000    // steal: CPU-bound tasks
	idleSleepMsFull    = 2000     // idle: time asleep
	protectOpsFull     = 10000000 // protect: calls of a function with a defer
	panicOpsFull       = 200000   // panic-recover: panics recovered
	pingpongRoundsFull = 1000000  // pingpong: round trips
	mpmcItemsFull      = 10000000 // chanmpmc: ints sent
	fibNFull           = 27       // fib: fib(27) = 196418, 317,810 spawns
	skynetLeavesFull   = 1000000  // skynet: skynetDiv^6 leaves
	selectOpsFull      = 1000000  // select: selects done
	parkedCountFull    = 100000   // parked: goroutines parked
	parked1MCountFull  = 1000000  // parked_1m: goroutines parked
	timerCountFull     = 100000   // timers: sleeping goroutines
	mutexOpsFull       = 1000     // mutex: lock/increment/unlock per goroutine
	ctxGrandkidsFull   = 1000     // ctxcancel: grandchildren (waiters) per child
	rwOpsFull          = 20000    // rwmutex: operations per goroutine
	semOpsFull         = 1000     // semaphore: acquire/release pairs per goroutine
	echoRoundsFull     = 10000    // echo: 64-byte round trips per connection
	hogMsFull          = 1000     // hog: how long the hog spins, and each window
)

var (
	spawnCount, yieldRounds, stealTasks, protectOps, panicOps, pingpongRounds int
	mpmcItems, fibN, selectOps, parkedCount, parked1MCount, timerCount        int
	mutexOps, ctxGrandkids, rwOps, semOps, echoRounds, hogMs                  int
	idleSleep                                                                 time.Duration
	fibWant, skynetLeaves, skynetWant                                         int64 // fib(fibN); the sum of 0 .. skynetLeaves-1
)

// Not scaled.
const (
	mpmcCap       = 128 // chanmpmc: the channel's capacity
	mpmcProducers = 4
	mpmcConsumers = 4
	skynetDiv     = 10                    // skynet: fan-out
	parkedSettle  = 20 * time.Millisecond // parked: settle after the last one signals
	timerSeed     = 42                    // timers: the LCG's seed
	mutexWorkers  = 1000                  // mutex: goroutines
	ctxChildren   = 100                   // ctxcancel: children of the root
	rwWorkers     = 1000                  // rwmutex: goroutines
	rwWriteEvery  = 100                   // rwmutex: every 100th op is a write (1%)
	semSize       = 10                    // semaphore: the semaphore's size
	semWorkers    = 1000                  // semaphore: goroutines
	// calibration: the spin loop is timed over calibLoops iterations,
	// calibRuns times, and the median is scaled to calibTargetNs.
	calibLoops    = 1000000
	calibRuns     = 9
	calibTargetNs = 50000
)

func scaled(full, scale, min int64) int64 {
	v := full / scale
	if v < min {
		return min
	}
	return v
}

// setSizes: the sizes for GORT_BENCH_SCALE=scale (1: the full ones).  fib:
// the largest n <= fibNFull whose spawn count, fib(n+1) - 1, is at most the
// full count / scale; skynet: the largest power of skynetDiv leaves at most
// skynetLeavesFull / scale (at least skynetDiv); select: even.
func setSizes(scale int64) {
	s := func(full, min int64) int { return int(scaled(full, scale, min)) }
	spawnCount = s(spawnCountFull, 1)
	yieldRounds = s(yieldRoundsFull, 1)
	stealTasks = s(stealTasksFull, 1)
	idleSleep = time.Duration(s(idleSleepMsFull, 1)) * time.Millisecond
	protectOps = s(protectOpsFull, 1)
	panicOps = s(panicOpsFull, 1)
	pingpongRounds = s(pingpongRoundsFull, 1)
	mpmcItems = s(mpmcItemsFull, 1)
	fibs := make([]int64, fibNFull+2) // fibs[k] = fib(k)
	fibs[1] = 1
	for k := 2; k < fibNFull+2; k++ {
		fibs[k] = fibs[k-1] + fibs[k-2]
	}
	spawns := scaled(fibs[fibNFull+1]-1, scale, 1)
	n := fibNFull
	for n > 2 && fibs[n+1]-1 > spawns {
		n--
	}
	fibN, fibWant = n, fibs[n]
	leaves, limit := int64(skynetDiv), scaled(skynetLeavesFull, scale, skynetDiv)
	for leaves*skynetDiv <= limit {
		leaves *= skynetDiv
	}
	skynetLeaves, skynetWant = leaves, leaves*(leaves-1)/2
	selectOps = s(selectOpsFull, 2) &^ 1
	parkedCount = s(parkedCountFull, 1)
	parked1MCount = s(parked1MCountFull, 1)
	timerCount = s(timerCountFull, 1)
	mutexOps = s(mutexOpsFull, 1)
	ctxGrandkids = s(ctxGrandkidsFull, 1)
	rwOps = s(rwOpsFull, 1)
	semOps = s(semOpsFull, 1)
	echoRounds = s(echoRoundsFull, 1)
	hogMs = s(hogMsFull, 1)
}

var procs int

func result(bench, metric, value, unit string) {
	fmt.Printf("RESULT bench=%s impl=go procs=%d metric=%s value=%s unit=%s\n",
		bench, procs, metric, value, unit)
}

func fmtFloat(v float64, prec int) string { return strconv.FormatFloat(v, 'f', prec, 64) }

func peakRSSKiB() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return -1
	}
	return ru.Maxrss // KiB on Linux
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// ---------------------------------------------------------------- spawn

func benchSpawn() error {
	var wg sync.WaitGroup
	start := time.Now()
	wg.Add(spawnCount)
	for i := 0; i < spawnCount; i++ {
		go func() { wg.Done() }()
	}
	wg.Wait()
	el := time.Since(start)
	rss := peakRSSKiB()
	result("spawn", "ns_per_coroutine", fmtFloat(float64(el.Nanoseconds())/float64(spawnCount), 2), "ns")
	result("spawn", "peak_rss_kib", strconv.FormatInt(rss, 10), "KiB")
	return nil
}

// ---------------------------------------------------------------- yield, yield-fp

// fpSink is the Go stand-in for C's volatile double: a package-level
// variable that outlives each call, so the division is really done.
var fpSink float64

func yielder(wg *sync.WaitGroup) {
	for i := 0; i < yieldRounds; i++ {
		runtime.Gosched()
	}
	wg.Done()
}

func yielderFP(wg *sync.WaitGroup) {
	for i := 0; i < yieldRounds; i++ {
		fpSink = fpSink/3.0 + 1.0
		runtime.Gosched()
	}
	wg.Done()
}

func benchYield(name string, fp bool) error {
	var wg sync.WaitGroup
	fpSink = 1.0
	start := time.Now()
	wg.Add(2)
	go yielder(&wg)
	if fp {
		go yielderFP(&wg)
	} else {
		go yielder(&wg)
	}
	wg.Wait()
	el := time.Since(start)
	result(name, "ns_per_yield", fmtFloat(float64(el.Nanoseconds())/float64(2*yieldRounds), 2), "ns")
	return nil
}

// ---------------------------------------------------------------- protect, panic-recover

// deferSink is what protectOnce's deferred call counts, so it is really run.
var deferSink int64

// protectOnce is gort's protected region that does not panic: a function
// with one deferred call.
//
//go:noinline
func protectOnce() {
	defer func() { deferSink++ }()
}

func benchProtect() error {
	deferSink = 0
	start := time.Now()
	for i := 0; i < protectOps; i++ {
		protectOnce()
	}
	el := time.Since(start)
	if deferSink != int64(protectOps) {
		return fmt.Errorf("protect: %d of %d deferred calls ran", deferSink, protectOps)
	}
	result("protect", "ns_per_op", fmtFloat(float64(el.Nanoseconds())/float64(protectOps), 2), "ns")
	return nil
}

// panicOnce panics; its deferred call recovers, and it returns to its
// caller normally (gort_protect returning GORT_PANICKED).
//
//go:noinline
func panicOnce() (recovered bool) {
	defer func() {
		if r := recover(); r != nil {
			recovered = true
		}
	}()
	panic("boom")
}

func benchPanicRecover() error {
	n := 0
	start := time.Now()
	for i := 0; i < panicOps; i++ {
		if panicOnce() {
			n++
		}
	}
	el := time.Since(start)
	if n != panicOps {
		return fmt.Errorf("panic-recover: %d of %d recovered", n, panicOps)
	}
	result("panic-recover", "ns_per_op", fmtFloat(float64(el.Nanoseconds())/float64(panicOps), 2), "ns")
	return nil
}

// ---------------------------------------------------------------- steal

// spin is the steal task's CPU-bound body: a latency-bound 64-bit LCG chain
// (each step depends on the previous one, so it cannot be vectorised or
// overlapped).  The same function is what calibrate times.
//
//go:noinline
func spin(seed uint64, loops int64) uint64 {
	x := seed
	for i := int64(0); i < loops; i++ {
		x = x*6364136223846793005 + 1442695040888963407
	}
	return x
}

func benchSteal(loops int64) error {
	results := make([]uint64, stealTasks)
	var wg sync.WaitGroup
	start := time.Now()
	wg.Add(stealTasks)
	for i := 0; i < stealTasks; i++ {
		go func(i int) {
			results[i] = spin(uint64(i)+1, loops) | 1
			wg.Done()
		}(i)
	}
	wg.Wait()
	el := time.Since(start)
	for i, v := range results {
		if v == 0 {
			return fmt.Errorf("steal: task %d never ran", i)
		}
	}
	result("steal", "total_ms", fmtFloat(float64(el.Nanoseconds())/1e6, 3), "ms")
	return nil
}

func calibrate() int64 {
	spin(1, calibLoops) // warm up
	ns := make([]float64, calibRuns)
	for i := range ns {
		t := time.Now()
		spin(uint64(i)+1, calibLoops)
		ns[i] = float64(time.Since(t).Nanoseconds())
	}
	sort.Float64s(ns)
	perLoop := ns[calibRuns/2] / calibLoops
	loops := int64(calibTargetNs/perLoop + 0.5)
	if loops < 1 {
		loops = 1
	}
	return loops
}

// ---------------------------------------------------------------- pingpong

// Two goroutines bounce an int over two unbuffered channels: ping sends on
// a and waits on b, pong echoes a's value back incremented on b.
func benchPingpong() error {
	a, b := make(chan int64), make(chan int64)
	var wg sync.WaitGroup
	var last int64
	start := time.Now()
	wg.Add(2)
	go func() {
		v := int64(0)
		for i := 0; i < pingpongRounds; i++ {
			a <- v
			v = <-b
		}
		last = v
		wg.Done()
	}()
	go func() {
		for i := 0; i < pingpongRounds; i++ {
			v := <-a
			b <- v + 1
		}
		wg.Done()
	}()
	wg.Wait()
	el := time.Since(start)
	if last != int64(pingpongRounds) {
		return fmt.Errorf("pingpong: got %d, want %d", last, pingpongRounds)
	}
	result("pingpong", "ns_per_roundtrip", fmtFloat(float64(el.Nanoseconds())/float64(pingpongRounds), 2), "ns")
	return nil
}

// ---------------------------------------------------------------- chanmpmc

// mpmcProducers producers send the ints 0 .. mpmcItems-1 (producer p the
// p-th contiguous share) on one channel of capacity mpmcCap; mpmcConsumers
// consumers receive until it is closed and add up what they got.
func benchChanMPMC() error {
	c := make(chan int64, mpmcCap)
	var prod, cons sync.WaitGroup
	var sum, count int64
	start := time.Now()
	cons.Add(mpmcConsumers)
	for i := 0; i < mpmcConsumers; i++ {
		go func() {
			var s, n int64
			for v := range c {
				s += v
				n++
			}
			atomic.AddInt64(&sum, s)
			atomic.AddInt64(&count, n)
			cons.Done()
		}()
	}
	prod.Add(mpmcProducers)
	for i := 0; i < mpmcProducers; i++ {
		from, to := int64(mpmcItems)*int64(i)/mpmcProducers, int64(mpmcItems)*int64(i+1)/mpmcProducers
		go func() {
			for v := from; v < to; v++ {
				c <- v
			}
			prod.Done()
		}()
	}
	prod.Wait()
	close(c)
	cons.Wait()
	el := time.Since(start)
	want := int64(mpmcItems) * int64(mpmcItems-1) / 2
	if sum != want || count != int64(mpmcItems) {
		return fmt.Errorf("chanmpmc: %d items summing to %d, want %d summing to %d",
			count, sum, mpmcItems, want)
	}
	result("chanmpmc", "ns_per_item", fmtFloat(float64(el.Nanoseconds())/float64(mpmcItems), 2), "ns")
	return nil
}

// ---------------------------------------------------------------- fib

// fib(n): for n >= 2, spawn a goroutine for fib(n-1) that sends its result
// on a 1-slot channel, compute fib(n-2) here, then receive.
func fib(n int) int64 {
	if n < 2 {
		return int64(n)
	}
	c := make(chan int64, 1)
	go func() { c <- fib(n - 1) }()
	y := fib(n - 2)
	return <-c + y
}

func benchFib() error {
	start := time.Now()
	v := fib(fibN)
	el := time.Since(start)
	if v != fibWant {
		return fmt.Errorf("fib: fib(%d) = %d, want %d", fibN, v, fibWant)
	}
	result("fib", "total_ms", fmtFloat(float64(el.Nanoseconds())/1e6, 3), "ms")
	return nil
}

// ---------------------------------------------------------------- skynet

// skynet: node (num, size) is a leaf returning num when size == 1, else it
// spawns skynetDiv children (num + i*size/div, size/div) that send their
// sums on its own unbuffered channel, and sends the total on its parent's.
func skynet(up chan<- int64, num, size int64) {
	if size == 1 {
		up <- num
		return
	}
	c := make(chan int64)
	sub := size / skynetDiv
	for i := int64(0); i < skynetDiv; i++ {
		go skynet(c, num+i*sub, sub)
	}
	var sum int64
	for i := 0; i < skynetDiv; i++ {
		sum += <-c
	}
	up <- sum
}

func benchSkynet() error {
	c := make(chan int64)
	start := time.Now()
	go skynet(c, 0, skynetLeaves)
	sum := <-c
	el := time.Since(start)
	rss := peakRSSKiB()
	if sum != skynetWant {
		return fmt.Errorf("skynet: sum %d, want %d", sum, int64(skynetWant))
	}
	result("skynet", "total_ms", fmtFloat(float64(el.Nanoseconds())/1e6, 3), "ms")
	result("skynet", "peak_rss_kib", strconv.FormatInt(rss, 10), "KiB")
	return nil
}

// ---------------------------------------------------------------- select

// Two producers each send selectOps/2 ints (1 .. selectOps/2) on their own
// unbuffered channel; one goroutine (main) selects selectOps times over the
// two receives.
func benchSelect() error {
	c1, c2 := make(chan int64), make(chan int64)
	producer := func(c chan<- int64) {
		for v := int64(1); v <= int64(selectOps/2); v++ {
			c <- v
		}
	}
	var sum int64
	var n [2]int64
	start := time.Now()
	go producer(c1)
	go producer(c2)
	for i := 0; i < selectOps; i++ {
		select {
		case v := <-c1:
			n[0]++
			sum += v
		case v := <-c2:
			n[1]++
			sum += v
		}
	}
	el := time.Since(start)
	half := int64(selectOps / 2)
	want := half * (half + 1)
	if n[0] != half || n[1] != half || sum != want {
		return fmt.Errorf("select: %d + %d values summing to %d, want %d + %d summing to %d",
			n[0], n[1], sum, half, half, want)
	}
	result("select", "ns_per_select", fmtFloat(float64(el.Nanoseconds())/float64(selectOps), 2), "ns")
	return nil
}

// ---------------------------------------------------------------- parked, parked_1m

// count goroutines each signal the wait group `parked` and block receiving
// on one channel.  park_ms: from the first spawn until `parked` reaches
// zero; then a settle of parkedSettle before RSS is read
// (rss_per_coroutine: the rise in peak RSS since before the first spawn,
// over count).  exit_ms: from closing the channel until all have returned.
func benchParked(name string, count int) error {
	c := make(chan struct{})
	var parked, exited sync.WaitGroup
	rss0 := peakRSSKiB()
	start := time.Now()
	parked.Add(count)
	exited.Add(count)
	for i := 0; i < count; i++ {
		go func() {
			parked.Done()
			<-c
			exited.Done()
		}()
	}
	parked.Wait()
	park := time.Since(start)
	time.Sleep(parkedSettle)
	rss1 := peakRSSKiB()
	live := runtime.NumGoroutine()
	// the goroutine profile at debug=1 (grouped by stack), to io.Discard
	td := time.Now()
	if err := pprof.Lookup("goroutine").WriteTo(io.Discard, 1); err != nil {
		return err
	}
	dump := time.Since(td)
	t1 := time.Now()
	close(c)
	exited.Wait()
	el := time.Since(t1)
	if live < count {
		return fmt.Errorf("%s: only %d of %d goroutines alive while parked", name, live, count)
	}
	result(name, "rss_per_coroutine", fmtFloat(float64(rss1-rss0)*1024/float64(count), 1), "B")
	result(name, "park_ms", fmtFloat(float64(park.Nanoseconds())/1e6, 3), "ms")
	result(name, "exit_ms", fmtFloat(float64(el.Nanoseconds())/1e6, 3), "ms")
	result(name, "grouped_dump_ms", fmtFloat(float64(dump.Nanoseconds())/1e6, 3), "ms")
	return nil
}

// ---------------------------------------------------------------- timers

// timerCount goroutines each sleep a duration of 1 .. 100 ms drawn in
// advance from the LCG x = x*6364136223846793005 + 1442695040888963407
// (seed timerSeed): d = 1 + (x >> 33) % 100 ms.  Each measures its own
// lateness (actual sleep - requested); total_ms runs from the first spawn
// until the last goroutine is done.
func benchTimers() error {
	ms := make([]int, timerCount)
	x := uint64(timerSeed)
	for i := range ms {
		x = x*6364136223846793005 + 1442695040888963407
		ms[i] = 1 + int((x>>33)%100)
	}
	var wg sync.WaitGroup
	var late int64
	start := time.Now()
	wg.Add(timerCount)
	for i := 0; i < timerCount; i++ {
		go func(d time.Duration) {
			t0 := time.Now()
			time.Sleep(d)
			atomic.AddInt64(&late, int64(time.Since(t0)-d))
			wg.Done()
		}(time.Duration(ms[i]) * time.Millisecond)
	}
	wg.Wait()
	el := time.Since(start)
	if late < 0 {
		return fmt.Errorf("timers: total lateness %d ns < 0: woke early", late)
	}
	result("timers", "total_ms", fmtFloat(float64(el.Nanoseconds())/1e6, 3), "ms")
	result("timers", "mean_lateness_us", fmtFloat(float64(late)/float64(timerCount)/1e3, 3), "us")
	return nil
}

// ---------------------------------------------------------------- mutex

// mutexWorkers goroutines each lock one sync.Mutex, increment a shared
// count and unlock, mutexOps times; main waits and checks the count.
func benchMutex() error {
	var mu sync.Mutex
	var count int64
	var wg sync.WaitGroup
	start := time.Now()
	wg.Add(mutexWorkers)
	for i := 0; i < mutexWorkers; i++ {
		go func() {
			for j := 0; j < mutexOps; j++ {
				mu.Lock()
				count++
				mu.Unlock()
			}
			wg.Done()
		}()
	}
	wg.Wait()
	el := time.Since(start)
	want := int64(mutexWorkers * mutexOps)
	if count != want {
		return fmt.Errorf("mutex: count %d, want %d", count, want)
	}
	result("mutex", "ns_per_lock", fmtFloat(float64(el.Nanoseconds())/float64(want), 2), "ns")
	return nil
}

// ---------------------------------------------------------------- ctxcancel

// A root context with cancel, ctxChildren children with cancel under it,
// ctxGrandkids grandchildren with cancel under each child; for each
// grandchild a goroutine takes its Done channel, signals `ready` and blocks
// receiving on it.  setup_ms: from making the root until `ready` reaches
// zero; cancel_ms: from cancelling the root until every waiter has returned
// (`exited`).  Each waiter checks that its context ended with Canceled; the
// cancel functions are all called at the end.
func benchCtxCancel() error {
	waiters := ctxChildren * ctxGrandkids
	cancels := make([]context.CancelFunc, 0, waiters+ctxChildren+1)
	var ready, exited sync.WaitGroup
	var canceled int64
	start := time.Now()
	root, cancelRoot := context.WithCancel(context.Background())
	ready.Add(waiters)
	exited.Add(waiters)
	for i := 0; i < ctxChildren; i++ {
		kid, cancelKid := context.WithCancel(root)
		cancels = append(cancels, cancelKid)
		for j := 0; j < ctxGrandkids; j++ {
			g, cancelG := context.WithCancel(kid)
			cancels = append(cancels, cancelG)
			go func(ctx context.Context) {
				done := ctx.Done()
				ready.Done()
				<-done
				if ctx.Err() == context.Canceled {
					atomic.AddInt64(&canceled, 1)
				}
				exited.Done()
			}(g)
		}
	}
	ready.Wait()
	setup := time.Since(start)
	early := atomic.LoadInt64(&canceled)
	t1 := time.Now()
	cancelRoot()
	exited.Wait()
	el := time.Since(t1)
	for _, c := range cancels {
		c()
	}
	if n := atomic.LoadInt64(&canceled); early != 0 || n != int64(waiters) {
		return fmt.Errorf("ctxcancel: %d waiters returned before the cancel, %d of %d saw Canceled",
			early, n, waiters)
	}
	result("ctxcancel", "setup_ms", fmtFloat(float64(setup.Nanoseconds())/1e6, 3), "ms")
	result("ctxcancel", "cancel_ms", fmtFloat(float64(el.Nanoseconds())/1e6, 3), "ms")
	return nil
}

// ---------------------------------------------------------------- rwmutex

// Read-mostly: rwWorkers goroutines each do rwOps operations on one
// sync.RWMutex; operation i of each is a write when i%rwWriteEvery ==
// rwWriteEvery-1 (lock, increment a then b, unlock), else a read (RLock,
// read a and b, RUnlock).  A read that sees a != b fails the run.
func benchRWMutex() error {
	var rw sync.RWMutex
	var a, b int64 // guarded by rw
	var torn, sink int64
	var wg sync.WaitGroup
	start := time.Now()
	wg.Add(rwWorkers)
	for i := 0; i < rwWorkers; i++ {
		go func() {
			var t, sum int64
			for j := 0; j < rwOps; j++ {
				if j%rwWriteEvery == rwWriteEvery-1 {
					rw.Lock()
					a++
					b++
					rw.Unlock()
				} else {
					rw.RLock()
					x, y := a, b
					rw.RUnlock()
					if x != y {
						t++
					}
					sum += x
				}
			}
			atomic.AddInt64(&torn, t)
			atomic.AddInt64(&sink, sum)
			wg.Done()
		}()
	}
	wg.Wait()
	el := time.Since(start)
	writes := int64(rwWorkers * (rwOps / rwWriteEvery))
	if a != writes || b != writes || torn != 0 {
		return fmt.Errorf("rwmutex: a %d, b %d, want %d; %d torn reads", a, b, writes, torn)
	}
	result("rwmutex", "ns_per_op", fmtFloat(float64(el.Nanoseconds())/float64(rwWorkers*rwOps), 2), "ns")
	return nil
}

// ---------------------------------------------------------------- semaphore

// A weighted semaphore of size semSize (semaphore.go: x/sync's algorithm);
// semWorkers goroutines each do, semOps times: Acquire(1), yield while
// holding the unit (runtime.Gosched), Release(1).  The holders count
// themselves and the run fails if more than semSize ever hold at once.
func benchSemaphore() error {
	s := newWeighted(semSize)
	ctx := context.Background()
	var held, over, failed int64
	var wg sync.WaitGroup
	start := time.Now()
	wg.Add(semWorkers)
	for i := 0; i < semWorkers; i++ {
		go func() {
			for j := 0; j < semOps; j++ {
				if s.Acquire(ctx, 1) != nil {
					atomic.AddInt64(&failed, 1)
					continue
				}
				if atomic.AddInt64(&held, 1) > semSize {
					atomic.AddInt64(&over, 1)
				}
				runtime.Gosched()
				atomic.AddInt64(&held, -1)
				s.Release(1)
			}
			wg.Done()
		}()
	}
	wg.Wait()
	el := time.Since(start)
	if over != 0 || failed != 0 {
		return fmt.Errorf("semaphore: %d acquires over the size %d, %d failed", over, semSize, failed)
	}
	if !s.TryAcquire(semSize) {
		return fmt.Errorf("semaphore: units missing after every release")
	}
	s.Release(semSize)
	result("semaphore", "ns_per_op", fmtFloat(float64(el.Nanoseconds())/float64(semWorkers*semOps), 2), "ns")
	return nil
}

// ---------------------------------------------------------------- echo

// A TCP echo server on 127.0.0.1 (one goroutine per connection) and
// echoConns client goroutines in the same process, each doing echoRounds
// round trips of echoMsg bytes.  requests_per_s: round trips over the
// wall time from the first dial to the last client's end.
const (
	echoConns = 100
	echoMsg   = 64
)

func benchEcho() error {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	defer lis.Close()
	go func() {
		for {
			c, err := lis.Accept()
			if err != nil {
				return
			}
			go func() {
				buf := make([]byte, 4096)
				for {
					n, err := c.Read(buf)
					if err != nil {
						break
					}
					if _, err := c.Write(buf[:n]); err != nil {
						break
					}
				}
				c.Close()
			}()
		}
	}()
	addr := lis.Addr().String()
	var wg sync.WaitGroup
	var failed int64
	start := time.Now()
	wg.Add(echoConns)
	for i := 0; i < echoConns; i++ {
		go func() {
			defer wg.Done()
			c, err := net.Dial("tcp", addr)
			if err != nil {
				atomic.AddInt64(&failed, 1)
				return
			}
			defer c.Close()
			msg := make([]byte, echoMsg)
			back := make([]byte, echoMsg)
			for j := 0; j < echoRounds; j++ {
				if _, err := c.Write(msg); err != nil {
					atomic.AddInt64(&failed, 1)
					return
				}
				if _, err := io.ReadFull(c, back); err != nil {
					atomic.AddInt64(&failed, 1)
					return
				}
			}
		}()
	}
	wg.Wait()
	el := time.Since(start)
	if failed != 0 {
		return fmt.Errorf("echo: %d clients failed", failed)
	}
	result("echo", "requests_per_s", fmtFloat(float64(echoConns*echoRounds)/el.Seconds(), 0), "req/s")
	return nil
}

// ---------------------------------------------------------------- hog

// hogPairs ping-pong pairs run; their round trips are counted over a hogMs
// window, then over a second window while one more goroutine spins for
// hogMs without a function call (Go preempts it asynchronously).
// kept_fraction: the second count over the first.
const hogPairs = 500

func benchHog() error {
	var rounds, stop int64
	var wg sync.WaitGroup
	wg.Add(2 * hogPairs)
	for i := 0; i < hogPairs; i++ {
		a, b := make(chan int), make(chan int)
		go func() {
			for atomic.LoadInt64(&stop) == 0 {
				a <- 0
				<-b
				atomic.AddInt64(&rounds, 1)
			}
			close(a)
			wg.Done()
		}()
		go func() {
			for v := range a {
				b <- v
			}
			wg.Done()
		}()
	}
	time.Sleep(50 * time.Millisecond)
	r0 := atomic.LoadInt64(&rounds)
	time.Sleep(time.Duration(hogMs) * time.Millisecond)
	r1 := atomic.LoadInt64(&rounds)
	go func() {
		end := time.Now().Add(time.Duration(hogMs) * time.Millisecond)
		for time.Now().Before(end) {
		}
	}()
	time.Sleep(time.Duration(hogMs) * time.Millisecond)
	r2 := atomic.LoadInt64(&rounds)
	atomic.StoreInt64(&stop, 1)
	wg.Wait()
	if r1 == r0 {
		return fmt.Errorf("hog: no round trips without the hog")
	}
	result("hog", "kept_fraction", fmtFloat(float64(r2-r1)/float64(r1-r0), 3), "x")
	return nil
}

// ---------------------------------------------------------------- idle

func benchIdle() error {
	c0, t0 := cpuTime(), time.Now()
	time.Sleep(idleSleep)
	c1, el := cpuTime(), time.Since(t0)
	result("idle", "cpu_percent", fmtFloat(100*float64(c1-c0)/float64(el), 3), "%")
	return nil
}

// ---------------------------------------------------------------- main

func usage() {
	fmt.Fprintln(os.Stderr, "usage: go_bench <workload> <procs> [loops]\n"+
		"       go_bench calibrate\n"+
		"workloads: spawn yield yield-fp steal idle protect panic-recover\n"+
		"           pingpong chanmpmc fib skynet select parked parked_1m timers\n"+
		"           mutex ctxcancel rwmutex semaphore echo hog\n"+
		"environment: GORT_BENCH_SCALE=<d> divides the sizes by d (default 1)")
	os.Exit(2)
}

func main() {
	if len(os.Args) == 2 && os.Args[1] == "calibrate" {
		fmt.Printf("LOOPS=%d\n", calibrate())
		return
	}
	if len(os.Args) < 3 || len(os.Args) > 4 {
		usage()
	}
	var err error
	procs, err = strconv.Atoi(os.Args[2])
	if err != nil || procs < 1 || procs > 1024 {
		fmt.Fprintf(os.Stderr, "go_bench: bad procs %q\n", os.Args[2])
		os.Exit(2)
	}
	loops := int64(0)
	if len(os.Args) == 4 {
		loops, err = strconv.ParseInt(os.Args[3], 10, 64)
		if err != nil || loops < 1 {
			fmt.Fprintf(os.Stderr, "go_bench: bad loops %q\n", os.Args[3])
			os.Exit(2)
		}
	}
	scale := int64(1)
	if s := os.Getenv("GORT_BENCH_SCALE"); s != "" {
		scale, err = strconv.ParseInt(s, 10, 64)
		if err != nil || scale < 1 || scale > 1000000000 {
			fmt.Fprintf(os.Stderr, "go_bench: bad GORT_BENCH_SCALE %q\n", s)
			os.Exit(2)
		}
	}
	setSizes(scale)
	if scale > 1 {
		fmt.Fprintf(os.Stderr, "go_bench: GORT_BENCH_SCALE=%d: sizes divided by %d (a smoke run, "+
			"not comparable with full figures)\n", scale, scale)
	}
	runtime.GOMAXPROCS(procs)

	switch os.Args[1] {
	case "spawn":
		err = benchSpawn()
	case "yield":
		err = benchYield("yield", false)
	case "yield-fp":
		err = benchYield("yield-fp", true)
	case "steal":
		if loops == 0 {
			loops = calibrate()
		}
		err = benchSteal(loops)
	case "idle":
		err = benchIdle()
	case "protect":
		err = benchProtect()
	case "panic-recover":
		err = benchPanicRecover()
	case "pingpong":
		err = benchPingpong()
	case "chanmpmc":
		err = benchChanMPMC()
	case "fib":
		err = benchFib()
	case "skynet":
		err = benchSkynet()
	case "select":
		err = benchSelect()
	case "parked":
		err = benchParked("parked", parkedCount)
	case "parked_1m":
		err = benchParked("parked_1m", parked1MCount)
	case "timers":
		err = benchTimers()
	case "mutex":
		err = benchMutex()
	case "ctxcancel":
		err = benchCtxCancel()
	case "rwmutex":
		err = benchRWMutex()
	case "semaphore":
		err = benchSemaphore()
	case "echo":
		err = benchEcho()
	case "hog":
		err = benchHog()
	default:
		fmt.Fprintf(os.Stderr, "go_bench: unknown workload %q\n", os.Args[1])
		usage()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "go_bench:", err)
		os.Exit(1)
	}
}
