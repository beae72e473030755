package core

import (
	"encoding/gob"
	"fmt"
	"math/rand/v2"

	"github.com/nlpodyssey/spago/mat"
	"github.com/nlpodyssey/spago/nn"
)

// TrunkConfig sets the shape of a [Trunk]. The zero value is workload RS
// (../shared/bench/WORKLOAD.md): three stages of 32, 64 and 128 channels on
// 3-channel input.
type TrunkConfig struct {
	// InChannels is the number of input channels: 3 for colour (default),
	// 1 for grey images such as Fashion-MNIST.
	InChannels int `json:"in_channels"`
	// Widths are the output channels of each stage (default 32, 64, 128).
	// Every stage but the last ends with a 2x2 max-pool of stride 2.
	Widths []int `json:"widths"`
	// Depth is the number of conv3x3-BN-ReLU layers per stage (default 1).
	Depth int `json:"depth"`
}

// WideTrunk is a wider, deeper trunk for native runs: twice RS's widths, two
// layers per stage.
var WideTrunk = TrunkConfig{Widths: []int{64, 128, 256}, Depth: 2}

// NamedTrunk returns a trunk configuration by the name the command line and
// the page use: "rs" (or "small"), the default, and "wide".
func NamedTrunk(name string) (TrunkConfig, error) {
	switch name {
	case "rs", "small", "":
		return TrunkConfig{}, nil
	case "wide":
		return WideTrunk, nil
	}
	return TrunkConfig{}, fmt.Errorf("core: unknown trunk %q (rs or wide)", name)
}

// Limits on a trunk's size: they keep a corrupt or hostile checkpoint header
// from asking for gigabytes before anything is read.
const (
	maxTrunkWidth  = 4096
	maxTrunkStages = 8
	maxTrunkDepth  = 16
	// maxTrunkValues bounds the parameters of the whole trunk, which the
	// limits above alone would let reach 19 billion: 2^24 values (64 MB),
	// 15 times the wide trunk's 1.1 million.
	maxTrunkValues = 1 << 24
)

// withDefaults returns c with its zero fields set to their defaults.
func (c TrunkConfig) withDefaults() TrunkConfig {
	if c.InChannels == 0 {
		c.InChannels = 3
	}
	if len(c.Widths) == 0 {
		c.Widths = []int{32, 64, 128}
	}
	if c.Depth == 0 {
		c.Depth = 1
	}
	return c
}

func (c TrunkConfig) validate() error {
	if c.InChannels < 1 || c.InChannels > maxTrunkWidth {
		return fmt.Errorf("core: trunk input channels %d out of range [1, %d]", c.InChannels, maxTrunkWidth)
	}
	if len(c.Widths) > maxTrunkStages {
		return fmt.Errorf("core: trunk has %d stages, at most %d allowed", len(c.Widths), maxTrunkStages)
	}
	for _, w := range c.Widths {
		if w < 1 || w > maxTrunkWidth {
			return fmt.Errorf("core: trunk width %d out of range [1, %d]", w, maxTrunkWidth)
		}
	}
	if c.Depth < 1 || c.Depth > maxTrunkDepth {
		return fmt.Errorf("core: trunk depth %d out of range [1, %d]", c.Depth, maxTrunkDepth)
	}
	if values := c.values(); values > maxTrunkValues {
		return fmt.Errorf("core: trunk %v of depth %d has %d parameters, at most %d allowed", c.Widths, c.Depth, values, maxTrunkValues)
	}
	return nil
}

// values is the number of parameters (batch-norm statistics included) of
// a trunk of c, whose fields are within their limits: each layer holds
// in*9*width conv weights and 4 per-channel vectors.
func (c TrunkConfig) values() int {
	values, in := 0, c.InChannels
	for _, w := range c.Widths {
		for range c.Depth {
			values += (in*9 + 4) * w
			in = w
		}
	}
	return values
}

// Trunk is the shared convolutional encoder every pretext task trains: stages
// of (conv 3x3 pad 1 without bias, batch-norm, ReLU) x Depth, a 2x2 max-pool
// between stages, and global average pooling into a feature vector.
type Trunk struct {
	nn.Module
	Config TrunkConfig
	Layers []*ConvBN

	// replica is set during a data-parallel training step (Trainer.Replica).
	replica *replicaStep
	// arena is set during a training step (Trainer.Step): the layers take
	// their activations and gradients from it.
	arena *stepArena
}

// ConvBN is one conv3x3 (stride 1, padding 1, no bias) + batch-norm + ReLU
// layer, optionally followed by a 2x2 max-pool of stride 2.
type ConvBN struct {
	nn.Module
	// W is [out, in*3*3], PyTorch's [out, in, 3, 3] flattened.
	W *nn.Param
	// Gamma and Beta are the batch-norm scale and shift, [out, 1].
	Gamma, Beta *nn.Param
	// RunMean and RunVar are the batch-norm running statistics, [out, 1];
	// they are saved with the model but take no gradient.
	RunMean, RunVar *nn.Param
	Pool            bool
}

var (
	_ nn.Model = &Trunk{}
	_ nn.Model = &ConvBN{}
)

func init() {
	gob.Register(&Trunk{})
	gob.Register(&ConvBN{})
}

var conv3x3 = ConvSpec{KH: 3, KW: 3, StrideH: 1, StrideW: 1, PadH: 1, PadW: 1}

// NewTrunk returns a trunk with He-normal conv weights (He et al. 2015, the
// initialisation for ReLU networks), unit BN scale and zero shift, drawn
// from rng.
func NewTrunk(cfg TrunkConfig, rng *rand.Rand) (*Trunk, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	t := &Trunk{Config: cfg}
	in := cfg.InChannels
	for s, width := range cfg.Widths {
		for d := range cfg.Depth {
			fanIn := in * 9
			ones := make([]float32, width)
			for i := range ones {
				ones[i] = 1
			}
			t.Layers = append(t.Layers, &ConvBN{
				W:       nn.NewParam(HeNormal(width, fanIn, fanIn, rng)),
				Gamma:   nn.NewParam(fromData(width, 1, ones)),
				Beta:    nn.NewParam(newMatrix(width, 1)),
				RunMean: nn.NewParam(newMatrix(width, 1)).WithGrad(false),
				RunVar:  nn.NewParam(fromData(width, 1, append([]float32(nil), ones...))).WithGrad(false),
				Pool:    d == cfg.Depth-1 && s < len(cfg.Widths)-1,
			})
			in = width
		}
	}
	return t, nil
}

// Features is the length of the trunk's pooled feature vector.
func (t *Trunk) Features() int { return t.Config.Widths[len(t.Config.Widths)-1] }

// OutShape returns the geometry of the last feature maps for input geometry
// in, or an error if the input does not fit the trunk.
func (t *Trunk) OutShape(in Shape) (Shape, error) {
	if in.C != t.Config.InChannels {
		return Shape{}, fmt.Errorf("core: trunk input has %d channels, want %d", in.C, t.Config.InChannels)
	}
	s := in
	for i, l := range t.Layers {
		var err error
		if s, err = conv3x3.Out(s, l.W.Shape()[0]); err != nil {
			return Shape{}, fmt.Errorf("core: trunk layer %d: %w", i, err)
		}
		if l.Pool {
			if s.H < 2 || s.W < 2 {
				return Shape{}, fmt.Errorf("core: trunk input %dx%d too small: layer %d pools %dx%d maps", in.H, in.W, i, s.H, s.W)
			}
			s.H, s.W = (s.H-2)/2+1, (s.W-2)/2+1
		}
	}
	return s, nil
}

// Maps runs the trunk's layers on x ([C, N*H*W], geometry in) and returns the
// last feature maps and their shape. train selects batch statistics in
// batch-norm (and updates the running statistics) instead of the running
// statistics.
func (t *Trunk) Maps(x mat.Tensor, in Shape, train bool) (mat.Tensor, Shape, error) {
	return t.run(x, in, train, false)
}

// run is Maps, or with pool Forward (the maps' global average).
func (t *Trunk) run(x mat.Tensor, in Shape, train, pool bool) (mat.Tensor, Shape, error) {
	out, err := t.OutShape(in)
	if err != nil {
		return nil, Shape{}, err
	}
	if err := in.check("trunk input", x); err != nil {
		return nil, Shape{}, err
	}
	if t.replica != nil {
		// A replica runs its share of the images; pooling its own maps
		// first leaves far fewer values to gather.
		y, err := t.replica.run(t, x, in, out, train, pool)
		return y, out, err
	}
	y, s, err := t.layers(x, in, train, nil)
	if err != nil || !pool {
		return y, s, err
	}
	y, err = globalAvgPool(y, s, t.arena)
	return y, s, err
}

// layers runs the layers; with r, batch-norm statistics are those of the
// whole data-parallel batch.
func (t *Trunk) layers(x mat.Tensor, in Shape, train bool, r *replicaStep) (mat.Tensor, Shape, error) {
	s := in
	for _, l := range t.Layers {
		var err error
		if x, s, err = l.forward(x, s, train, 0, r, t.arena); err != nil {
			return nil, Shape{}, err
		}
	}
	return x, s, nil
}

// Forward runs the trunk and global average pooling: the result is [N, F]
// with F = t.Features(), one feature vector per image.
func (t *Trunk) Forward(x mat.Tensor, in Shape, train bool) (mat.Tensor, error) {
	y, _, err := t.run(x, in, train, true)
	return y, err
}

// Forward applies the layer to x with geometry in.
func (l *ConvBN) Forward(x mat.Tensor, in Shape, train bool) (mat.Tensor, Shape, error) {
	return l.forward(x, in, train, 0, nil, nil)
}

// forward is Forward with the batch-norm momentum (0: the default) and,
// with r, batch-norm statistics synchronised across replicas.
// Its activations and gradients come from a (nil: allocated).
func (l *ConvBN) forward(x mat.Tensor, in Shape, train bool, momentum float32, r *replicaStep, a *stepArena) (mat.Tensor, Shape, error) {
	y, s, err := conv2D(x, in, l.W, conv3x3, a)
	if err != nil {
		return nil, Shape{}, err
	}
	stats := BNStats{Mean: data(l.RunMean), Var: data(l.RunVar)}
	opt := BNOptions{Train: train, ReLU: true, Momentum: momentum}
	if r != nil && train {
		y, err = syncBatchNorm(y, s, l.Gamma, l.Beta, stats, opt, r, a)
	} else {
		y, err = batchNorm2D(y, s, l.Gamma, l.Beta, stats, opt, a)
	}
	if err != nil {
		return nil, Shape{}, err
	}
	if l.Pool {
		return maxPool2D(y, s, 2, 2, a)
	}
	return y, s, nil
}

// MACs is the number of multiply-adds of the trunk's convolutions on one
// h x w image in the forward pass; a training step costs about three times
// as many (forward, input and weight gradients).
func (t *Trunk) MACs(h, w int) int64 {
	var total int64
	in := t.Config.InChannels
	for _, l := range t.Layers {
		out := l.W.Shape()[0]
		total += int64(h*w) * int64(in*9) * int64(out)
		if l.Pool {
			h, w = (h-2)/2+1, (w-2)/2+1
		}
		in = out
	}
	return total
}

// Embed returns the pooled features of each view (all the same size) in
// evaluation mode: running batch-norm statistics, nothing updated. It is
// the frozen trunk's representation, one vector of t.Features() per view.
func (t *Trunk) Embed(views []Planar) ([][]float32, error) {
	return t.EmbedLayer(views, len(t.Layers)-1, 1)
}

// EmbedLayer returns each view's feature maps after layer (0-based, its
// pooling included) averaged over a grid x grid partition of the map
// (adaptive average pooling, PyTorch's bins; grid 1 is global average
// pooling), in evaluation mode. A vector holds C*grid*grid values,
// channel-major: RotNet probed each block this way (Gidaris et al. 2018).
func (t *Trunk) EmbedLayer(views []Planar, layer, grid int) ([][]float32, error) {
	out, err := t.EmbedLayers(views, []Pooling{{Layer: layer, Grid: grid}})
	if err != nil {
		return nil, err
	}
	return out[0], nil
}

// Pooling names a layer's feature maps and the grid they are pooled over
// (see [Trunk.EmbedLayer]).
type Pooling struct{ Layer, Grid int }

// EmbedLayers is [Trunk.EmbedLayer] for several poolings in one forward
// pass: out[i][n] is view n's vector under pools[i].
func (t *Trunk) EmbedLayers(views []Planar, pools []Pooling) ([][][]float32, error) {
	last := -1
	for _, p := range pools {
		if p.Layer < 0 || p.Layer >= len(t.Layers) {
			return nil, fmt.Errorf("core: layer %d out of range [0, %d)", p.Layer, len(t.Layers))
		}
		last = max(last, p.Layer)
	}
	x, s, err := Stack(views)
	if err != nil {
		return nil, err
	}
	if _, err := t.OutShape(s); err != nil {
		return nil, err
	}
	out := make([][][]float32, len(pools))
	y := x
	for li, l := range t.Layers[:last+1] {
		next, ns, err := l.infer(y, s, false, 0)
		if li > 0 {
			putScratch(y)
		}
		if err != nil {
			return nil, fmt.Errorf("core: layer %d: %w", li, err)
		}
		y, s = next, ns
		for i, p := range pools {
			if p.Layer != li {
				continue
			}
			if out[i], err = gridPool(y, s, p.Grid); err != nil {
				putScratch(y)
				return nil, fmt.Errorf("core: layer %d: %w", li, err)
			}
		}
	}
	putScratch(y)
	return out, nil
}

// gridPool averages maps d ([C, N*H*W], geometry s) over a grid x grid
// partition with PyTorch's adaptive bins, one C*grid*grid vector per image.
func gridPool(d []float32, s Shape, grid int) ([][]float32, error) {
	if grid < 1 || grid > s.H || grid > s.W {
		return nil, fmt.Errorf("pooling grid %d does not fit %dx%d maps", grid, s.H, s.W)
	}
	plane := s.H * s.W
	out := make([][]float32, s.N)
	for n := range out {
		v := make([]float32, 0, s.C*grid*grid)
		for c := range s.C {
			m := d[(c*s.N+n)*plane : (c*s.N+n+1)*plane]
			for gy := range grid {
				y0, y1 := gy*s.H/grid, ((gy+1)*s.H+grid-1)/grid
				for gx := range grid {
					x0, x1 := gx*s.W/grid, ((gx+1)*s.W+grid-1)/grid
					var sum float64
					for yy := y0; yy < y1; yy++ {
						for _, f := range m[yy*s.W+x0 : yy*s.W+x1] {
							sum += float64(f)
						}
					}
					v = append(v, float32(sum/float64((y1-y0)*(x1-x0))))
				}
			}
		}
		out[n] = v
	}
	return out, nil
}

// RecomputeBN replaces every batch-norm layer's running statistics by
// their averages over batches (PyTorch's momentum=None: a cumulative
// average of the batch means and unbiased variances), calling next for
// each of n batches of same-sized views. Weights are not changed. Probes
// of frozen features use it so the statistics are the evaluation data's,
// not the pretext's (rotated crops, tiles).
func (t *Trunk) RecomputeBN(n int, next func(i int) ([]Planar, error)) error {
	return t.RecomputeBNTo(len(t.Layers)-1, n, next)
}

// RecomputeBNTo is RecomputeBN for layers 0 to last only (the ones whose
// output, or its pooling, is used): the forward passes stop there, and
// the later layers' statistics are left as they are.
func (t *Trunk) RecomputeBNTo(last, n int, next func(i int) ([]Planar, error)) error {
	if last < 0 || last >= len(t.Layers) {
		return fmt.Errorf("core: layer %d out of range [0, %d)", last, len(t.Layers))
	}
	for i := range n {
		views, err := next(i)
		if err != nil {
			return err
		}
		x, s, err := Stack(views)
		if err != nil {
			return err
		}
		if _, err := t.OutShape(s); err != nil {
			return err
		}
		y := x
		for li, l := range t.Layers[:last+1] {
			next, ns, err := l.infer(y, s, true, float32(1/float64(i+1)))
			if li > 0 {
				putScratch(y)
			}
			if err != nil {
				return fmt.Errorf("core: layer %d: %w", li, err)
			}
			y, s = next, ns
		}
		putScratch(y)
	}
	return nil
}

// Clone returns a deep copy of the trunk's configuration and parameters
// (weights and batch-norm running statistics), with no gradients: a trunk
// that can be changed (its statistics recomputed, say) without touching t.
func (t *Trunk) Clone() *Trunk {
	cp := func(p *nn.Param) *nn.Param {
		s := p.Value().Shape()
		q := nn.NewParam(fromData(s[0], s[1], append([]float32(nil), data(p)...)))
		if !p.RequiresGrad() {
			q = q.WithGrad(false)
		}
		return q
	}
	c := &Trunk{Config: t.Config}
	c.Config.Widths = append([]int(nil), t.Config.Widths...)
	for _, l := range t.Layers {
		c.Layers = append(c.Layers, &ConvBN{W: cp(l.W), Gamma: cp(l.Gamma), Beta: cp(l.Beta), RunMean: cp(l.RunMean), RunVar: cp(l.RunVar), Pool: l.Pool})
	}
	return c
}
