package core

import (
	"errors"
	"fmt"
	"sync"

	"github.com/nlpodyssey/spago/ag"
	"github.com/nlpodyssey/spago/mat"
	"github.com/nlpodyssey/spago/nn"
)

// Collective joins the replicas of a data-parallel training run: one per
// Web Worker in the browser, or goroutines in tests. Every replica makes the
// same calls in the same order with buffers of the same length.
type Collective interface {
	// Rank is this replica's index, in [0, Size()).
	Rank() int
	// Size is the number of replicas.
	Size() int
	// AllReduce replaces buf, in every replica, by the element-wise sum of
	// all the replicas' bufs, added in rank order so that every replica
	// gets the same bits.
	AllReduce(buf []float32) error
	// AllReduce64 is AllReduce for float64 values.
	AllReduce64(buf []float64) error
}

// How data-parallel training works (Trainer.Replica):
//
// Every replica holds the same parameters and builds the same batch from
// the same seed. In a step, each trunk call (Trunk.Maps) runs only on the
// replica's own slice of the images; batch-norm layers add their
// per-channel sums across replicas, so they normalise with the statistics
// of the whole batch (synchronised batch-norm), and the replicas' output
// maps are gathered into the whole batch's. Everything after the trunk (the
// head and its loss, which may couple examples, as NT-Xent does) then runs
// on the whole batch in every replica alike, so loss, accuracy and head
// gradients need no exchange. The gradient of the gathered maps is sliced
// back to each replica's images and propagated through its trunk slice after
// the head's backward pass, in the order of the trunk calls; the trunk's
// parameter gradients are then summed across replicas, and every replica
// applies the same update. Up to the order of floating-point sums, a step of
// N replicas is the step one trainer takes on the whole batch.

// replicaStep is a trunk's data-parallel state during one training step.
type replicaStep struct {
	comm  Collective
	calls []*replicaCall
	// err is the first collective failure inside a backward pass, where
	// spago leaves no way to return it.
	err error
}

// replicaCall is one trunk call of the step.
type replicaCall struct {
	local    mat.Tensor // this replica's output: maps, or pooled features
	lo, hi   int        // its images
	out      Shape      // the whole batch's output geometry (of the maps)
	pooled   bool       // the output is pooled: [N, C], one row per image
	backprop bool       // whether this replica propagates the call's gradient
	grad     []float32  // the gathered output's gradient, set by the head's backward pass
}

// place copies n images' output from src (starting at image si, in a
// batch of sn images) into dst (at image di, in a batch of dn).
func (c *replicaCall) place(dst []float32, dn, di int, src []float32, sn, si, n int) {
	if c.pooled {
		f := c.out.C
		copy(dst[di*f:(di+n)*f], src[si*f:(si+n)*f])
		return
	}
	ds, ss := c.out, c.out
	ds.N, ss.N = dn, sn
	copyImages(dst, ds, di, src, ss, si, n)
}

func (r *replicaStep) fail(err error) {
	if r.err == nil {
		r.err = err
	}
}

// shard returns replica rank's images of n: contiguous and balanced.
func shard(n, rank, size int) (lo, hi int) { return rank * n / size, (rank + 1) * n / size }

// run is Trunk.Maps (or, with pool, Trunk.Forward) on this replica's
// share of the batch; out is the whole batch's output geometry.
func (r *replicaStep) run(t *Trunk, x mat.Tensor, in Shape, out Shape, train, pool bool) (mat.Tensor, error) {
	if x.RequiresGrad() {
		return nil, errors.New("core: a data-parallel trunk's input must be data, not a node that needs gradients")
	}
	rank, size := r.comm.Rank(), r.comm.Size()
	call := &replicaCall{out: out, pooled: pool}
	local := func(x mat.Tensor, in Shape, sync *replicaStep) (mat.Tensor, error) {
		y, s, err := t.layers(x, in, train, sync)
		if err != nil || !pool {
			return y, err
		}
		return globalAvgPool(y, s, t.arena)
	}
	var gathered *mat.Dense[float32]
	if pool {
		gathered = newMatrix(out.N, out.C)
	} else {
		gathered = t.arena.matrix(out.C, out.Cols(), true)
	}
	if in.N < size {
		// Too few images to share: every replica runs the whole call alike,
		// and only rank 0 propagates its gradient, so that the sum of the
		// replicas' trunk gradients counts it once.
		y, err := local(x, in, nil)
		if err != nil {
			return nil, err
		}
		copy(data(gathered), data(y))
		call.local, call.lo, call.hi, call.backprop = y, 0, in.N, rank == 0
	} else {
		lo, hi := shard(in.N, rank, size)
		part := in
		part.N = hi - lo
		xs := t.arena.matrix(in.C, part.Cols(), false)
		copyImages(data(xs), part, 0, data(x), in, lo, hi-lo)
		y, err := local(xs, part, r)
		if err != nil {
			return nil, err
		}
		call.place(data(gathered), in.N, lo, data(y), hi-lo, 0, hi-lo)
		if err := r.comm.AllReduce(data(gathered)); err != nil {
			return nil, fmt.Errorf("core: gathering the trunk's output: %w", err)
		}
		call.local, call.lo, call.hi, call.backprop = y, lo, hi, true
	}
	r.calls = append(r.calls, call)
	return ag.NewOperator(&gatherFn{call: call, value: gathered, anchor: gatherAnchor()}).Run(), nil
}

// copyImages copies n images' columns from src (geometry ss, starting at
// image si) to dst (geometry ds, at image di); the geometries differ only in
// N. The images of a [C, N*H*W] matrix are column blocks of each row.
func copyImages(dst []float32, ds Shape, di int, src []float32, ss Shape, si, n int) {
	hw := ss.H * ss.W
	for c := range ss.C {
		copy(dst[c*ds.Cols()+di*hw:][:n*hw], src[c*ss.Cols()+si*hw:][:n*hw])
	}
}

// backward propagates every trunk call's gradient through this replica's
// slice of it, in call order, then sums the trunk's parameter gradients
// across replicas.
func (r *replicaStep) backward(t *Trunk, sum *[]float32) error {
	for _, call := range r.calls {
		if !call.backprop || call.grad == nil || !call.local.RequiresGrad() {
			continue
		}
		shape := call.local.Shape()
		g := newMatrix(shape[0], shape[1])
		n := call.hi - call.lo
		call.place(data(g), n, 0, call.grad, call.out.N, call.lo, n)
		call.local.AccGrad(handoff{g})
		if err := ag.Backward(call.local); err != nil {
			return fmt.Errorf("core: backward through the trunk: %w", err)
		}
		if r.err != nil {
			return r.err
		}
	}
	// One buffer holds every trunk gradient, in parameter order.
	var params []*nn.Param
	n := 0
	nn.ForEachParam(t, func(p *nn.Param) {
		if p.RequiresGrad() {
			params = append(params, p)
			n += p.Value().Size()
		}
	})
	if cap(*sum) < n {
		*sum = make([]float32, n)
	}
	buf := (*sum)[:n]
	off := 0
	for _, p := range params {
		k := p.Value().Size()
		if p.HasGrad() {
			g := p.Grad()
			copy(buf[off:off+k], data(g))
		} else {
			clear(buf[off : off+k])
		}
		off += k
	}
	if err := r.comm.AllReduce(buf); err != nil {
		return fmt.Errorf("core: summing gradients across replicas: %w", err)
	}
	off = 0
	for _, p := range params {
		k := p.Value().Size()
		if p.HasGrad() {
			g := p.Grad()
			copy(data(g), buf[off:off+k])
		} else {
			p.AccGrad(handoff{fromData(p.Value().Shape()[0], k/p.Value().Shape()[0], append([]float32(nil), buf[off:off+k]...))})
		}
		off += k
	}
	return nil
}

// gatherFn is the node of the gathered trunk maps. Its only operand is a
// constant that requires gradients, so that the head's backward pass reaches
// it and stops there: the gradient is kept for replicaStep.backward, which
// propagates it through the trunk in a fixed order (the synchronised
// batch-norm layers of every replica must meet in the same order, which
// spago's concurrent backward pass does not promise).
type gatherFn struct {
	call   *replicaCall
	value  *mat.Dense[float32]
	anchor mat.Tensor
}

func gatherAnchor() mat.Tensor {
	return mat.NewDense[float32](mat.WithShape(1, 1), mat.WithGrad(true))
}

func (f *gatherFn) Operands() []mat.Tensor       { return []mat.Tensor{f.anchor} }
func (f *gatherFn) Forward() (mat.Tensor, error) { return f.value, nil }
func (f *gatherFn) Backward(gy mat.Tensor) error {
	d := data(gy)
	if f.call.grad == nil {
		f.call.grad = append([]float32(nil), d...)
		return nil
	}
	for i, v := range d {
		f.call.grad[i] += v
	}
	return nil
}

// AgreeOn returns an error in every replica of c unless all of them pass
// the same fingerprint (of what they are about to train on: photos,
// settings, parameters). Replicas that differ would otherwise train on
// without noticing, each on its own batches.
func AgreeOn(c Collective, what string, fingerprint uint64) error {
	n, rank := c.Size(), c.Rank()
	// Four 16-bit pieces per replica, each exact in float32; the others'
	// slots are zero, so the sum is everyone's fingerprint.
	buf := make([]float32, 4*n)
	for i := range 4 {
		buf[4*rank+i] = float32(fingerprint >> (16 * i) & 0xffff)
	}
	if err := c.AllReduce(buf); err != nil {
		return err
	}
	for r := range n {
		for i := range 4 {
			if buf[4*r+i] != buf[4*rank+i] {
				return fmt.Errorf("core: the replicas hold different %s (replica %d's differ from replica %d's)", what, r, rank)
			}
		}
	}
	return nil
}

// LocalGroup returns n Collectives joined in memory, one per goroutine: the
// data-parallel replicas of a test, or of a native run.
func LocalGroup(n int) []Collective {
	g := &localGroup{n: n, f32: make([][]float32, n), f64: make([][]float64, n)}
	g.cond = sync.NewCond(&g.mu)
	out := make([]Collective, n)
	for i := range out {
		out[i] = &localMember{g: g, rank: i}
	}
	return out
}

type localGroup struct {
	n            int
	mu           sync.Mutex
	cond         *sync.Cond
	arrived, gen int
	f32          [][]float32
	f64          [][]float64
}

// barrier returns when all n members have called it.
func (g *localGroup) barrier() {
	g.mu.Lock()
	defer g.mu.Unlock()
	gen := g.gen
	if g.arrived++; g.arrived == g.n {
		g.arrived = 0
		g.gen++
		g.cond.Broadcast()
		return
	}
	for gen == g.gen {
		g.cond.Wait()
	}
}

type localMember struct {
	g    *localGroup
	rank int
}

func (m *localMember) Rank() int { return m.rank }
func (m *localMember) Size() int { return m.g.n }

func (m *localMember) AllReduce(buf []float32) error {
	return allReduceLocal(m.g, m.rank, buf, m.g.f32)
}

func (m *localMember) AllReduce64(buf []float64) error {
	return allReduceLocal(m.g, m.rank, buf, m.g.f64)
}

// allReduceLocal publishes buf, waits for every member, sums the published
// buffers in rank order, waits again (so no member overwrites its buffer
// while another still reads it) and writes the sum into buf.
func allReduceLocal[T float32 | float64](g *localGroup, rank int, buf []T, slots [][]T) error {
	slots[rank] = buf
	g.barrier()
	var err error
	sum := make([]T, len(buf))
	for r, s := range slots {
		if len(s) != len(buf) {
			err = fmt.Errorf("core: replica %d reduces %d values, replica %d %d: the replicas are out of step", rank, len(buf), r, len(s))
			continue
		}
		for i, v := range s {
			sum[i] += v
		}
	}
	g.barrier()
	if err != nil {
		return err
	}
	copy(buf, sum)
	return nil
}
