// go_bench: the Go peers of gort's benchmark workloads (bench/gort_bench.c).
//
// Usage:
//
//	go_bench <workload> <procs> [loops]
//	go_bench calibrate
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
	"fmt"
	"os"
	"runtime"
	"sort"
	"strconv"
	"sync"
	"syscall"
	"time"
)

const (
	spawnCount  = 1000000 // spawn: coroutines spawned
	yieldRounds = 5000000 // yield, yield-fp: yields per coroutine
	stealTasks  = 20000   // steal: CPU-bound tasks
	idleSleep   = 2 * time.Second
	protectOps  = 10000000 // protect: calls of a function with a defer
	panicOps    = 200000   // panic-recover: panics recovered
	// calibration: the spin loop is timed over calibLoops iterations,
	// calibRuns times, and the median is scaled to calibTargetNs.
	calibLoops    = 1000000
	calibRuns     = 9
	calibTargetNs = 50000
)

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
	result("spawn", "ns_per_coroutine", fmtFloat(float64(el.Nanoseconds())/spawnCount, 2), "ns")
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
	result(name, "ns_per_yield", fmtFloat(float64(el.Nanoseconds())/(2*yieldRounds), 2), "ns")
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
	if deferSink != protectOps {
		return fmt.Errorf("protect: %d of %d deferred calls ran", deferSink, protectOps)
	}
	result("protect", "ns_per_op", fmtFloat(float64(el.Nanoseconds())/protectOps, 2), "ns")
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
	result("panic-recover", "ns_per_op", fmtFloat(float64(el.Nanoseconds())/panicOps, 2), "ns")
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
		"workloads: spawn yield yield-fp steal idle protect panic-recover")
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
	default:
		fmt.Fprintf(os.Stderr, "go_bench: unknown workload %q\n", os.Args[1])
		usage()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "go_bench:", err)
		os.Exit(1)
	}
}
