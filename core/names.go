package core

import (
	"reflect"
	"strconv"

	"github.com/nlpodyssey/spago/nn"
)

// NamedParam is a parameter with its path in the model, e.g. "Layers.1.W".
type NamedParam struct {
	Name  string
	Param *nn.Param
}

// NamedParams lists m's parameters with their field paths, in struct field
// order. The names come from the model's own structure (exported fields,
// slice indices), so they are stable across runs and builds and need no
// second list of parameters; checkpoints and exports key tensors by them.
func NamedParams(m nn.Model) []NamedParam {
	var out []NamedParam
	walkParams(reflect.ValueOf(m), "", &out)
	return out
}

var paramType = reflect.TypeFor[*nn.Param]()

func walkParams(v reflect.Value, prefix string, out *[]NamedParam) {
	switch v.Kind() {
	case reflect.Interface, reflect.Pointer:
		if v.IsNil() {
			return
		}
		if v.Type() == paramType {
			*out = append(*out, NamedParam{Name: prefix, Param: v.Interface().(*nn.Param)})
			return
		}
		walkParams(v.Elem(), prefix, out)
	case reflect.Struct:
		t := v.Type()
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() || f.Type == reflect.TypeFor[nn.Module]() {
				continue
			}
			walkParams(v.Field(i), join(prefix, f.Name), out)
		}
	case reflect.Slice, reflect.Array:
		for i := range v.Len() {
			walkParams(v.Index(i), join(prefix, strconv.Itoa(i)), out)
		}
	}
}

func join(prefix, name string) string {
	if prefix == "" {
		return name
	}
	return prefix + "." + name
}
