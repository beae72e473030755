package core

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"maps"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/nlpodyssey/spago/nn"

	"github.com/pretextlab/pretext/internal/bounded"
)

// Checkpoint layout (all integers little-endian):
//
//	magic   8 bytes  "PRETEXT\x00"
//	version uint32   CheckpointVersion
//	hdrLen  uint32   length of the JSON header, at most maxHeader
//	header  JSON     checkpointHeader: configs, step, tensor names and shapes
//	tensors float32  each tensor of the header, in order, row-major
//	crc     uint32   CRC-32C (Castagnoli) of every byte before it
//
// Tensors are named by [NamedParams] under "trunk.", "head." and, for
// optimiser buffers, "opt.<param>.<buffer>".
//
// Version 2 names a perceptron head's parameters by its [MLP] field
// (head.Head.W1); version 1, which named them by their owner (head.W1), is
// still read (see legacyNames).
const CheckpointVersion = 2

var checkpointMagic = [8]byte{'P', 'R', 'E', 'T', 'E', 'X', 'T', 0}

// maxHeader bounds the JSON header so a corrupt length cannot make Load
// allocate more than this before the checksum is seen.
const maxHeader = 1 << 20

// maxCheckpointValues bounds the float32 values a checkpoint may declare:
// 2^26 values, 256 MB. The largest named model, the wide trunk with Adam's
// two buffers per parameter, holds about 3.4 million.
const maxCheckpointValues = 1 << 26

var (
	// ErrNotCheckpoint is returned for data that does not start with the
	// checkpoint magic.
	ErrNotCheckpoint = errors.New("core: not a Pretext checkpoint (bad magic)")
	// ErrChecksum is returned when a checkpoint's bytes do not match its
	// checksum: the file is truncated, altered or corrupt.
	ErrChecksum = errors.New("core: checkpoint checksum mismatch (file altered or corrupt)")
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

type checkpointHeader struct {
	// Pretext is the release that wrote the checkpoint (Version); absent
	// in checkpoints written before it was recorded.
	Pretext string      `json:"pretext,omitempty"`
	Trunk   TrunkConfig `json:"trunk"`
	Head    HeadSpec    `json:"head"`
	Train   TrainConfig `json:"train"`
	Step    int         `json:"step"`
	// LRScale is the factor divergence recovery has lowered the schedule
	// by (Trainer.LRScale); absent means 1, so checkpoints written before
	// recovery existed load unchanged and version 1 still describes the
	// format.
	LRScale float64 `json:"lr_scale,omitempty"`
	// Run is Trainer.RunState, when set.
	Run     json.RawMessage `json:"run,omitempty"`
	Tensors []tensorHeader  `json:"tensors"`
}

type tensorHeader struct {
	Name  string `json:"name"`
	Shape []int  `json:"shape"`
}

type namedTensor struct {
	tensorHeader
	values []float32
}

// tensors lists every tensor a checkpoint of t holds, aliasing the live
// parameters and optimiser buffers (created empty where missing).
func (t *Trainer) tensors() []namedTensor {
	parts := []struct {
		prefix string
		model  nn.Model
	}{{"trunk.", t.Trunk}, {"head.", t.Head}}
	var out []namedTensor
	for _, part := range parts {
		for _, np := range NamedParams(part.model) {
			out = append(out, namedTensor{tensorHeader{part.prefix + np.Name, slices.Clone(np.Param.Shape())}, data(np.Param)})
		}
	}
	// Optimiser buffers come after all parameters, keyed by parameter name.
	for _, part := range parts {
		for _, np := range NamedParams(part.model) {
			if !np.Param.RequiresGrad() {
				continue
			}
			bufs := t.opt.StateBuffers(np.Param)
			for _, k := range slices.Sorted(maps.Keys(bufs)) {
				out = append(out, namedTensor{tensorHeader{"opt." + part.prefix + np.Name + "." + k, slices.Clone(np.Param.Shape())}, bufs[k]})
			}
		}
	}
	return out
}

// Save writes the trainer's configuration, step, trunk, head and optimiser
// state to w as a checkpoint.
func (t *Trainer) Save(w io.Writer) error {
	ts := t.tensors()
	hdr := checkpointHeader{Pretext: Version, Trunk: t.Trunk.Config, Head: t.Head.Spec(), Train: t.Config, Step: t.step, Run: t.RunState}
	if s := t.LRScale(); s != 1 {
		hdr.LRScale = s
	}
	for _, nt := range ts {
		hdr.Tensors = append(hdr.Tensors, nt.tensorHeader)
	}
	js, err := json.Marshal(hdr)
	if err != nil {
		return fmt.Errorf("core: checkpoint header: %w", err)
	}
	if len(js) > maxHeader {
		return fmt.Errorf("core: checkpoint header of %d bytes exceeds %d", len(js), maxHeader)
	}
	crc := crc32.New(castagnoli)
	bw := bufio.NewWriter(io.MultiWriter(w, crc))
	var u32 [4]byte
	bw.Write(checkpointMagic[:])
	binary.LittleEndian.PutUint32(u32[:], CheckpointVersion)
	bw.Write(u32[:])
	binary.LittleEndian.PutUint32(u32[:], uint32(len(js)))
	bw.Write(u32[:])
	bw.Write(js)
	for _, nt := range ts {
		for _, v := range nt.values {
			binary.LittleEndian.PutUint32(u32[:], math.Float32bits(v))
			bw.Write(u32[:])
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("core: writing checkpoint: %w", err)
	}
	binary.LittleEndian.PutUint32(u32[:], crc.Sum32())
	if _, err := w.Write(u32[:]); err != nil {
		return fmt.Errorf("core: writing checkpoint: %w", err)
	}
	return nil
}

// LoadTrainer reads a checkpoint written by [Trainer.Save] and rebuilds the
// trainer. resolve rebuilds the head the checkpoint names; nil knows only
// core's own heads ([Classifier]). Truncated, altered or incompatible data is
// refused with an error. The model is built only once the checksum matches,
// and what is read before grows with the data actually present, so a short
// or corrupt file cannot make LoadTrainer allocate much more than its own
// size, whatever sizes its header declares.
func LoadTrainer(r io.Reader, resolve HeadResolver) (*Trainer, error) {
	crc := crc32.New(castagnoli)
	br := bufio.NewReader(r)
	tr := io.TeeReader(br, crc)
	var magic [8]byte
	if _, err := io.ReadFull(tr, magic[:]); err != nil {
		return nil, truncated(err)
	}
	if magic != checkpointMagic {
		return nil, ErrNotCheckpoint
	}
	var u32 [4]byte
	if _, err := io.ReadFull(tr, u32[:]); err != nil {
		return nil, truncated(err)
	}
	version := binary.LittleEndian.Uint32(u32[:])
	switch {
	case version > CheckpointVersion:
		return nil, fmt.Errorf("core: checkpoint format version %d is newer than this build reads (%d); update Pretext", version, CheckpointVersion)
	case version < 1:
		return nil, fmt.Errorf("core: checkpoint format version %d is not supported (this build reads 1 to %d)", version, CheckpointVersion)
	}
	if _, err := io.ReadFull(tr, u32[:]); err != nil {
		return nil, truncated(err)
	}
	n := binary.LittleEndian.Uint32(u32[:])
	if n > maxHeader {
		return nil, fmt.Errorf("core: checkpoint header length %d exceeds %d (corrupt file?)", n, maxHeader)
	}
	js, err := readGrowing(tr, int(n))
	if err != nil {
		return nil, err
	}
	var hdr checkpointHeader
	if err := json.Unmarshal(js, &hdr); err != nil {
		return nil, fmt.Errorf("core: checkpoint header: %w", err)
	}
	values, err := hdr.check()
	if err != nil {
		return nil, err
	}
	raw, err := readGrowing(tr, 4*values)
	if err != nil {
		return nil, err
	}
	if err := checkCRC(br, crc); err != nil {
		return nil, err
	}
	t, err := trainerFromHeader(hdr, resolve)
	if err != nil {
		return nil, err
	}
	// Before tensors() adds the optimiser's buffers, as large again.
	if v := modelValues(t.model()); v > values {
		return nil, fmt.Errorf("core: checkpoint tensors hold %d values, the model it describes has %d parameters", values, v)
	}
	want := t.tensors()
	if len(want) != len(hdr.Tensors) {
		return nil, fmt.Errorf("core: checkpoint holds %d tensors, the model it describes has %d", len(hdr.Tensors), len(want))
	}
	var old map[string]string // names version 1 spelled otherwise
	if version == 1 {
		old = legacyNames(t.Head)
	}
	for i, nt := range want {
		got, name := hdr.Tensors[i], nt.Name
		if old != nil {
			name = legacyTensorName(name, old)
		}
		if got.Name != name || !slices.Equal(got.Shape, nt.Shape) {
			return nil, fmt.Errorf("core: checkpoint tensor %d is %s %v, want %s %v", i, got.Name, got.Shape, name, nt.Shape)
		}
	}
	if err := decodeTensors(raw, want); err != nil {
		return nil, err
	}
	return t, nil
}

// check validates what the header says before anything it sizes is read
// or built, and returns the number of float32 values its tensors declare.
func (h *checkpointHeader) check() (int, error) {
	if h.Step < 0 {
		return 0, fmt.Errorf("core: checkpoint step %d is negative", h.Step)
	}
	if h.LRScale == 0 {
		h.LRScale = 1
	}
	if !(h.LRScale > 0 && h.LRScale <= 1) {
		return 0, fmt.Errorf("core: checkpoint learning-rate scale %v outside (0, 1]", h.LRScale)
	}
	trunk := h.Trunk.withDefaults()
	if err := trunk.validate(); err != nil {
		return 0, err
	}
	total := 0
	for i, th := range h.Tensors {
		size := 1
		for _, d := range th.Shape {
			if d < 1 || d > maxCheckpointValues || size > maxCheckpointValues/d {
				return 0, fmt.Errorf("core: checkpoint tensor %d (%s) has shape %v: more than %d values or an empty side", i, th.Name, th.Shape, maxCheckpointValues)
			}
			size *= d
		}
		if total += size; total > maxCheckpointValues {
			return 0, fmt.Errorf("core: checkpoint tensors hold more than %d values (corrupt file?)", maxCheckpointValues)
		}
	}
	if v := trunk.values(); v > total {
		return 0, fmt.Errorf("core: checkpoint tensors hold %d values, its trunk alone has %d", total, v)
	}
	return total, nil
}

func modelValues(m nn.Model) int {
	n := 0
	nn.ForEachParam(m, func(p *nn.Param) { n += p.Value().Size() })
	return n
}

// readGrowing reads n bytes of an untrusted length (bounded.ReadFull).
func readGrowing(r io.Reader, n int) ([]byte, error) {
	b, err := bounded.ReadFull(r, n)
	if err != nil {
		return nil, truncated(err)
	}
	return b, nil
}

func trainerFromHeader(hdr checkpointHeader, resolve HeadResolver) (*Trainer, error) {
	// The initial values are overwritten by the checkpoint's tensors.
	trunk, err := NewTrunk(hdr.Trunk, rand.New(rand.NewPCG(0, 0)))
	if err != nil {
		return nil, err
	}
	var head Objective
	switch {
	case hdr.Head.Kind == ClassifierKind:
		head, err = classifierFromSpec(hdr.Head, trunk)
	case resolve != nil:
		head, err = resolve(hdr.Head, trunk)
	default:
		err = fmt.Errorf("core: checkpoint head %q is unknown here", hdr.Head.Kind)
	}
	if err != nil {
		return nil, err
	}
	t, err := NewTrainer(trunk, head, hdr.Train)
	if err != nil {
		return nil, err
	}
	t.step, t.lrScale, t.RunState = hdr.Step, hdr.LRScale, hdr.Run
	return t, nil
}

// decodeTensors fills ts from raw, little-endian float32 values in order,
// refusing values that are not finite: no trainer saves them (divergence
// recovery never keeps them), and a NaN would spread through every step.
func decodeTensors(raw []byte, ts []namedTensor) error {
	for _, nt := range ts {
		for i := range nt.values {
			v := math.Float32frombits(binary.LittleEndian.Uint32(raw))
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				return fmt.Errorf("core: checkpoint tensor %s holds %v at index %d", nt.Name, v, i)
			}
			nt.values[i] = v
			raw = raw[4:]
		}
	}
	return nil
}

func checkCRC(r io.Reader, crc hash.Hash32) error {
	var u32 [4]byte
	if _, err := io.ReadFull(r, u32[:]); err != nil {
		return truncated(err)
	}
	if binary.LittleEndian.Uint32(u32[:]) != crc.Sum32() {
		return ErrChecksum
	}
	var extra [1]byte
	if n, _ := r.Read(extra[:]); n > 0 {
		return fmt.Errorf("core: unexpected data after the checkpoint's checksum")
	}
	return nil
}

func truncated(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("core: checkpoint is truncated: %w", io.ErrUnexpectedEOF)
	}
	return fmt.Errorf("core: reading checkpoint: %w", err)
}
