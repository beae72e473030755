//go:build js && wasm

package main

import (
	"errors"
	"strings"
	"syscall/js"
	"testing"

	"github.com/pretextlab/pretext/tasks/samples"
	"github.com/pretextlab/pretext/wasm/app"
)

// await waits for a Promise from Go (the test runs on a goroutine, so the
// event loop settles it meanwhile).
func await(p js.Value) (js.Value, error) {
	type result struct {
		v   js.Value
		err error
	}
	ch := make(chan result, 1)
	then := js.FuncOf(func(_ js.Value, args []js.Value) any { ch <- result{v: args[0]}; return nil })
	catch := js.FuncOf(func(_ js.Value, args []js.Value) any {
		ch <- result{err: errors.New(args[0].Get("message").String())}
		return nil
	})
	defer then.Release()
	defer catch.Release()
	p.Call("then", then, catch)
	r := <-ch
	return r.v, r.err
}

func call(t *testing.T, api js.Value, method string, args ...any) js.Value {
	t.Helper()
	v, err := await(api.Call(method, args...))
	if err != nil {
		t.Fatalf("%s: %v", method, err)
	}
	return v
}

func bytesJS(b []byte) js.Value {
	a := uint8Array.New(len(b))
	js.CopyBytesToJS(a, b)
	return a
}

func TestBridge(t *testing.T) {
	api := api(app.New())
	if v := api.Get("version").String(); !strings.HasPrefix(v, "pretext ") {
		t.Errorf("version %q", v)
	}
	ts := call(t, api, "tasks")
	if ts.Length() < 3 || ts.Index(0).Get("defaults").Get("steps").Int() < 1 {
		t.Fatalf("tasks: %d", ts.Length())
	}

	added := call(t, api, "addSamples")
	if added.Get("count").Int() != len(samples.Photos()) || added.Get("credits").String() == "" {
		t.Fatalf("addSamples: count %d", added.Get("count").Int())
	}
	thumb := added.Get("added").Index(0).Get("thumb")
	if !thumb.Get("data").InstanceOf(uint8ClampedArray) || thumb.Get("data").Length() != 4*thumb.Get("width").Int()*thumb.Get("height").Int() {
		t.Error("thumbnail is not RGBA pixels")
	}
	bad := object.New()
	bad.Set("name", "letter.jpg")
	bad.Set("bytes", bytesJS([]byte("Dear Sir")))
	rej := call(t, api, "addImages", []any{bad})
	if rej.Get("added").Length() != 0 || rej.Get("rejected").Index(0).Get("name").String() != "letter.jpg" || rej.Get("count").Int() != 16 {
		t.Errorf("a text file named .jpg: %s", jsonObj.Call("stringify", rej).String())
	}

	cfg := object.New()
	cfg.Set("task", "rotation")
	cfg.Set("steps", 2)
	cfg.Set("batch", 8)
	var events []string
	cb := js.FuncOf(func(_ js.Value, args []js.Value) any {
		events = append(events, args[0].Get("type").String())
		return nil
	})
	defer cb.Release()
	res := call(t, api, "train", cfg, cb)
	if res.Get("step").Int() != 2 || res.Get("task").String() != "rotation" || strings.Join(events, ",") != "step,step,preview" {
		t.Errorf("train: step %d, events %v", res.Get("step").Int(), events)
	}

	ckpt := call(t, api, "exportModel")
	if !ckpt.InstanceOf(uint8Array) || ckpt.Length() < 1000 {
		t.Fatal("exportModel did not give bytes")
	}
	b := make([]byte, ckpt.Length())
	js.CopyBytesToGo(b, ckpt)
	if string(b[:7]) != "PRETEXT" {
		t.Errorf("checkpoint starts %q", b[:8])
	}
	info := call(t, api, "importModel", ckpt)
	if info.Get("task").String() != "rotation" || info.Get("step").Int() != 2 {
		t.Errorf("importModel: %s", jsonObj.Call("stringify", info).String())
	}
	pv := call(t, api, "previews")
	id := pv.Index(0).Get("id").Int()
	one := call(t, api, "predict", id)
	if one.Get("probs").Length() != 4 || one.Get("name").String() != pv.Index(0).Get("name").String() {
		t.Errorf("predict(%d): %s", id, one.Get("summary").String())
	}
	for i := range 4 {
		if one.Get("probs").Index(i).Float() != pv.Index(0).Get("probs").Index(i).Float() {
			t.Errorf("predict and previews disagree on class %d", i)
		}
	}
	photo := object.New()
	photo.Set("name", samples.Photos()[1].Name)
	photo.Set("bytes", bytesJS(samples.Photos()[1].Data))
	if f := call(t, api, "features", photo); !f.InstanceOf(float32Array) || f.Length() != 128 {
		t.Error("features: not 128 float32s")
	}

	// Errors reject with readable messages.
	if _, err := await(api.Call("importModel", "not bytes")); err == nil || !strings.Contains(err.Error(), "Uint8Array") {
		t.Errorf("importModel(string): %v", err)
	}
	if _, err := await(api.Call("importModel", bytesJS([]byte("PRETEXT\x00garbage")))); err == nil || !strings.Contains(err.Error(), "checkpoint") {
		t.Errorf("importModel(garbage): %v", err)
	}
	badCfg := object.New()
	badCfg.Set("steps", "many")
	if _, err := await(api.Call("train", badCfg)); err == nil || !strings.Contains(err.Error(), "bad config") {
		t.Errorf("train(steps: \"many\"): %v", err)
	}
	if _, err := await(async("explode", func() (any, error) { panic("kaboom") })); err == nil || !strings.Contains(err.Error(), "explode: internal error: kaboom") {
		t.Errorf("a panic: %v", err)
	}
	st := call(t, api, "status")
	if st.Get("photos").Int() != 16 || st.Get("training").Bool() || st.Get("step").Int() != 2 {
		t.Errorf("status: %s", jsonObj.Call("stringify", st).String())
	}
}
