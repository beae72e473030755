//go:build js && wasm

// Command wasm is Pretext in the browser: built with GOOS=js GOARCH=wasm
// (./build.sh), it runs in a Web Worker (web/worker.js) and installs the
// global pretext, whose functions return Promises (docs/browser.md). Apart
// from internal/kernel/jshost, which calls the simd128 kernels, this package
// is the only place syscall/js appears; the work is in package app.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"runtime/debug"
	"syscall/js"
	"time"

	"github.com/pretextlab/pretext/core"
	"github.com/pretextlab/pretext/internal/kernel"
	"github.com/pretextlab/pretext/internal/kernel/jshost"
	"github.com/pretextlab/pretext/wasm/app"
)

func main() {
	// The simd128 kernels, which the worker (web/simd.js) published before
	// it ran this program, if the browser has simd128. Without them Go's
	// own kernels give the same results, only slower; the worker has said
	// why already, unless the kernels it loaded do not fit this module.
	if err := jshost.Install(); err != nil && !errors.Is(err, jshost.ErrNoKernels) {
		js.Global().Get("console").Call("warn", "pretext: "+err.Error()+"; Pretext uses its pure-Go kernels")
	}
	a := app.New()
	// Go's wasm has one thread: a training loop that never blocks would
	// starve the worker's event loop, so stop and status messages would
	// wait for the end. Between steps the loop hands control back.
	a.Yield = newYield()
	js.Global().Set("pretext", api(a))
	select {}
}

// newYield returns a function that lets the worker's event loop run the
// tasks already queued (a stop message, say) and then returns. It posts
// itself a message on a MessageChannel, a task queued behind them, and
// waits for it: unlike a short sleep (setTimeout, which browsers clamp to
// 4 ms when nested), this costs tens of microseconds, and with several
// workers every millisecond one of them spends here another waits for.
func newYield() func() {
	ch := js.Global().Get("MessageChannel")
	if ch.Type() != js.TypeFunction {
		return func() { time.Sleep(time.Millisecond) }
	}
	mc := ch.New()
	woke := make(chan struct{}, 1)
	mc.Get("port1").Set("onmessage", js.FuncOf(func(js.Value, []js.Value) any {
		woke <- struct{}{}
		return nil
	}))
	port := mc.Get("port2")
	return func() {
		port.Call("postMessage", js.Null())
		<-woke
	}
}

// api builds the pretext global.
func api(a *app.App) js.Value {
	o := object.New()
	o.Set("version", fmt.Sprintf("pretext %s (%s)", core.Version, runtime.Version()))
	method := func(name string, fn func(args []js.Value) (any, error)) {
		o.Set(name, js.FuncOf(func(_ js.Value, args []js.Value) any {
			return async(name, func() (any, error) { return fn(args) })
		}))
	}
	method("tasks", func([]js.Value) (any, error) { return a.Tasks() })
	method("addImages", func(args []js.Value) (any, error) {
		files, err := filesArg(arg(args, 0))
		if err != nil {
			return nil, err
		}
		// Limits, if given, apply from these files on.
		if l := arg(args, 1); !l.IsUndefined() && !l.IsNull() {
			var limits app.Limits
			if err := fromJSON(l, &limits); err != nil {
				return nil, fmt.Errorf("addImages: bad limits: %w", err)
			}
			if err := a.SetLimits(limits); err != nil {
				return nil, fmt.Errorf("addImages: %w", err)
			}
		}
		return a.AddImages(files), nil
	})
	method("addSamples", func([]js.Value) (any, error) { return a.AddSamples(), nil })
	method("clearImages", func([]js.Value) (any, error) { return map[string]int{"count": a.ClearImages()}, nil })
	method("train", func(args []js.Value) (any, error) {
		var s app.Settings
		if err := fromJSON(arg(args, 0), &s); err != nil {
			return nil, fmt.Errorf("train: bad config: %w", err)
		}
		replica, err := groupArg(arg(args, 2))
		if err != nil {
			return nil, fmt.Errorf("train: %w", err)
		}
		s.Replica = replica
		cb := arg(args, 1)
		progress := func(app.Event) {}
		if cb.Type() == js.TypeFunction {
			progress = func(e app.Event) { cb.Invoke(toJS(e)) }
		}
		return a.Train(context.Background(), s, progress)
	})
	method("stop", func([]js.Value) (any, error) { a.Stop(); return nil, nil })
	method("status", func([]js.Value) (any, error) { return a.Status(), nil })
	method("previews", func([]js.Value) (any, error) { return a.Previews() })
	method("predict", func(args []js.Value) (any, error) {
		v := arg(args, 0)
		if v.Type() == js.TypeNumber {
			return a.PredictID(v.Int())
		}
		f, err := fileArg(v)
		if err != nil {
			return nil, err
		}
		return a.PredictFile(f)
	})
	method("features", func(args []js.Value) (any, error) {
		f, err := fileArg(arg(args, 0))
		if err != nil {
			return nil, err
		}
		return a.Features(f)
	})
	// Step 4: the representation at work (app/explore.go).
	method("explore", func([]js.Value) (any, error) { return a.Explore() })
	method("neighbours", func(args []js.Value) (any, error) {
		k := 8
		if v := arg(args, 1); v.Type() == js.TypeNumber {
			k = v.Int()
		}
		v := arg(args, 0)
		if v.Type() == js.TypeNumber {
			return a.Neighbours(v.Int(), k)
		}
		f, err := fileArg(v)
		if err != nil {
			return nil, err
		}
		return a.NeighboursFile(f, k)
	})
	method("groups", func(args []js.Value) (any, error) {
		opts := struct {
			K    int
			Seed uint64
		}{0, 1}
		if err := fromJSON(arg(args, 0), &opts); err != nil {
			return nil, fmt.Errorf("groups: bad options: %w", err)
		}
		return a.Groups(opts.K, opts.Seed)
	})
	method("map", func(args []js.Value) (any, error) {
		opts := struct {
			Method string
			Seed   uint64
		}{"tsne", 1}
		if err := fromJSON(arg(args, 0), &opts); err != nil {
			return nil, fmt.Errorf("map: bad options: %w", err)
		}
		return a.Map(opts.Method, opts.Seed)
	})
	method("mapPNG", func(args []js.Value) (any, error) {
		opts := struct {
			Method string
			Seed   uint64
			Size   int
		}{"tsne", 1, 1600}
		if err := fromJSON(arg(args, 0), &opts); err != nil {
			return nil, fmt.Errorf("mapPNG: bad options: %w", err)
		}
		return a.MapPNG(opts.Method, opts.Seed, opts.Size)
	})
	method("label", func(args []js.Value) (any, error) {
		var named []app.Named
		if err := fromJSON(arg(args, 0), &named); err != nil {
			return nil, fmt.Errorf("label: bad names: %w", err)
		}
		probe := ""
		if v := arg(args, 1); v.Type() == js.TypeString {
			probe = v.String()
		}
		return a.Label(named, probe)
	})
	method("exportEmbeddings", func(args []js.Value) (any, error) {
		format := "csv"
		if v := arg(args, 0); v.Type() == js.TypeString {
			format = v.String()
		}
		return a.ExportEmbeddings(format)
	})
	method("exportPredictions", func(args []js.Value) (any, error) {
		var named []app.Named
		if err := fromJSON(arg(args, 0), &named); err != nil {
			return nil, fmt.Errorf("exportPredictions: bad names: %w", err)
		}
		probe := ""
		if v := arg(args, 1); v.Type() == js.TypeString {
			probe = v.String()
		}
		return a.ExportPredictions(named, probe)
	})
	method("kernels", gemmKernels)
	method("exportModel", func(args []js.Value) (any, error) {
		if arg(args, 0).String() == "safetensors" {
			return a.ExportSafetensors()
		}
		return a.Export()
	})
	method("saveSession", func([]js.Value) (any, error) { return a.SaveSession() })
	method("restoreSession", func(args []js.Value) (any, error) {
		b, err := bytesArg(arg(args, 0))
		if err != nil {
			return nil, fmt.Errorf("restoreSession: %w", err)
		}
		return a.RestoreSession(b)
	})
	method("importModel", func(args []js.Value) (any, error) {
		b, err := bytesArg(arg(args, 0))
		if err != nil {
			return nil, fmt.Errorf("importModel: %w", err)
		}
		return a.Import(b)
	})
	method("bench", func(args []js.Value) (any, error) {
		opts := struct {
			Workload      string
			Steps, Warmup int
		}{"rs", 20, 5}
		if err := fromJSON(arg(args, 0), &opts); err != nil {
			return nil, fmt.Errorf("bench: bad options: %w", err)
		}
		replica, err := groupArg(arg(args, 1))
		if err != nil {
			return nil, fmt.Errorf("bench: %w", err)
		}
		return a.Bench(opts.Workload, opts.Steps, opts.Warmup, replica)
	})
	return o
}

// gemmKernels names the matrix kernels this module runs, the one in use
// first (the simd128 one when the host loaded it), after checking that they
// agree with each other and with a plain loop (kernel.SelfCheck).
func gemmKernels([]js.Value) (any, error) { return kernel.SelfCheck() }

// async runs fn on a goroutine and returns a Promise of its result. An
// error, or a panic, rejects the Promise with an Error whose message names
// the call.
func async(name string, fn func() (any, error)) js.Value {
	executor := js.FuncOf(func(_ js.Value, args []js.Value) any {
		resolve, reject := args[0], args[1]
		go func() {
			defer func() {
				if r := recover(); r != nil {
					reject.Invoke(errorCtor.New(fmt.Sprintf("%s: internal error: %v\n%s", name, r, debug.Stack())))
				}
			}()
			v, err := fn()
			if err != nil {
				reject.Invoke(errorCtor.New(err.Error()))
				return
			}
			resolve.Invoke(toJS(v))
		}()
		return nil
	})
	defer executor.Release() // the executor runs inside new Promise
	return promiseCtor.New(executor)
}

func arg(args []js.Value, i int) js.Value {
	if i < len(args) {
		return args[i]
	}
	return js.Undefined()
}

// fromJSON decodes a plain JavaScript object into v by way of JSON;
// undefined and null leave v as it is.
func fromJSON(v js.Value, dst any) error {
	if v.IsUndefined() || v.IsNull() {
		return nil
	}
	return json.Unmarshal([]byte(jsonObj.Call("stringify", v).String()), dst)
}

// bytesArg copies a Uint8Array or ArrayBuffer into Go.
func bytesArg(v js.Value) ([]byte, error) {
	switch {
	case v.InstanceOf(uint8Array):
	case v.InstanceOf(arrayBuffer):
		v = uint8Array.New(v)
	default:
		return nil, errors.New("want a Uint8Array or ArrayBuffer of bytes")
	}
	b := make([]byte, v.Get("length").Int())
	js.CopyBytesToGo(b, v)
	return b, nil
}

// fileArg reads {name, bytes}.
func fileArg(v js.Value) (app.File, error) {
	if v.Type() != js.TypeObject {
		return app.File{}, errors.New("want a photo as {name, bytes: Uint8Array}")
	}
	name := "photo"
	if n := v.Get("name"); n.Type() == js.TypeString {
		name = n.String()
	}
	b, err := bytesArg(v.Get("bytes"))
	if err != nil {
		return app.File{}, fmt.Errorf("%s: %w", name, err)
	}
	return app.File{Name: name, Bytes: b}, nil
}

func filesArg(v js.Value) ([]app.File, error) {
	if !v.InstanceOf(arrayCtor) {
		return nil, errors.New("addImages: want an array of {name, bytes}")
	}
	files := make([]app.File, v.Length())
	for i := range files {
		f, err := fileArg(v.Index(i))
		if err != nil {
			return nil, fmt.Errorf("addImages: file %d: %w", i, err)
		}
		files[i] = f
	}
	return files, nil
}
