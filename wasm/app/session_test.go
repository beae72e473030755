package app

import (
	"context"
	"math"
	"strings"
	"testing"

	"github.com/pretextlab/pretext/recipe"
)

// TestSessionResumesExactly: a run stopped at step 5, saved as a session,
// restored into a fresh app (the page after a reload) and resumed takes
// the steps an uninterrupted run takes: same losses, same batches.
func TestSessionResumesExactly(t *testing.T) {
	const steps, stopAt = 10, 5
	s := quick("rotation", steps)
	var want []float64
	if _, err := withSamples(t).Train(context.Background(), s, func(e Event) {
		if e.Type == "step" {
			want = append(want, e.Loss)
		}
	}); err != nil {
		t.Fatal(err)
	}

	a := withSamples(t)
	s.SaveEvery = 3
	var saved [][]byte
	var savedAt []int
	res, err := a.Train(context.Background(), s, func(e Event) {
		switch e.Type {
		case "step":
			if e.Step == stopAt {
				a.Stop()
			}
		case "session":
			if e.Message != "" {
				t.Errorf("session event: %s", e.Message)
			}
			saved, savedAt = append(saved, e.Session), append(savedAt, e.Step)
		}
	})
	if err != nil || !res.Stopped || res.Step != stopAt {
		t.Fatalf("stopped run: %+v, %v", res, err)
	}
	// Every 3 steps, and at the stop.
	if len(savedAt) != 2 || savedAt[0] != 3 || savedAt[1] != stopAt {
		t.Fatalf("sessions saved at steps %v, want [3 %d]", savedAt, stopAt)
	}

	b := withSamples(t)
	info, err := b.RestoreSession(saved[len(saved)-1])
	if err != nil {
		t.Fatal(err)
	}
	if info.Step != stopAt || info.Task != "rotation" {
		t.Fatalf("restored %+v", info)
	}
	var got []float64
	if _, err := b.Train(context.Background(), Settings{Settings: recipe.Settings{Steps: steps}, Resume: true}, func(e Event) {
		if e.Type == "step" {
			got = append(got, e.Loss)
		}
	}); err != nil {
		t.Fatal(err)
	}
	if len(got) != steps-stopAt {
		t.Fatalf("resumed for %d steps, want %d", len(got), steps-stopAt)
	}
	for i, l := range got {
		if w := want[stopAt+i]; math.Abs(l-w) > 1e-6*max(1, w) {
			t.Errorf("step %d: loss %.7f after the restore, %.7f uninterrupted", stopAt+i+1, l, w)
		}
	}
}

// TestSessionRefusesDamage: a damaged session is refused with a clear
// error and leaves the current model alone.
func TestSessionRefusesDamage(t *testing.T) {
	a := withSamples(t)
	if _, err := a.Train(context.Background(), quick("rotation", 2), nil); err != nil {
		t.Fatal(err)
	}
	good, err := a.SaveSession()
	if err != nil {
		t.Fatal(err)
	}
	flip := func(i int) []byte {
		b := append([]byte(nil), good...)
		b[i] ^= 0x40
		return b
	}
	for name, tc := range map[string]struct {
		data []byte
		want string
	}{
		"empty":           {nil, "not a saved Pretext session"},
		"a checkpoint":    {good[20+int(good[12])+int(good[13])<<8:], "not a saved Pretext session"},
		"newer version":   {flip(8), "version"},
		"header bit":      {flip(25), "checksum"},
		"checkpoint bit":  {flip(len(good) - 50), "checksum"},
		"truncated":       {good[:len(good)/2], "truncated"},
		"header too long": {flip(15), "does not fit"},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := a.RestoreSession(tc.data); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want one mentioning %q", err, tc.want)
			}
		})
	}
	if st := a.Status(); st.Step != 2 || st.Task != "rotation" {
		t.Errorf("after refused sessions the model is %+v", st)
	}
}
