package app

import (
	"fmt"
	"math"

	"github.com/pretextlab/pretext/core"
)

// Limits bound the photos the app holds, so that a tab never runs out of
// memory on them; zero fields take the defaults. Every photo is checked
// against them from its header, before it is decoded, and refused with the
// limit named.
type Limits struct {
	// MaxPhotos is the most photos held (default core.DefaultMaxPhotos).
	MaxPhotos int `json:"maxPhotos"`
	// MaxMegapixels is the largest photo taken, in millions of pixels
	// (default core.DefaultMaxPixels / 1e6).
	MaxMegapixels float64 `json:"maxMegapixels"`
	// MaxMegabytes bounds the memory of the photos held, in MiB: decoded
	// photos and the one being decoded (default core.DefaultMaxBytes).
	MaxMegabytes int `json:"maxMegabytes"`
}

// maxLimitMegabytes is the largest memory limit taken: wasm32's whole
// address space (4 GiB) could not hold more.
const maxLimitMegabytes = 4096

// Config is the core intake configuration of l; its errors name the field.
func (l Limits) Config() (core.IntakeConfig, error) {
	switch {
	case l.MaxPhotos < 0:
		return core.IntakeConfig{}, fmt.Errorf("the most photos %d is negative", l.MaxPhotos)
	case l.MaxMegapixels < 0 || math.IsNaN(l.MaxMegapixels) || l.MaxMegapixels > 1<<32/1e6:
		return core.IntakeConfig{}, fmt.Errorf("the largest photo %v megapixels is outside [0, %d]", l.MaxMegapixels, 1<<32/1_000_000)
	case l.MaxMegabytes < 0 || l.MaxMegabytes > maxLimitMegabytes:
		return core.IntakeConfig{}, fmt.Errorf("the memory for photos %d MB is outside [0, %d]", l.MaxMegabytes, maxLimitMegabytes)
	}
	return core.IntakeConfig{
		MaxPhotos: l.MaxPhotos,
		MaxPixels: int(l.MaxMegapixels * 1e6),
		MaxBytes:  int64(l.MaxMegabytes) << 20,
	}, nil
}

// SetLimits sets the limits checked by later AddImages calls (photos held
// already stay).
func (a *App) SetLimits(l Limits) error {
	cfg, err := l.Config()
	if err != nil {
		return err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.intake.MaxPhotos, a.intake.MaxPixels, a.intake.MaxBytes = cfg.MaxPhotos, cfg.MaxPixels, cfg.MaxBytes
	return nil
}

// heldBytes is the memory of the decoded photos. Callers hold a.mu.
func (a *App) heldBytes() int64 {
	var n int64
	for _, p := range a.photos {
		n += int64(len(p.Image.Pix))
	}
	return n
}
