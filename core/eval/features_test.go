package eval

import (
	"math"
	"slices"
	"testing"
)

func TestStandardize(t *testing.T) {
	train := Features{N: 4, Dim: 3, Data: []float32{
		1, 5, 10,
		2, 5, 20,
		3, 5, 30,
		4, 5, 40,
	}}
	test := Features{N: 2, Dim: 3, Data: []float32{
		2.5, 5, 25,
		0, 6, 0,
	}}
	trainCopy, testCopy := slices.Clone(train.Data), slices.Clone(test.Data)
	st, ss := Standardize(train, test)
	if !slices.Equal(train.Data, trainCopy) || !slices.Equal(test.Data, testCopy) {
		t.Fatal("Standardize modified its inputs")
	}
	// Column 0: mean 2.5, population std sqrt(1.25); column 1 is constant;
	// column 2 is column 0 times 10.
	sd := math.Sqrt(1.25)
	want := []float64{
		-1.5 / sd, 0, -1.5 / sd,
		-0.5 / sd, 0, -0.5 / sd,
		0.5 / sd, 0, 0.5 / sd,
		1.5 / sd, 0, 1.5 / sd,
	}
	for k, v := range st.Data {
		if math.Abs(float64(v)-want[k]) > 1e-6 {
			t.Errorf("train[%d] = %v, want %v", k, v, want[k])
		}
	}
	// Test rows use the training statistics; the constant column's std is
	// floored at 1e-6.
	wantTest := []float64{0, 0, 0, -2.5 / sd, 1 / stdFloor, -2.5 / sd}
	for k, v := range ss.Data {
		if math.Abs(float64(v)-wantTest[k]) > 1e-6*math.Max(1, math.Abs(wantTest[k])) {
			t.Errorf("test[%d] = %v, want %v", k, v, wantTest[k])
		}
	}
}

func TestStandardizeMoments(t *testing.T) {
	rng := newRand(1)
	x := randomFeatures(rng, 500, 7)
	for i := range x.Data {
		x.Data[i] = x.Data[i]*float32(1+i%7) + 100 // offset and per-column scale
	}
	s, _ := Standardize(x, Features{Dim: 7})
	for j := range 7 {
		var sum, sq float64
		for i := range s.N {
			v := float64(s.Row(i)[j])
			sum += v
			sq += v * v
		}
		if mean, v := sum/500, sq/500; math.Abs(mean) > 1e-5 || math.Abs(v-1) > 1e-5 {
			t.Errorf("column %d: mean %v variance %v, want 0 and 1", j, mean, v)
		}
	}
}

func TestStandardizePanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("no panic on mismatched widths")
		}
	}()
	Standardize(Features{N: 1, Dim: 2, Data: []float32{1, 2}}, Features{N: 1, Dim: 3, Data: []float32{1, 2, 3}})
}

func TestFeaturesCheck(t *testing.T) {
	tests := []struct {
		name string
		f    Features
		ok   bool
	}{
		{"good", Features{N: 2, Dim: 2, Data: []float32{1, 2, 3, 4}}, true},
		{"empty", Features{N: 0, Dim: 2}, true},
		{"short", Features{N: 2, Dim: 2, Data: []float32{1, 2, 3}}, false},
		{"zero width", Features{N: 0, Dim: 0}, false},
		{"NaN", Features{N: 1, Dim: 2, Data: []float32{1, float32(math.NaN())}}, false},
		{"Inf", Features{N: 1, Dim: 2, Data: []float32{float32(math.Inf(-1)), 1}}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.f.check("test")
			if (err == nil) != tc.ok {
				t.Errorf("check = %v, want ok=%v", err, tc.ok)
			}
		})
	}
}
