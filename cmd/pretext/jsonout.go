package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
)

// emit writes v as one JSON line that says what it is: an object gets a
// leading "type" member, {"type":"step",...}; anything else is wrapped as
// {"type":typ,"value":v}. Every -json line of the command goes through it,
// so that a reader of a mixed stream (train's steps and k-NN evaluations,
// then its result) can tell the lines apart. The types: step, divergence,
// knn, result, bench, eval, similar, classify, map, cluster.
func emit(w io.Writer, typ string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	t, _ := json.Marshal(typ)
	var line []byte
	switch {
	case bytes.Equal(b, []byte("{}")):
		line = fmt.Appendf(nil, `{"type":%s}`, t)
	case len(b) > 0 && b[0] == '{':
		line = fmt.Appendf(nil, `{"type":%s,%s`, t, b[1:])
	default:
		line = fmt.Appendf(nil, `{"type":%s,"value":%s}`, t, b)
	}
	_, err = w.Write(append(line, '\n'))
	return err
}
