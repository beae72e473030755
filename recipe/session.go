package recipe

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math/rand/v2"

	"github.com/pretextlab/pretext/core"
	"github.com/pretextlab/pretext/tasks"
)

// A session is what it takes to carry a run on exactly where it was: the
// checkpoint (parameters, optimizer state, step) and, beside it, the run's
// settings and the state of the generator that draws its batches. The page
// keeps the latest one in the browser's IndexedDB and hands it back after a
// reload.
//
// Layout, little-endian:
//
//	magic   8 bytes "PRETEXTS"
//	version uint32  sessionVersion
//	length  uint32  of the JSON header
//	crc     uint32  CRC-32 (IEEE) of the JSON header
//	header  JSON    sessionHeader
//	rest            a checkpoint (core.Trainer.Save, with its own checksum)
const sessionVersion = 1

var sessionMagic = [8]byte{'P', 'R', 'E', 'T', 'E', 'X', 'T', 'S'}

// maxSessionHeader bounds the header a damaged session could claim.
const maxSessionHeader = 1 << 20

type sessionHeader struct {
	// Settings are the run's. (Sessions the page wrote before this package
	// existed hold the page's settings, these fields and a few of its own,
	// which are ignored.)
	Settings Settings `json:"settings"`
	// RNG is the batch generator's state (math/rand/v2 PCG, binary).
	RNG []byte `json:"rng"`
}

// Save writes the run as a checkpoint (core.Trainer.Save) that also holds
// its settings and batch generator, between steps: FromTrainer on it goes
// on exactly where the run was, as FromSession does, and everything that
// reads checkpoints reads it.
func (r *Run) Save(w io.Writer) error {
	state, err := r.state()
	if err != nil {
		return err
	}
	// Only this checkpoint carries the state: left on the trainer, it
	// would go stale with the next step and be written by other saves.
	r.Trainer.RunState = state
	defer func() { r.Trainer.RunState = nil }()
	return r.Trainer.Save(w)
}

// state is the run's session header: settings and batch generator.
func (r *Run) state() ([]byte, error) {
	rng, err := r.src.MarshalBinary()
	if err != nil {
		return nil, err
	}
	return json.Marshal(sessionHeader{Settings: r.Settings, RNG: rng})
}

// Session encodes the run as a session, between steps.
func (r *Run) Session() ([]byte, error) {
	hdr, err := r.state()
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	buf.Write(sessionMagic[:])
	var u32 [4]byte
	for _, v := range []uint32{sessionVersion, uint32(len(hdr)), crc32.ChecksumIEEE(hdr)} {
		binary.LittleEndian.PutUint32(u32[:], v)
		buf.Write(u32[:])
	}
	buf.Write(hdr)
	if err := r.Trainer.Save(&buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// FromSession rebuilds the run a session holds: training it goes on as if
// it had never stopped (a task that relabels photos, such as the
// clustering ones, recomputes its labels from the restored trunk before
// the next step).
func FromSession(b []byte) (*Run, error) {
	if len(b) < 20 || !bytes.Equal(b[:8], sessionMagic[:]) {
		return nil, errors.New("recipe: not a saved Pretext session")
	}
	if v := binary.LittleEndian.Uint32(b[8:]); v != sessionVersion {
		return nil, fmt.Errorf("recipe: saved session version %d, this build reads %d", v, sessionVersion)
	}
	n := binary.LittleEndian.Uint32(b[12:])
	if n > maxSessionHeader || uint64(n) > uint64(len(b)-20) {
		return nil, errors.New("recipe: the saved session is damaged (its header does not fit)")
	}
	hdrBytes := b[20 : 20+n]
	if crc32.ChecksumIEEE(hdrBytes) != binary.LittleEndian.Uint32(b[16:]) {
		return nil, errors.New("recipe: the saved session is damaged (header checksum)")
	}
	tr, err := core.LoadTrainer(bytes.NewReader(b[20+n:]), tasks.Resolve)
	if err != nil {
		return nil, err
	}
	tr.RunState = nil // the session's header is the run's state
	return resume(hdrBytes, tr, "saved session")
}

// resume rebuilds a run from its state (a session header: settings and
// batch generator) and its trainer; what names the file for messages.
func resume(state []byte, tr *core.Trainer, what string) (*Run, error) {
	var hdr sessionHeader
	if err := json.Unmarshal(state, &hdr); err != nil {
		return nil, fmt.Errorf("recipe: the %s is damaged: %w", what, err)
	}
	src := new(rand.PCG)
	if err := src.UnmarshalBinary(hdr.RNG); err != nil {
		return nil, fmt.Errorf("recipe: the %s is damaged: %w", what, err)
	}
	task, ok := tr.Head.(tasks.Task)
	if !ok || task.Name() != hdr.Settings.Task {
		return nil, fmt.Errorf("recipe: the %s's model is not its %q task", what, hdr.Settings.Task)
	}
	s := hdr.Settings
	s.Channels = tr.Trunk.Config.InChannels // absent from the page's older sessions
	s, err := s.WithDefaults()
	if err != nil {
		return nil, fmt.Errorf("recipe: the %s's settings: %w", what, err)
	}
	if err := s.Validate(); err != nil {
		return nil, fmt.Errorf("recipe: the %s's settings: %w", what, err)
	}
	return &Run{Settings: s, Trainer: tr, Task: task, src: src, rng: rand.New(src)}, nil
}
