package core

import (
	"reflect"
	"strconv"
	"strings"

	"github.com/nlpodyssey/spago/nn"
)

// Reading files of earlier formats. Checkpoints of version 1 and exports
// of format version 1 were written before perceptron heads had a type of
// their own: an [MLP]'s W1, B1, W2 and B2 were loose fields of the
// objective that owned it, so the parameters that version 2 names
// Head.W1 (a jigsaw's perceptron) or Tasks.1.Head.W1 (a multi-task's
// second task's) were named W1 and Tasks.1.W1. Every other name is
// unchanged, and the order of the tensors is too.

// legacyNames maps the names of m's parameters (as [NamedParams] gives
// them) that files of version 1 spelled otherwise to those spellings.
func legacyNames(m nn.Model) map[string]string {
	out := map[string]string{}
	walkMLPs(reflect.ValueOf(m), "", func(path string) {
		owner := ""
		if i := strings.LastIndexByte(path, '.'); i >= 0 {
			owner = path[:i]
		}
		for _, f := range []string{"W1", "B1", "W2", "B2"} {
			out[join(path, f)] = join(owner, f)
		}
	})
	return out
}

// walkMLPs calls fn with the field path of every [MLP] inside v, walking
// as [NamedParams] does.
func walkMLPs(v reflect.Value, prefix string, fn func(path string)) {
	switch v.Kind() {
	case reflect.Interface, reflect.Pointer:
		if v.IsNil() {
			return
		}
		if _, ok := v.Interface().(*MLP); ok {
			fn(prefix)
			return
		}
		walkMLPs(v.Elem(), prefix, fn)
	case reflect.Struct:
		t := v.Type()
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() || f.Type == reflect.TypeFor[nn.Module]() {
				continue
			}
			walkMLPs(v.Field(i), join(prefix, f.Name), fn)
		}
	case reflect.Slice, reflect.Array:
		for i := range v.Len() {
			walkMLPs(v.Index(i), join(prefix, strconv.Itoa(i)), fn)
		}
	}
}

// legacyTensorName returns the name a version 1 checkpoint gave the
// tensor a version 2 checkpoint names name: a head parameter
// ("head.<param>") or its optimiser buffer ("opt.head.<param>.<buffer>"),
// renamed by old (legacyNames of the head).
func legacyTensorName(name string, old map[string]string) string {
	if p, ok := strings.CutPrefix(name, "head."); ok {
		if o, ok := old[p]; ok {
			return "head." + o
		}
		return name
	}
	if rest, ok := strings.CutPrefix(name, "opt.head."); ok {
		if i := strings.LastIndexByte(rest, '.'); i >= 0 {
			if o, ok := old[rest[:i]]; ok {
				return "opt.head." + o + rest[i:]
			}
		}
	}
	return name
}
