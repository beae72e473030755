//go:build js && wasm

package main

import (
	"encoding/binary"
	"encoding/json"
	"math"
	"reflect"
	"strings"
	"syscall/js"

	"github.com/pretextlab/pretext/wasm/app"
)

// JavaScript globals, looked up once.
var (
	object            = js.Global().Get("Object")
	arrayCtor         = js.Global().Get("Array")
	arrayBuffer       = js.Global().Get("ArrayBuffer")
	uint8Array        = js.Global().Get("Uint8Array")
	uint8ClampedArray = js.Global().Get("Uint8ClampedArray")
	float32Array      = js.Global().Get("Float32Array")
	promiseCtor       = js.Global().Get("Promise")
	errorCtor         = js.Global().Get("Error")
	jsonObj           = js.Global().Get("JSON")
)

var (
	imageType = reflect.TypeFor[*app.Image]()
	rawType   = reflect.TypeFor[json.RawMessage]()
)

// toJS converts a result of package app to a JavaScript value: structs
// become objects keyed by their JSON names, images become {width, height,
// data: Uint8ClampedArray}, []byte a Uint8Array, []float32 a Float32Array.
// Bytes are copied once, with CopyBytesToJS.
func toJS(v any) js.Value {
	if v == nil {
		return js.Null()
	}
	return valueToJS(reflect.ValueOf(v))
}

func valueToJS(v reflect.Value) js.Value {
	switch {
	case v.Type() == imageType:
		if v.IsNil() {
			return js.Null()
		}
		img := v.Interface().(*app.Image)
		o := object.New()
		o.Set("width", img.Width)
		o.Set("height", img.Height)
		data := uint8ClampedArray.New(len(img.Pix))
		js.CopyBytesToJS(data, img.Pix)
		o.Set("data", data)
		return o
	case v.Type() == rawType:
		if v.Len() == 0 {
			return js.Null()
		}
		return jsonObj.Call("parse", string(v.Bytes()))
	}
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return js.Null()
		}
		return valueToJS(v.Elem())
	case reflect.Bool:
		return js.ValueOf(v.Bool())
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return js.ValueOf(float64(v.Int()))
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return js.ValueOf(float64(v.Uint()))
	case reflect.Float32, reflect.Float64:
		return js.ValueOf(v.Float())
	case reflect.String:
		return js.ValueOf(v.String())
	case reflect.Slice: // nil slices too: the page gets [] rather than null
		switch v.Type().Elem().Kind() {
		case reflect.Uint8:
			a := uint8Array.New(v.Len())
			js.CopyBytesToJS(a, v.Bytes())
			return a
		case reflect.Float32:
			f := v.Interface().([]float32)
			b := make([]byte, 4*len(f))
			for i, x := range f {
				binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
			}
			a := float32Array.New(len(f))
			js.CopyBytesToJS(uint8Array.New(a.Get("buffer")), b)
			return a
		}
		a := arrayCtor.New(v.Len())
		for i := range v.Len() {
			a.SetIndex(i, valueToJS(v.Index(i)))
		}
		return a
	case reflect.Map:
		o := object.New()
		iter := v.MapRange()
		for iter.Next() {
			o.Set(iter.Key().String(), valueToJS(iter.Value()))
		}
		return o
	case reflect.Struct:
		o := object.New()
		t := v.Type()
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "-" {
				continue
			}
			if name == "" {
				name = f.Name
			}
			fv := v.Field(i)
			if strings.Contains(opts, "omitempty") && fv.IsZero() {
				continue
			}
			o.Set(name, valueToJS(fv))
		}
		return o
	}
	return js.Undefined()
}
