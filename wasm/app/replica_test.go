package app

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pretextlab/pretext/core"
	"github.com/pretextlab/pretext/recipe"
)

// trainReplicas trains s on n apps with the sample photos, joined by
// core.LocalGroup, and returns each app's step events and result. stopAt,
// if positive, stops replica n-1 from its progress callback at that step.
func trainReplicas(t *testing.T, n int, s Settings, stopAt int) ([][]Event, []Result) {
	t.Helper()
	group := core.LocalGroup(n)
	events := make([][]Event, n)
	results := make([]Result, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for r := range n {
		a := withSamples(t)
		rs := s
		rs.Replica = group[r]
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[r], errs[r] = a.Train(context.Background(), rs, func(e Event) {
				if e.Type != "step" {
					return
				}
				events[r] = append(events[r], e)
				if r == n-1 && e.Step == stopAt {
					a.Stop()
				}
			})
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	return events, results
}

// TestReplicasTrainAsOne: two data-parallel apps (the page's workers)
// report the losses one app reports for the same settings, and the run's
// held-out score and previews come from rank 0 alone.
func TestReplicasTrainAsOne(t *testing.T) {
	t.Parallel()
	s := quick("rotation", 4)
	s.Batch = 16
	var one []Event
	want, err := withSamples(t).Train(context.Background(), s, func(e Event) {
		if e.Type == "step" {
			one = append(one, e)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	events, results := trainReplicas(t, 2, s, 0)
	for r := range 2 {
		if len(events[r]) != len(one) {
			t.Fatalf("replica %d: %d steps, one app %d", r, len(events[r]), len(one))
		}
		for i, e := range events[r] {
			if d := math.Abs(e.Loss - one[i].Loss); d > 1e-5*max(1, one[i].Loss) {
				t.Errorf("replica %d step %d: loss %.7f, one app %.7f", r, e.Step, e.Loss, one[i].Loss)
			}
		}
	}
	if got := results[0].HeldOut; got.Photos != want.HeldOut.Photos || math.Abs(got.Loss-want.HeldOut.Loss) > 1e-4*max(1, want.HeldOut.Loss) {
		t.Errorf("rank 0 held-out score %+v, one app %+v", got, want.HeldOut)
	}
	if results[1].HeldOut.Photos != 0 {
		t.Errorf("rank 1 computed a held-out score: %+v", results[1].HeldOut)
	}
}

// TestReplicaStopStopsAll: a stop asked of one replica stops every
// replica after the same step (none is left waiting for the others).
func TestReplicaStopStopsAll(t *testing.T) {
	t.Parallel()
	events, results := trainReplicas(t, 2, quick("rotation", 50), 3)
	for r := range 2 {
		if !results[r].Stopped || results[r].Step != results[0].Step || len(events[r]) != results[0].Step {
			t.Errorf("replica %d: stopped %v at step %d with %d step events; replica 0 at %d", r, results[r].Stopped, results[r].Step, len(events[r]), results[0].Step)
		}
	}
	if results[0].Step < 3 || results[0].Step > 4 {
		t.Errorf("stopped at step %d, asked at 3", results[0].Step)
	}
}

// TestReplicasRefuseDifferentPhotos: replicas whose photos differ (a file
// one worker could not read, say) stop with an error before the first
// step rather than train apart.
func TestReplicasRefuseDifferentPhotos(t *testing.T) {
	t.Parallel()
	group := core.LocalGroup(2)
	errs := make([]error, 2)
	var wg sync.WaitGroup
	for r := range 2 {
		a := withSamples(t)
		if r == 1 {
			a.photos = a.photos[1:]
		}
		s := quick("rotation", 3)
		s.Replica = group[r]
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[r] = a.Train(context.Background(), s, nil)
		}()
	}
	wg.Wait()
	for r, err := range errs {
		if err == nil || !strings.Contains(err.Error(), "different photos") {
			t.Errorf("replica %d: err = %v, want the replicas' difference", r, err)
		}
	}
}

// TestReplicaResumesAlone: a run stopped on two replicas resumes on one of
// them alone (a resumed run uses its own group, never the last run's).
func TestReplicaResumesAlone(t *testing.T) {
	t.Parallel()
	group := core.LocalGroup(2)
	apps := []*App{withSamples(t), withSamples(t)}
	results := make([]Result, 2)
	errs := make([]error, 2)
	var wg sync.WaitGroup
	for r := range 2 {
		s := quick("rotation", 50)
		s.Replica = group[r]
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[r], errs[r] = apps[r].Train(context.Background(), s, func(e Event) {
				if e.Type == "step" && e.Step == 2 {
					apps[r].Stop()
				}
			})
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		res, err := apps[0].Train(context.Background(), Settings{Settings: recipe.Settings{Steps: results[0].Step + 2}, Resume: true}, nil)
		if err == nil && res.Step != results[0].Step+2 {
			err = fmt.Errorf("resumed to step %d, want %d", res.Step, results[0].Step+2)
		}
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(2 * time.Minute):
		t.Fatal("the resumed run waits for the last run's group")
	}
}
