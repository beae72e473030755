package app

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"math/rand/v2"

	"github.com/pretextlab/pretext/core"
	"github.com/pretextlab/pretext/tasks"
)

// A session is what a page reload needs to carry a run on exactly where it
// was: the checkpoint (parameters, optimizer state, step) and, beside it,
// the run's settings and the state of the generator that draws its batches.
// The page keeps the latest one in the browser's IndexedDB (with the chart
// and the photos themselves) and hands it back after a reload.
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
	Settings Settings `json:"settings"`
	// RNG is the batch generator's state (math/rand/v2 PCG, binary).
	RNG []byte `json:"rng"`
}

// session encodes m; the caller holds a.modelMu and m is between steps.
func session(m *model) ([]byte, error) {
	rng, err := m.src.MarshalBinary()
	if err != nil {
		return nil, err
	}
	s := m.settings
	s.Replica, s.Resume = nil, false
	hdr, err := json.Marshal(sessionHeader{Settings: s, RNG: rng})
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
	if err := m.trainer.Save(&buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// SaveSession returns the current model as a session (see session). While
// a run trains, it waits for the step in progress to end.
func (a *App) SaveSession() ([]byte, error) {
	a.mu.Lock()
	m := a.model
	a.mu.Unlock()
	if m == nil {
		return nil, errors.New("no model to save: train or import one first")
	}
	a.modelMu.Lock()
	defer a.modelMu.Unlock()
	return session(m)
}

// RestoreSession makes a saved session the current model: a Train with
// Resume then continues it as if the page had never been reloaded (for
// tasks that relabel photos, such as the clustering ones, the labels are
// recomputed from the restored trunk before the next step).
func (a *App) RestoreSession(b []byte) (ModelInfo, error) {
	if len(b) < 20 || !bytes.Equal(b[:8], sessionMagic[:]) {
		return ModelInfo{}, errors.New("not a saved Pretext session")
	}
	if v := binary.LittleEndian.Uint32(b[8:]); v != sessionVersion {
		return ModelInfo{}, fmt.Errorf("saved session version %d, this build reads %d", v, sessionVersion)
	}
	n := binary.LittleEndian.Uint32(b[12:])
	if n > maxSessionHeader || uint64(n) > uint64(len(b)-20) {
		return ModelInfo{}, errors.New("the saved session is damaged (its header does not fit)")
	}
	hdrBytes := b[20 : 20+n]
	if crc32.ChecksumIEEE(hdrBytes) != binary.LittleEndian.Uint32(b[16:]) {
		return ModelInfo{}, errors.New("the saved session is damaged (header checksum)")
	}
	var hdr sessionHeader
	if err := json.Unmarshal(hdrBytes, &hdr); err != nil {
		return ModelInfo{}, fmt.Errorf("the saved session is damaged: %w", err)
	}
	src := new(rand.PCG)
	if err := src.UnmarshalBinary(hdr.RNG); err != nil {
		return ModelInfo{}, fmt.Errorf("the saved session is damaged: %w", err)
	}
	tr, err := core.LoadTrainer(bytes.NewReader(b[20+n:]), tasks.Resolve)
	if err != nil {
		return ModelInfo{}, err
	}
	task, ok := tr.Head.(tasks.Task)
	if !ok || task.Name() != hdr.Settings.Task {
		return ModelInfo{}, fmt.Errorf("the saved session's model is not its %q task", hdr.Settings.Task)
	}
	s := hdr.Settings.withDefaults()
	if err := s.validate(); err != nil {
		return ModelInfo{}, fmt.Errorf("the saved session's settings: %w", err)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.training {
		return ModelInfo{}, ErrBusy
	}
	a.model = &model{settings: s, trainer: tr, task: task, src: src, rng: rand.New(src)}
	return ModelInfo{Task: task.Name(), Step: tr.Steps(), Trunk: tr.Trunk.Config, Train: tr.Config}, nil
}
