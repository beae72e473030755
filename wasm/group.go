//go:build js && wasm

package main

import (
	"errors"
	"fmt"
	"runtime"
	"syscall/js"

	"github.com/pretextlab/pretext/core"
	"github.com/pretextlab/pretext/internal/jsmem"
)

// jsGroup is core.Collective over the page's workers. The worker's group
// object (web/group.js) does the exchange: reduce(kind, offset, count)
// reads count values at byte offset offset of this module's memory, adds
// every worker's values in rank order and writes the sums back in place.
// With shared memory (a cross-origin isolated page) it does so at once,
// waiting for the other workers with Atomics; otherwise it posts the
// values to the page and returns a Promise that settles when the sums
// have been written, and the goroutine waits for it while the worker's
// event loop runs.
type jsGroup struct {
	rank, size int
	obj        js.Value
}

// groupArg reads the group object of a train or bench call: nil when the
// call runs alone.
func groupArg(v js.Value) (core.Collective, error) {
	if v.Type() != js.TypeObject {
		return nil, nil
	}
	rank, size := v.Get("rank"), v.Get("size")
	if rank.Type() != js.TypeNumber || size.Type() != js.TypeNumber || v.Get("reduce").Type() != js.TypeFunction {
		return nil, errors.New("the worker group wants {rank, size, reduce}")
	}
	g := &jsGroup{rank: rank.Int(), size: size.Int(), obj: v}
	if g.size < 1 || g.rank < 0 || g.rank >= g.size {
		return nil, fmt.Errorf("worker rank %d of %d", g.rank, g.size)
	}
	if g.size == 1 {
		return nil, nil
	}
	return g, nil
}

func (g *jsGroup) Rank() int { return g.rank }
func (g *jsGroup) Size() int { return g.size }

func (g *jsGroup) AllReduce(buf []float32) error   { return reduceSlice(g, "f32", buf) }
func (g *jsGroup) AllReduce64(buf []float64) error { return reduceSlice(g, "f64", buf) }

// reduceSlice hands buf to the group by its offset in this module's memory.
func reduceSlice[T float32 | float64](g *jsGroup, kind string, buf []T) error {
	if len(buf) == 0 {
		return g.reduce(kind, 0, 0)
	}
	err := g.reduce(kind, jsmem.Offset(buf), len(buf))
	runtime.KeepAlive(buf)
	return err
}

// reduce calls the group object; a thrown Error or a rejected Promise is
// the error.
func (g *jsGroup) reduce(kind string, offset uintptr, n int) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = jsError(r)
		}
	}()
	res := g.obj.Call("reduce", kind, offset, n)
	if res.Type() != js.TypeObject || !res.InstanceOf(promiseCtor) {
		return nil
	}
	done := make(chan error, 1)
	ok := js.FuncOf(func(js.Value, []js.Value) any {
		done <- nil
		return nil
	})
	fail := js.FuncOf(func(_ js.Value, args []js.Value) any {
		done <- jsError(js.Error{Value: arg(args, 0)})
		return nil
	})
	defer ok.Release()
	defer fail.Release()
	res.Call("then", ok, fail)
	return <-done
}

// jsError turns a recovered js.Error (or anything else) into an error with
// the JavaScript message.
func jsError(r any) error {
	if e, ok := r.(js.Error); ok {
		if m := e.Value.Get("message"); m.Type() == js.TypeString {
			return errors.New(m.String())
		}
		return errors.New(e.Value.Call("toString").String())
	}
	return fmt.Errorf("%v", r)
}
