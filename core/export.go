package core

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/nlpodyssey/spago/nn"

	"github.com/pretextlab/pretext/core/safetensors"
)

// Export layout: a safetensors file whose tensor names and shapes are those
// of the state_dict of the PyTorch twin (interop/pytorch/pretext_twin.py):
//
//	trunk.layers.<i>.conv.weight             [out, in, 3, 3]
//	trunk.layers.<i>.bn.weight, .bn.bias     [out]
//	trunk.layers.<i>.bn.running_mean, .running_var  [out]
//	trunk.layers.<i>.bn.num_batches_tracked  int64 scalar (the step count)
//
// and the head by its type: "linear" (a [Classifier], the whole head or
// its one parameter-holding field) as head.fc.weight [classes, features]
// and head.fc.bias [classes]; "mlp" (an [MLP] likewise: jigsaw and the
// other perceptron heads) as head.fc1 and head.fc2; "native" (any other
// head) as head.<field path> in Pretext's own shapes, which the twin does
// not build. The "__metadata__" map holds the rest as strings (see
// exportMetadata). Optimiser state is not exported: a run continued
// elsewhere starts its own.
//
// Version 2 names native heads' perceptrons by their [MLP] field
// (head.Tasks.1.Head.W1 in a multi-task); version 1 files, which named them
// by their owner (head.Tasks.1.W1), are still read (see legacyNames).
const ExportVersion = 2

// exportFormat is the metadata's "format" value.
const exportFormat = "pretext"

// Head layouts of an export.
const (
	LayoutLinear = "linear"
	LayoutMLP    = "mlp"
	LayoutNative = "native"
)

// exportTensor is one exported parameter: its PyTorch name and shape and
// the live parameter it aliases.
type exportTensor struct {
	name  string
	shape []int
	param *nn.Param
}

// exportTensors lists the trainer's parameters under their PyTorch names
// and returns the head's layout.
func (t *Trainer) exportTensors() ([]exportTensor, string) {
	var out []exportTensor
	for i, l := range t.Trunk.Layers {
		p := "trunk.layers." + strconv.Itoa(i) + "."
		sh := l.W.Shape()
		out = append(out,
			exportTensor{p + "conv.weight", []int{sh[0], sh[1] / 9, 3, 3}, l.W},
			exportTensor{p + "bn.weight", []int{sh[0]}, l.Gamma},
			exportTensor{p + "bn.bias", []int{sh[0]}, l.Beta},
			exportTensor{p + "bn.running_mean", []int{sh[0]}, l.RunMean},
			exportTensor{p + "bn.running_var", []int{sh[0]}, l.RunVar})
	}
	linear := func(prefix string, w, b *nn.Param) []exportTensor {
		return []exportTensor{
			{prefix + ".weight", slices.Clone(w.Shape()), w},
			{prefix + ".bias", []int{b.Shape()[0]}, b},
		}
	}
	switch h := soleHead(t.Head).(type) {
	case *Classifier:
		return append(out, linear("head.fc", h.W, h.B)...), LayoutLinear
	case *MLP:
		out = append(out, linear("head.fc1", h.W1, h.B1)...)
		return append(out, linear("head.fc2", h.W2, h.B2)...), LayoutMLP
	}
	for _, np := range NamedParams(t.Head) {
		out = append(out, exportTensor{"head." + np.Name, slices.Clone(np.Param.Shape()), np.Param})
	}
	return out, LayoutNative
}

// soleHead returns the [Classifier] or [MLP] that holds all of head's
// parameters: head itself, or the one field of head's struct that holds
// parameters; nil when there is none.
func soleHead(head Objective) nn.Model {
	if c, ok := head.(*Classifier); ok {
		return c
	}
	v := reflect.ValueOf(head)
	for v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface {
		if v.IsNil() {
			return nil
		}
		v = v.Elem()
	}
	if v.Kind() != reflect.Struct {
		return nil
	}
	var sole nn.Model
	for i := range v.NumField() {
		f := v.Type().Field(i)
		if !f.IsExported() || f.Type == reflect.TypeFor[nn.Module]() {
			continue
		}
		var found []NamedParam
		walkParams(v.Field(i), "", &found)
		if len(found) == 0 {
			continue
		}
		m, ok := v.Field(i).Interface().(nn.Model)
		if sole != nil || !ok {
			return nil
		}
		switch m.(type) {
		case *Classifier, *MLP:
			sole = m
		default:
			return nil
		}
	}
	return sole
}

// InputNorm describes the trunk's input for an export's metadata: how
// 8-bit pixels become the values the trunk sees (see [TrunkInput]).
type InputNorm struct {
	Channels int        `json:"channels"`
	Mean     [3]float32 `json:"mean"`
	Std      [3]float32 `json:"std"`
	// Grey, for one channel, is how a colour pixel becomes one value.
	Grey string `json:"grey,omitempty"`
}

// inputNorm is the normalisation [TrunkInput] applies for channels.
func inputNorm(channels int) InputNorm {
	if channels == 1 {
		return InputNorm{Channels: 1, Mean: GreyNorm.Mean, Std: GreyNorm.Std, Grey: "(299 R + 587 G + 114 B) / 1000, ITU-R BT.601"}
	}
	return InputNorm{Channels: channels, Mean: ImageNetNorm.Mean, Std: ImageNetNorm.Std}
}

// exportMetadata is the "__metadata__" map of an export: every value a
// string, JSON where it is structured.
func (t *Trainer) exportMetadata(layout string) map[string]string {
	js := func(v any) string {
		b, _ := json.Marshal(v)
		return string(b)
	}
	spec := t.Head.Spec()
	m := map[string]string{
		"format":         exportFormat,
		"format_version": strconv.Itoa(ExportVersion),
		"trunk":          js(t.Trunk.Config),
		"task":           spec.Kind,
		"head":           js(spec),
		"head_layout":    layout,
		"train":          js(t.Config),
		"step":           strconv.Itoa(t.step),
		"lr_scale":       strconv.FormatFloat(t.LRScale(), 'g', -1, 64),
		"normalization":  js(inputNorm(t.Trunk.Config.InChannels)),
		// BNOptions' defaults, which the trunk uses: PyTorch's.
		"batch_norm": `{"eps":1e-05,"momentum":0.1}`,
	}
	if s, ok := t.Head.(interface{ InputSize() int }); ok {
		m["input_size"] = strconv.Itoa(s.InputSize())
	}
	if mlp, ok := soleHead(t.Head).(*MLP); ok {
		// The perceptron reads the concatenated features of this many views.
		if in, f := mlp.In(), t.Trunk.Features(); in%f == 0 {
			m["views"] = strconv.Itoa(in / f)
		}
	}
	return m
}

// ExportSafetensors writes the trainer's trunk and head (weights and
// batch-norm statistics, no optimiser state) to w in the safetensors
// layout, named for the PyTorch twin's state_dict (see [ExportVersion]).
func (t *Trainer) ExportSafetensors(w io.Writer) error {
	ts, layout := t.exportTensors()
	f := &safetensors.File{Metadata: t.exportMetadata(layout)}
	for _, et := range ts {
		f.Tensors = append(f.Tensors, safetensors.Tensor{Name: et.name, DType: safetensors.F32, Shape: et.shape, F32: data(et.param)})
		if strings.HasSuffix(et.name, ".bn.running_var") {
			bn := strings.TrimSuffix(et.name, "running_var")
			f.Tensors = append(f.Tensors, safetensors.Tensor{Name: bn + "num_batches_tracked", DType: safetensors.I64, Shape: []int{}, I64: []int64{int64(t.step)}})
		}
	}
	if err := safetensors.Write(w, f); err != nil {
		return fmt.Errorf("core: export: %w", err)
	}
	return nil
}

// ImportSafetensors reads a file written by [Trainer.ExportSafetensors]
// (or by the PyTorch twin's save) and rebuilds the trainer at the step
// the metadata names, with a fresh optimiser state. resolve rebuilds the
// head the metadata names, as for [LoadTrainer]. Every tensor of the model
// must be present with its shape and finite values, and no other; the
// batch-norm counters (num_batches_tracked) may be absent. Reading is
// bounded as LoadTrainer's is.
func ImportSafetensors(r io.Reader, resolve HeadResolver) (*Trainer, error) {
	f, err := safetensors.Read(r, 4*maxCheckpointValues)
	if err != nil {
		return nil, fmt.Errorf("core: import: %w", err)
	}
	hdr, version, err := importHeader(f.Metadata)
	if err != nil {
		return nil, err
	}
	// As LoadTrainer does, build nothing the file's own data cannot fill.
	values := 0
	for _, st := range f.Tensors {
		values += len(st.F32)
	}
	if v := hdr.Trunk.withDefaults().values(); v > values {
		return nil, fmt.Errorf("core: import: the file holds %d values, the trunk it describes alone has %d", values, v)
	}
	t, err := trainerFromHeader(hdr, resolve)
	if err != nil {
		return nil, fmt.Errorf("core: import: %w", err)
	}
	want, layout := t.exportTensors()
	if got := f.Metadata["head_layout"]; got != "" && got != layout {
		return nil, fmt.Errorf("core: import: the file's head layout is %q, the %s head it names is %q", got, hdr.Head.Kind, layout)
	}
	if version == 1 && layout == LayoutNative {
		old := legacyNames(t.Head)
		for i := range want {
			want[i].name = legacyTensorName(want[i].name, old)
		}
	}
	seen := make(map[string]bool, len(want))
	for _, et := range want {
		st := f.Tensor(et.name)
		if st == nil {
			return nil, fmt.Errorf("core: import: tensor %s is missing", et.name)
		}
		if st.DType != safetensors.F32 || !slices.Equal(st.Shape, et.shape) {
			return nil, fmt.Errorf("core: import: tensor %s is %s %v, want F32 %v", et.name, st.DType, st.Shape, et.shape)
		}
		for i, v := range st.F32 {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				return nil, fmt.Errorf("core: import: tensor %s holds %v at index %d", et.name, v, i)
			}
		}
		seen[et.name] = true
	}
	for _, st := range f.Tensors {
		if seen[st.Name] {
			continue
		}
		if bn, ok := strings.CutSuffix(st.Name, "num_batches_tracked"); ok && seen[bn+"running_var"] {
			if st.DType != safetensors.I64 || len(st.Shape) != 0 || st.I64[0] < 0 {
				return nil, fmt.Errorf("core: import: tensor %s is %s %v, want a non-negative I64 scalar", st.Name, st.DType, st.Shape)
			}
			continue
		}
		return nil, fmt.Errorf("core: import: tensor %s is not part of the %s model", st.Name, hdr.Head.Kind)
	}
	for _, et := range want {
		copy(data(et.param), f.Tensor(et.name).F32)
	}
	return t, nil
}

// importHeader reads the trainer's settings and the format version from
// an export's metadata.
func importHeader(meta map[string]string) (checkpointHeader, int, error) {
	var hdr checkpointHeader
	if meta == nil {
		return hdr, 0, fmt.Errorf("core: import: the file has no __metadata__: not a Pretext export (the twin's save writes one)")
	}
	if f := meta["format"]; f != exportFormat {
		return hdr, 0, fmt.Errorf("core: import: metadata format is %q, want %q", f, exportFormat)
	}
	v, err := strconv.Atoi(meta["format_version"])
	switch {
	case err != nil:
		return hdr, 0, fmt.Errorf("core: import: format_version %q is not a number", meta["format_version"])
	case v > ExportVersion:
		return hdr, 0, fmt.Errorf("core: import: format version %d is newer than this build reads (%d); update Pretext", v, ExportVersion)
	case v < 1:
		return hdr, 0, fmt.Errorf("core: import: format version %d is not supported (this build reads 1 to %d)", v, ExportVersion)
	}
	strict := func(key string, dst any, required bool) error {
		s, ok := meta[key]
		if !ok {
			if required {
				return fmt.Errorf("core: import: metadata has no %q", key)
			}
			return nil
		}
		dec := json.NewDecoder(strings.NewReader(s))
		dec.DisallowUnknownFields()
		if err := dec.Decode(dst); err != nil {
			return fmt.Errorf("core: import: metadata %q: %w", key, err)
		}
		return nil
	}
	if err := strict("trunk", &hdr.Trunk, true); err != nil {
		return hdr, 0, err
	}
	if err := strict("head", &hdr.Head, true); err != nil {
		return hdr, 0, err
	}
	if err := strict("train", &hdr.Train, false); err != nil {
		return hdr, 0, err
	}
	if s, ok := meta["step"]; ok {
		if hdr.Step, err = strconv.Atoi(s); err != nil || hdr.Step < 0 {
			return hdr, 0, fmt.Errorf("core: import: step %q is not a non-negative number", s)
		}
	}
	hdr.LRScale = 1
	if s, ok := meta["lr_scale"]; ok {
		if hdr.LRScale, err = strconv.ParseFloat(s, 64); err != nil || !(hdr.LRScale > 0 && hdr.LRScale <= 1) {
			return hdr, 0, fmt.Errorf("core: import: lr_scale %q outside (0, 1]", s)
		}
	}
	if err := hdr.Trunk.withDefaults().validate(); err != nil {
		return hdr, 0, fmt.Errorf("core: import: %w", err)
	}
	return hdr, v, nil
}

// TorchParams lists the trainer's parameters (batch-norm statistics
// included) under the names of the PyTorch twin's state_dict that
// [Trainer.ExportSafetensors] writes them as. Each holds the same values in
// the same order as the twin's tensor, whose shape may differ (a conv's
// [out, in*9] is the twin's [out, in, 3, 3], a bias [out, 1] its [out]).
func (t *Trainer) TorchParams() []NamedParam {
	ts, _ := t.exportTensors()
	out := make([]NamedParam, len(ts))
	for i, et := range ts {
		out[i] = NamedParam{Name: et.name, Param: et.param}
	}
	return out
}
