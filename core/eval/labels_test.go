package eval

import (
	"slices"
	"strings"
	"testing"
)

func TestReadLabelsCSV(t *testing.T) {
	in := "\ufefffile, label\r\n" + // a spreadsheet's byte-order mark and CRLFs
		"b.jpg,cat\r\n" +
		" a.jpg , dog \r\n" +
		"\"c, the third.png\",cat\r\n" +
		"sub/d.webp,bird\r\n"
	got, err := ReadLabelsCSV(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	want := []Labelled{{"b.jpg", "cat"}, {"a.jpg", "dog"}, {"c, the third.png", "cat"}, {"sub/d.webp", "bird"}}
	if !slices.Equal(got, want) {
		t.Errorf("got %v\nwant %v", got, want)
	}
}

func TestReadLabelsCSVErrors(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"empty", "", "labels.csv is empty"},
		{"no rows", "file,label\n", "a header but no rows"},
		{"bad header", "name,class\na.jpg,cat\n", `header is "name,class", want "file,label"`},
		{"three columns", "file,label,extra\n", `header is "file,label,extra"`},
		{"short row", "file,label\na.jpg,cat\nb.jpg\n", "line 3 has 1 fields, want 2"},
		{"long row", "file,label\na.jpg,cat,x\n", "line 2 has 3 fields"},
		{"empty file", "file,label\n ,cat\n", "line 2 has an empty file name"},
		{"empty label", "file,label\na.jpg,\n", "line 2: a.jpg has an empty label"},
		{"duplicate", "file,label\na.jpg,cat\nb.jpg,dog\na.jpg,dog\n", "line 4: a.jpg is already labelled on line 2"},
		{"parent", "file,label\n../a.jpg,cat\n", `file "../a.jpg" is not a relative path`},
		{"absolute", "file,label\n/etc/a.jpg,cat\n", `file "/etc/a.jpg" is not a relative path`},
		{"bad quote", "file,label\n\"a.jpg,cat\n", "labels.csv: "},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ReadLabelsCSV(strings.NewReader(tc.in))
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "eval: ") {
				t.Errorf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestFolds(t *testing.T) {
	items := []Labelled{
		{"c5.jpg", "cat"}, {"d2.jpg", "dog"}, {"c1.jpg", "cat"}, {"c3.jpg", "cat"},
		{"d1.jpg", "dog"}, {"c2.jpg", "cat"}, {"b1.jpg", "bird"}, {"d3.jpg", "dog"},
		{"c4.jpg", "cat"}, {"c6.jpg", "cat"}, {"c7.jpg", "cat"},
	}
	// By hand, k = 3: cats c1..c7 ranked 0..6 take folds 0 1 2 0 1 2 0;
	// dogs d1..d3 take 0 1 2; the bird takes 0.
	want := []int{1, 1, 0, 2, 0, 1, 0, 2, 0, 2, 0}
	got := Folds(items, 3)
	if !slices.Equal(got, want) {
		t.Fatalf("folds %v, want %v", got, want)
	}
	// Every class with at least k items is in every fold, and its fold
	// sizes differ by at most one.
	counts := map[string][]int{}
	for i, it := range items {
		if counts[it.Label] == nil {
			counts[it.Label] = make([]int, 3)
		}
		counts[it.Label][got[i]]++
	}
	for label, c := range counts {
		lo, hi := slices.Min(c), slices.Max(c)
		if hi-lo > 1 || (label != "bird" && lo == 0) {
			t.Errorf("%s: fold sizes %v", label, c)
		}
	}
	// The input order does not matter.
	rev := slices.Clone(items)
	slices.Reverse(rev)
	back := Folds(rev, 3)
	slices.Reverse(back)
	if !slices.Equal(back, want) {
		t.Errorf("reversed input: folds %v, want %v", back, want)
	}
	if got := Folds(items, 1); slices.Max(got) != 0 {
		t.Errorf("k=1: folds %v", got)
	}
}

func TestFoldsPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("no panic for k=0")
		}
	}()
	Folds([]Labelled{{"a", "b"}}, 0)
}

func TestClassIndex(t *testing.T) {
	items := []Labelled{{"1", "dog"}, {"2", "cat"}, {"3", "bird"}, {"4", "cat"}, {"5", "Zebra"}}
	names, ids := ClassIndex(items)
	if want := []string{"Zebra", "bird", "cat", "dog"}; !slices.Equal(names, want) {
		t.Errorf("names %v, want %v (byte order)", names, want)
	}
	if want := []int{3, 2, 1, 2, 0}; !slices.Equal(ids, want) {
		t.Errorf("ids %v, want %v", ids, want)
	}
	if names, ids := ClassIndex(nil); len(names) != 0 || len(ids) != 0 {
		t.Errorf("no items: %v %v", names, ids)
	}
}
