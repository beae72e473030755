package tasks

import (
	"encoding/gob"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/nlpodyssey/spago/ag"
	"github.com/nlpodyssey/spago/mat"
	"github.com/nlpodyssey/spago/nn"

	"github.com/pretextlab/pretext/core"
)

// Decoder is the image head of the generative tasks (inpainting,
// super-resolution): it upsamples the trunk's last maps back to the input's
// resolution, one 2x stage per pooling of the trunk, and ends in a 3x3
// convolution to the input's channels. Its output is a residual added to
// the network's input, so an untrained (near-zero) decoder reproduces the
// input: the masked crop filled with the mean, the bicubic upsample.
type Decoder struct {
	nn.Module
	// Stages double the maps' size, each followed by batch-norm and ReLU.
	Stages []*DecoderStage
	// Out is the final 3x3 convolution (padding 1, no bias) to the image's
	// channels, [C, width*9].
	Out *nn.Param
	// Skip, when set, is a 3x3 convolution of the network's input image
	// ([C, C*9]) added to the output: a path for detail the trunk's pooled
	// maps no longer hold (super-resolution).
	Skip *nn.Param

	mode string // the stages' upsampling: decoderModes
}

// DecoderStage is one 2x upsampling layer of a [Decoder] with batch-norm
// and ReLU.
type DecoderStage struct {
	nn.Module
	// W is the upsampling's weight: for "deconv" a transposed convolution
	// (kernel 4, stride 2, padding 1) [in, out*16]; otherwise a 3x3
	// convolution [out, in*9] after nearest or bilinear 2x upsampling.
	W                            *nn.Param
	Gamma, Beta, RunMean, RunVar *nn.Param
}

var (
	_ nn.Model = &Decoder{}
	_ nn.Model = &DecoderStage{}
)

func init() {
	gob.Register(&Decoder{})
	gob.Register(&DecoderStage{})
}

// decoderModes are the upsampling layers a decoder can use: "deconv", the
// DCGAN generator's transposed convolution (kernel 4, stride 2, padding 1)
// that Pathak et al.'s context encoder decodes with; "nearest" and
// "bilinear", 2x resampling followed by a 3x3 convolution, which avoids
// the transposed convolution's checkerboard artefacts (Odena, Dumoulin &
// Olah 2016, "Deconvolution and Checkerboard Artifacts", Distill).
var decoderModes = []string{"deconv", "nearest", "bilinear"}

var (
	deconv4 = core.ConvSpec{KH: 4, KW: 4, StrideH: 2, StrideW: 2, PadH: 1, PadW: 1}
	same3   = core.ConvSpec{KH: 3, KW: 3, PadH: 1, PadW: 1}
)

// decoderWidth is the width of stage i for base width hidden: halved each
// stage (resolution doubles, so the cost per stage stays level), at least 8.
func decoderWidth(hidden, i int) int { return max(8, hidden>>i) }

// newDecoder returns a decoder from trunk's last maps for size x size
// inputs back to size x size, with base width hidden and upsampling mode,
// drawing weights from rng. The trunk's total stride must be a power of two
// dividing size exactly.
func newDecoder(trunk *core.Trunk, size, hidden int, mode string, skip bool, rng *rand.Rand) (*Decoder, error) {
	if !slices.Contains(decoderModes, mode) {
		return nil, fmt.Errorf("unknown upsample %q (want one of %v)", mode, decoderModes)
	}
	c := trunk.Config.InChannels
	fs, err := trunk.OutShape(core.Shape{N: 1, C: c, H: size, W: size})
	if err != nil {
		return nil, err
	}
	stages := 0
	for h := fs.H; h < size; h *= 2 {
		stages++
	}
	if fs.H<<stages != size || fs.W<<stages != size {
		return nil, fmt.Errorf("size %d does not come back from the trunk's %dx%d maps by doubling: use a multiple of %d", size, fs.H, fs.W, 1<<stages)
	}
	if hidden < 1 || hidden > 1024 {
		return nil, fmt.Errorf("hidden %d out of range [1, 1024]", hidden)
	}
	values, in := 0, fs.C
	for i := range stages {
		out := decoderWidth(hidden, i)
		values += in*out*16 + 4*out // the kernel of "deconv", the larger
		in = out
	}
	if values += (in + c) * c * 9; values > core.MaxHeadValues {
		return nil, fmt.Errorf("the decoder would have %d parameters, at most %d allowed", values, core.MaxHeadValues)
	}
	d := &Decoder{mode: mode}
	in = fs.C
	for i := range stages {
		out := decoderWidth(hidden, i)
		var w *mat.Dense[float32]
		switch mode {
		case "deconv":
			// Each output pixel of a stride-2 kernel-4 transposed conv
			// sums in*16/4 inputs.
			w = core.HeNormal(in, out*16, in*4, rng)
		default:
			w = core.HeNormal(out, in*9, in*9, rng)
		}
		d.Stages = append(d.Stages, &DecoderStage{
			W:       nn.NewParam(w),
			Gamma:   nn.NewParam(matrix(out, 1, filled(out, 1))),
			Beta:    nn.NewParam(matrix(out, 1, make([]float32, out))),
			RunMean: nn.NewParam(matrix(out, 1, make([]float32, out))).WithGrad(false),
			RunVar:  nn.NewParam(matrix(out, 1, filled(out, 1))).WithGrad(false),
		})
		in = out
	}
	// Zero, as Skip: the untrained head predicts a zero residual and
	// scores exactly the baseline (random output weights made the first
	// Adam steps worse than it). Both take a gradient at once, their
	// inputs (ReLU maps, the image) not being zero; the stages behind Out
	// from the second step.
	d.Out = nn.NewParam(matrix(c, in*9, make([]float32, c*in*9)))
	if skip {
		d.Skip = nn.NewParam(matrix(c, c*9, make([]float32, c*c*9)))
	}
	return d, nil
}

// filled returns n copies of v.
func filled(n int, v float32) []float32 {
	out := make([]float32, n)
	for i := range out {
		out[i] = v
	}
	return out
}

// Forward decodes the trunk's maps f (geometry fs) into a residual image
// [C, N*H*W] of the input x's geometry in (x is the network's input, used
// by Skip).
func (d *Decoder) Forward(f mat.Tensor, fs core.Shape, x mat.Tensor, in core.Shape, train bool) (mat.Tensor, error) {
	y, s := f, fs
	for i, st := range d.Stages {
		var err error
		switch d.mode {
		case "deconv":
			y, s, err = core.ConvTranspose2D(y, s, st.W, deconv4)
		case "nearest", "bilinear":
			if d.mode == "nearest" {
				y, s, err = core.Upsample2x(y, s)
			} else {
				y, s, err = core.UpsampleBilinear2x(y, s)
			}
			if err == nil {
				y, s, err = core.Conv2D(y, s, st.W, same3)
			}
		}
		if err != nil {
			return nil, fmt.Errorf("decoder stage %d: %w", i, err)
		}
		stats := core.BNStats{Mean: mat.Data[float32](st.RunMean.Value()), Var: mat.Data[float32](st.RunVar.Value())}
		if y, err = core.BatchNorm2D(y, s, st.Gamma, st.Beta, stats, core.BNOptions{Train: train, ReLU: true}); err != nil {
			return nil, fmt.Errorf("decoder stage %d: %w", i, err)
		}
	}
	if s.H != in.H || s.W != in.W || s.N != in.N {
		return nil, fmt.Errorf("decoder output %v does not match the input %v", s, in)
	}
	z, _, err := core.Conv2D(y, s, d.Out, same3)
	if err != nil {
		return nil, fmt.Errorf("decoder output: %w", err)
	}
	if d.Skip != nil {
		k, _, err := core.Conv2D(x, in, d.Skip, same3)
		if err != nil {
			return nil, fmt.Errorf("decoder skip: %w", err)
		}
		z = ag.Add(z, k)
	}
	return z, nil
}

// planesOf converts a batch's per-example C x H x W values (Planar layout,
// as Example.Target holds them) into the batch layout [C, N*H*W].
func planesOf(items [][]float32, c, hw int) []float32 {
	n := len(items)
	out := make([]float32, c*n*hw)
	for i, v := range items {
		for ch := range c {
			copy(out[(ch*n+i)*hw:(ch*n+i+1)*hw], v[ch*hw:(ch+1)*hw])
		}
	}
	return out
}

// imageAt returns example n of a batch-layout matrix d ([C, N*H*W]) as a
// planar image.
func imageAt(d []float32, s core.Shape, n int) core.Planar {
	p := core.NewPlanar(s.C, s.H, s.W)
	hw := s.H * s.W
	for ch := range s.C {
		copy(p.Pix[ch*hw:(ch+1)*hw], d[(ch*s.N+n)*hw:(ch*s.N+n+1)*hw])
	}
	return p
}

// normFor is the normalisation core.TrunkInput uses for a trunk of
// channels input channels.
func normFor(channels int) core.Normalization {
	if channels == 1 {
		return core.GreyNorm
	}
	return core.ImageNetNorm
}

// psnr is the peak signal-to-noise ratio in dB of a against b (planar
// images normalised by norm), on the 8-bit scale: both are mapped back to
// [0, 1], clamped, and compared over every channel. Identical images give
// +Inf.
func psnr(a, b core.Planar, norm core.Normalization) float64 {
	plane := a.H * a.W
	var se float64
	for i := range a.Pix {
		c := i / plane
		va := max(0, min(1, float64(a.Pix[i]*norm.Std[c]+norm.Mean[c])))
		vb := max(0, min(1, float64(b.Pix[i]*norm.Std[c]+norm.Mean[c])))
		se += (va - vb) * (va - vb)
	}
	return psnrOf(se / float64(len(a.Pix)))
}

// psnrOf is the PSNR in dB of a mean squared error on the [0, 1] scale.
func psnrOf(mse float64) float64 { return -10 * math.Log10(mse) }

// errorGain is 1 - Σ (r - want)² / Σ want² over the positions where hole
// (one value per column of the [C, P] layout) is not zero, or over every
// value if hole is nil, clamped to [0, 1]: the fraction of a zero
// residual's squared error that residual r removes (want is the residual
// that restores the original).
func errorGain(r, want, hole []float32) float64 {
	var se, base float64
	for i, w := range want {
		if hole != nil && hole[i%len(hole)] == 0 {
			continue
		}
		d := float64(r[i]) - float64(w)
		se += d * d
		base += float64(w) * float64(w)
	}
	if base == 0 {
		return 0
	}
	return max(0, min(1, 1-se/base))
}
