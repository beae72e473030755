package app

import (
	"math"
	"strings"
	"testing"
)

// TestLimitsRefuseAbsurd: the page's photo limits that are NaN, infinite,
// negative or past what wasm32 could hold are refused with a message naming
// the limit, and the limits in force stay as they were.
func TestLimitsRefuseAbsurd(t *testing.T) {
	t.Parallel()
	a := New()
	if err := a.SetLimits(Limits{MaxPhotos: 7}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		l    Limits
		want string
	}{
		{Limits{MaxMegapixels: math.NaN()}, "largest photo NaN megapixels"},
		{Limits{MaxMegapixels: math.Inf(1)}, "largest photo +Inf megapixels"},
		{Limits{MaxMegapixels: -1}, "largest photo -1 megapixels"},
		{Limits{MaxMegapixels: 1e30}, "outside [0, 4294]"},
		{Limits{MaxMegabytes: 4097}, "memory for photos 4097 MB"},
		{Limits{MaxMegabytes: -1}, "memory for photos -1 MB"},
		{Limits{MaxPhotos: -3}, "most photos -3"},
	} {
		if err := a.SetLimits(tc.l); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("SetLimits(%+v) = %v; want an error saying %q", tc.l, err, tc.want)
		}
	}
	a.mu.Lock()
	got := a.intake.MaxPhotos
	a.mu.Unlock()
	if got != 7 {
		t.Errorf("after the refusals the most photos is %d; want the 7 set before", got)
	}
}
