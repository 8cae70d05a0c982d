// Go peer benchmark (Go 1.19 runtime, default GOGC and GOMAXPROCS).
//
// Figures (median of reps runs after a warm-up):
//
//	alloc_<N> go              ns per new N-byte pointer-free object
//	                          (N = 8 to 65536; see benchAlloc)
//	finalizer_register_1m go  ns per runtime.SetFinalizer, 1M live objects
//	gc_live_list_1m go        ms per runtime.GC(), 1M-node live list
//	gc_live_fin_1m go         same, every node has a finalizer
//	gc_live_{list,fin}_{100k,4m} go  the same with 100k and 4M nodes, and
//	                          gc_live_*_per_object: ns per node, every size
//	gc_pause_live_1m go       us of stop-the-world pause per runtime.GC()
//	                          of the live list (its mark is concurrent)
//	gc_dead_fin_1m go         ms for runtime.GC() plus running all 1M
//	                          finalizers of dead objects
//	gc_live_tree_1m go        ms per runtime.GC(), 1M live nodes in a wide
//	                          tree (1024 binary subtrees); only with the
//	                          argument "tree" (run-peers.sh sets GOMAXPROCS=2)
//
// The live lists' lines (gc_live_*, gc_pause_live_1m) come only with the
// argument "lists", in a fresh process as spanheap's lists are.
//
// Build: go build -o go_bench go_bench.go
package main

import (
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"sort"
	"sync/atomic"
	"time"
	"unsafe"
)

const (
	reps = 5
	nobj = 1000000
)

type obj32 [4]uintptr // 32 bytes, no pointers (noscan span class)

type node struct { // 32 bytes: one pointer + payload
	next    *node
	payload [3]uintptr
}

var (
	sink     *obj32
	listHead *node // GC root
	finCount int64
	finDone  chan struct{}
	finGoal  int64
)

func median(t []float64) float64 {
	sort.Float64s(t)
	return t[len(t)/2]
}

func report(name string, v float64, unit string) {
	fmt.Printf("BENCH %s go %.2f %s\n", name, v, unit)
}

// Shared finalizer: count, and close finDone when the goal is reached.
func countFin() {
	if atomic.AddInt64(&finCount, 1) == atomic.LoadInt64(&finGoal) {
		close(finDone)
	}
}

func objFin(*obj32) { countFin() }
func nodeFin(*node) { countFin() }

func allocRun(iters int) float64 {
	t0 := time.Now()
	for i := 0; i < iters; i++ {
		p := new(obj32)
		p[0] = uintptr(i) // touch it; the global store makes it escape
		sink = p
	}
	return float64(time.Since(t0).Nanoseconds()) / float64(iters)
}

var sinkBytes unsafe.Pointer

// allocRunN: allocRun for a pointer-free object of T's size ([N]byte).
func allocRunN[T any](iters int) float64 {
	t0 := time.Now()
	for i := 0; i < iters; i++ {
		p := new(T)
		*(*byte)(unsafe.Pointer(p)) = byte(i)
		sinkBytes = unsafe.Pointer(p)
	}
	return float64(time.Since(t0).Nanoseconds()) / float64(iters)
}

func allocMedian(run func(int) float64, iters int) float64 {
	t := make([]float64, reps)
	run(iters / 10) // warm-up
	for r := range t {
		t[r] = run(iters)
	}
	return median(t)
}

// alloc_32: new(obj32), as it always was.
func benchAlloc() {
	report("alloc_32", allocMedian(allocRun, 10000000), "ns/op")
	sink = nil
}

// The other sizes, for the report's cost-by-size plot: new([N]byte),
// loops as boehm_bench.c's; run after the figures of old (main).
func benchAllocSizes() {
	report("alloc_8", allocMedian(allocRunN[[8]byte], 10000000), "ns/op")
	report("alloc_16", allocMedian(allocRunN[[16]byte], 2500000), "ns/op")
	report("alloc_64", allocMedian(allocRunN[[64]byte], 2500000), "ns/op")
	report("alloc_128", allocMedian(allocRunN[[128]byte], 2000000), "ns/op")
	report("alloc_256", allocMedian(allocRunN[[256]byte], 2000000), "ns/op")
	report("alloc_512", allocMedian(allocRunN[[512]byte], 500000), "ns/op")
	report("alloc_1024", allocMedian(allocRunN[[1024]byte], 250000), "ns/op")
	report("alloc_4096", allocMedian(allocRunN[[4096]byte], 200000), "ns/op")
	report("alloc_16384", allocMedian(allocRunN[[16384]byte], 50000), "ns/op")
	report("alloc_65536", allocMedian(allocRunN[[65536]byte], 20000), "ns/op")
	sinkBytes = nil
}

// Fresh 1M live objects each run; only the SetFinalizer loop is timed.
func registerRun() float64 {
	objs := make([]*obj32, nobj)
	for i := range objs {
		objs[i] = new(obj32)
	}
	t0 := time.Now()
	for _, p := range objs {
		runtime.SetFinalizer(p, objFin)
	}
	d := time.Since(t0)
	for _, p := range objs { // clear so dropped objects are not finalized
		runtime.SetFinalizer(p, nil)
	}
	runtime.KeepAlive(objs)
	return float64(d.Nanoseconds()) / nobj
}

func benchRegister() {
	t := make([]float64, reps)
	registerRun() // warm-up
	for r := range t {
		t[r] = registerRun()
	}
	report("finalizer_register_1m", median(t), "ns/op")
	runtime.GC()
}

func gcMs() float64 {
	t0 := time.Now()
	runtime.GC()
	return float64(time.Since(t0).Nanoseconds()) / 1e6
}

// Median GC time; the warm-up GC absorbs any first-cycle effect (e.g. the
// first GC after finalizers were registered), so this is steady state.
func gcMedian() float64 {
	t := make([]float64, reps)
	gcMs()
	for r := range t {
		t[r] = gcMs()
	}
	return median(t)
}

// Median stop-the-world pause of runtime.GC() (both of its pauses, as
// the runtime adds them up per cycle in PauseNs; ReadGCStats' Pause[0]
// is the latest), in us.
func pauseMedian() float64 {
	var s debug.GCStats
	t := make([]float64, reps)
	runtime.GC()
	for r := range t {
		runtime.GC()
		debug.ReadGCStats(&s)
		t[r] = float64(s.Pause[0].Nanoseconds()) / 1e3
	}
	return median(t)
}

// gc_live_list_<tag> and gc_live_fin_<tag> with n nodes, each also per
// node (_per_object, ns); the pause only for 1M.
func benchLive(n int, tag string) {
	// benchDead may have run before: no goal, nothing counted yet.
	atomic.StoreInt64(&finGoal, -1)
	atomic.StoreInt64(&finCount, 0)
	for i := 0; i < n; i++ {
		nd := &node{next: listHead}
		nd.payload[0] = uintptr(i)
		listHead = nd
	}
	runtime.GC()
	ms := gcMedian()
	report("gc_live_list_"+tag, ms, "ms")
	report("gc_live_list_"+tag+"_per_object", ms*1e6/float64(n), "ns")
	if tag == "1m" {
		report("gc_pause_live_1m", pauseMedian(), "us")
	}

	for nd := listHead; nd != nil; nd = nd.next {
		runtime.SetFinalizer(nd, nodeFin)
	}
	ms = gcMedian()
	report("gc_live_fin_"+tag, ms, "ms")
	report("gc_live_fin_"+tag+"_per_object", ms*1e6/float64(n), "ns")

	// Clear before dropping: Go finalizes chains in order, one link per
	// cycle, so a dead finalizable list would take a collection per node.
	for nd := listHead; nd != nil; nd = nd.next {
		runtime.SetFinalizer(nd, nil)
	}
	listHead = nil
	runtime.GC()
	if c := atomic.LoadInt64(&finCount); c != 0 {
		fmt.Fprintf(os.Stderr, "go: live finalizer ran (%d)\n", c)
		os.Exit(1)
	}
}

//go:noinline
func makeDeadFinalizable() {
	objs := make([]*obj32, nobj)
	for i := range objs {
		objs[i] = new(obj32)
		runtime.SetFinalizer(objs[i], objFin)
	}
}

// One run: GC that finds 1M dead finalizable objects, then wait until the
// finalizer goroutine has run all of them.  Returns total and GC-only ms.
func deadRun() (float64, float64) {
	atomic.StoreInt64(&finCount, 0)
	atomic.StoreInt64(&finGoal, nobj)
	finDone = make(chan struct{})
	// Set up with the collector off so that no background cycle is in
	// progress (or left half-swept) when the timed runtime.GC() starts;
	// otherwise runtime.GC() first finishes that cycle and its sweep.
	runtime.GC()
	old := debug.SetGCPercent(-1)
	makeDeadFinalizable()
	debug.SetGCPercent(old)

	t0 := time.Now()
	runtime.GC()
	gc := time.Since(t0)
	select {
	case <-finDone:
	case <-time.After(10 * time.Second):
		fmt.Fprintf(os.Stderr, "go: only %d of %d finalizers ran in 10 s\n",
			atomic.LoadInt64(&finCount), nobj)
		os.Exit(1)
	}
	total := time.Since(t0)
	return float64(total.Nanoseconds()) / 1e6, float64(gc.Nanoseconds()) / 1e6
}

func benchDead() {
	t := make([]float64, reps)
	g := make([]float64, reps)
	deadRun() // warm-up
	for r := range t {
		t[r], g[r] = deadRun()
	}
	report("gc_dead_fin_1m", median(t), "ms")
	fmt.Fprintf(os.Stderr, "go: gc_dead_fin_1m runtime.GC() alone %.2f ms\n",
		median(g))
}

type tnode struct { // 32 bytes: two pointers + payload
	left, right *tnode
	payload     [2]uintptr
}

var treeRoot []*tnode // GC root

func benchTree() {
	const subtrees = 1024
	per := (nobj - 1) / subtrees
	nodes := make([]*tnode, per)
	treeRoot = make([]*tnode, subtrees)
	for t := range treeRoot {
		for i := range nodes {
			nodes[i] = &tnode{}
			nodes[i].payload[0] = uintptr(i)
			if i > 0 {
				p := nodes[(i-1)/2]
				if i&1 == 1 {
					p.left = nodes[i]
				} else {
					p.right = nodes[i]
				}
			}
		}
		treeRoot[t] = nodes[0]
	}
	nodes = nil
	runtime.GC()
	report("gc_live_tree_1m", gcMedian(), "ms")
	treeRoot = nil
}

func main() {
	fmt.Fprintf(os.Stderr, "go: %s GOMAXPROCS=%d\n", runtime.Version(),
		runtime.GOMAXPROCS(0))
	if len(os.Args) > 1 && os.Args[1] == "tree" {
		benchTree()
		return
	}
	if len(os.Args) > 1 && os.Args[1] == "lists" {
		// In a process of its own, as spanheap's are; 4M last.
		benchLive(nobj, "1m")
		benchLive(nobj/10, "100k")
		benchLive(4*nobj, "4m")
		return
	}
	benchAlloc()
	benchRegister()
	benchDead()
	// The figures added for the report, after those that have always been
	// here, so that the heap they leave the runtime does not change those.
	benchAllocSizes()
}
