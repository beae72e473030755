package eval

import (
	"cmp"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"slices"
	"strings"
)

// Labelled is one row of a labelled folder's labels.csv: a file of the
// folder and its class name.
type Labelled struct {
	File, Label string
}

// ReadLabelsCSV reads a labelled folder's labels.csv: a header row
// "file,label" then one row per file, in CSV (RFC 4180) syntax. Fields are
// trimmed of surrounding spaces, and a UTF-8 byte-order mark before the
// header (as spreadsheet programs write) is skipped. It is an error, naming
// the line, for a row to have other than two fields, an empty file or
// label, a file that is not a plain relative path inside the folder (see
// [fs.ValidPath]: no leading "/", no "." or ".." elements) or a file listed
// twice; a file without rows is an error too.
func ReadLabelsCSV(r io.Reader) ([]Labelled, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1 // counted below, with a clearer message
	cr.ReuseRecord = true
	header, err := cr.Read()
	if err == io.EOF {
		return nil, errors.New("eval: labels.csv is empty, want a header \"file,label\"")
	}
	if err != nil {
		return nil, fmt.Errorf("eval: labels.csv: %v", err)
	}
	if len(header) > 0 {
		header[0] = strings.TrimPrefix(header[0], "\ufeff")
	}
	if len(header) != 2 || strings.TrimSpace(header[0]) != "file" || strings.TrimSpace(header[1]) != "label" {
		return nil, fmt.Errorf("eval: labels.csv header is %q, want \"file,label\"", strings.Join(header, ","))
	}
	var items []Labelled
	seen := make(map[string]int) // file -> line
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("eval: labels.csv: %v", err)
		}
		line, _ := cr.FieldPos(0)
		if len(rec) != 2 {
			return nil, fmt.Errorf("eval: labels.csv line %d has %d fields, want 2 (file,label)", line, len(rec))
		}
		file, label := strings.TrimSpace(rec[0]), strings.TrimSpace(rec[1])
		switch {
		case file == "":
			return nil, fmt.Errorf("eval: labels.csv line %d has an empty file name", line)
		case label == "":
			return nil, fmt.Errorf("eval: labels.csv line %d: %s has an empty label", line, file)
		case !fs.ValidPath(file) || file == ".":
			return nil, fmt.Errorf("eval: labels.csv line %d: file %q is not a relative path inside the folder", line, file)
		}
		if first, dup := seen[file]; dup {
			return nil, fmt.Errorf("eval: labels.csv line %d: %s is already labelled on line %d", line, file, first)
		}
		seen[file] = line
		items = append(items, Labelled{File: file, Label: label})
	}
	if len(items) == 0 {
		return nil, errors.New("eval: labels.csv has a header but no rows")
	}
	return items, nil
}

// Folds assigns every item one of k folds without randomness, stratified by
// class: within each label, items sorted by file name take folds 0, 1, ...,
// k-1, 0, 1, ... in turn (rank mod k). So every class with at least k items
// is in every fold, and fold sizes per class differ by at most one. It
// returns the fold of items[i] at index i (equal file names keep their
// input order). Folds panics if k < 1.
func Folds(items []Labelled, k int) []int {
	if k < 1 {
		panic(fmt.Sprintf("eval: Folds with k=%d, want at least 1", k))
	}
	order := make([]int, len(items))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		return cmp.Or(strings.Compare(items[a].Label, items[b].Label), strings.Compare(items[a].File, items[b].File))
	})
	folds := make([]int, len(items))
	rank := 0
	for n, i := range order {
		if n > 0 && items[i].Label != items[order[n-1]].Label {
			rank = 0
		}
		folds[i] = rank % k
		rank++
	}
	return folds
}

// ClassIndex numbers the distinct labels of items 0, 1, ... in sorted
// (byte-wise) order, returning the label names by class id and the class id
// of every item.
func ClassIndex(items []Labelled) (names []string, ids []int) {
	for _, it := range items {
		names = append(names, it.Label)
	}
	slices.Sort(names)
	names = slices.Compact(names)
	ids = make([]int, len(items))
	for i, it := range items {
		ids[i], _ = slices.BinarySearch(names, it.Label)
	}
	return names, ids
}
