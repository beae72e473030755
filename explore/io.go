package explore

import (
	"bufio"
	"encoding/binary"
	"encoding/csv"
	"fmt"
	"io"
	"math"
	"strconv"
)

// WriteCSV writes the set as CSV: a header row "file,f0,f1,...", then one
// row per photo, its name first, the values in Go's shortest float32 form.
func WriteCSV(w io.Writer, s *Set) error {
	if err := s.check(); err != nil {
		return err
	}
	cw := csv.NewWriter(w)
	row := make([]string, s.Dim+1)
	row[0] = "file"
	for j := range s.Dim {
		row[j+1] = "f" + strconv.Itoa(j)
	}
	if err := cw.Write(row); err != nil {
		return err
	}
	for i, name := range s.Names {
		row[0] = name
		for j, v := range s.Row(i) {
			row[j+1] = strconv.FormatFloat(float64(v), 'g', -1, 32)
		}
		if err := cw.Write(row); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// WriteNPY writes the set's values as a NumPy .npy file (format 1.0): a
// little-endian float32 array of shape (N, Dim), C order. The names are
// not in it: WriteNames writes them, one a line, in the same order.
func WriteNPY(w io.Writer, s *Set) error {
	if err := s.check(); err != nil {
		return err
	}
	header := fmt.Sprintf("{'descr': '<f4', 'fortran_order': False, 'shape': (%d, %d), }", s.Len(), s.Dim)
	// The magic, version and length take 10 bytes; the header is padded
	// with spaces and ends in a newline so the data starts 64-byte aligned.
	pad := 64 - (10+len(header)+1)%64
	if pad == 64 {
		pad = 0
	}
	for range pad {
		header += " "
	}
	header += "\n"
	bw := bufio.NewWriter(w)
	bw.WriteString("\x93NUMPY\x01\x00")
	binary.Write(bw, binary.LittleEndian, uint16(len(header)))
	bw.WriteString(header)
	var b [4]byte
	for _, v := range s.Vecs {
		binary.LittleEndian.PutUint32(b[:], math.Float32bits(v))
		bw.Write(b[:])
	}
	return bw.Flush()
}

// WriteNames writes the set's names, one a line: the rows of WriteNPY.
func WriteNames(w io.Writer, s *Set) error {
	bw := bufio.NewWriter(w)
	for _, n := range s.Names {
		bw.WriteString(n)
		bw.WriteByte('\n')
	}
	return bw.Flush()
}

// WritePredictions writes the predicted labels as CSV: the header
// "file,label,confidence", then a row for every photo that was not named.
func WritePredictions(w io.Writer, s *Set, l Labels) error {
	if len(l.Pred) != s.Len() || len(l.Confidence) != s.Len() || len(l.Named) != s.Len() {
		return fmt.Errorf("explore: labels of %d photos for a set of %d", len(l.Pred), s.Len())
	}
	cw := csv.NewWriter(w)
	if err := cw.Write([]string{"file", "label", "confidence"}); err != nil {
		return err
	}
	for i, name := range s.Names {
		if l.Named[i] {
			continue
		}
		if err := cw.Write([]string{name, l.Classes[l.Pred[i]], strconv.FormatFloat(l.Confidence[i], 'f', 4, 64)}); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// WriteGroups writes groups as CSV: the header "file,group", then one row
// per photo, in the set's order.
func WriteGroups(w io.Writer, s *Set, g Groups) error {
	if len(g.Labels) != s.Len() {
		return fmt.Errorf("explore: groups of %d photos for a set of %d", len(g.Labels), s.Len())
	}
	cw := csv.NewWriter(w)
	if err := cw.Write([]string{"file", "group"}); err != nil {
		return err
	}
	for i, name := range s.Names {
		if err := cw.Write([]string{name, strconv.Itoa(g.Labels[i])}); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}
