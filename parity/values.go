package parity

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"reflect"
	"strconv"
	"strings"
)

// Texts shown in place of a value.
const (
	Sensitive = "(sensitive)"
	NotSet    = "(not set)"
)

// normalize returns v as JSON would decode it, numbers as json.Number: maps
// become map[string]any, slices []any, whatever Go type v had.
func normalize(v any) (any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var out any
	err = dec.Decode(&out)
	return out, err
}

// equalValues compares two variable values as Terraform would see them:
// 1 equals 1.0, map order does not matter, and a string equals the number
// or bool it spells ("3" equals 3, as a number variable converts it).
func equalValues(a, b any) bool {
	na, errA := normalize(a)
	nb, errB := normalize(b)
	if errA != nil || errB != nil {
		return fmt.Sprint(a) == fmt.Sprint(b)
	}
	return equalNormal(na, nb)
}

func equalNormal(a, b any) bool {
	switch x := a.(type) {
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, xv := range x {
			yv, ok := y[k]
			if !ok || !equalNormal(xv, yv) {
				return false
			}
		}
		return true
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !equalNormal(x[i], y[i]) {
				return false
			}
		}
		return true
	case nil:
		return b == nil
	}
	sa, okA := scalar(a)
	sb, okB := scalar(b)
	if !okA || !okB {
		return false
	}
	if sa == sb {
		return true
	}
	ra, okA := new(big.Rat).SetString(sa)
	rb, okB := new(big.Rat).SetString(sb)
	return okA && okB && ra.Cmp(rb) == 0 && (isNumber(a) || isNumber(b))
}

func isNumber(v any) bool { _, ok := v.(json.Number); return ok }

// scalar returns a primitive as text.
func scalar(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case json.Number:
		return x.String(), true
	case bool:
		return strconv.FormatBool(x), true
	}
	return "", false
}

// valueText is a value as text: a string as it is, anything else as
// compact JSON, maps with sorted keys. It is what a finding holds, whole:
// a renderer that has little room (a terminal, a comment) cuts it.
func valueText(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	n, err := normalize(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	b, _ := json.Marshal(n)
	return string(b)
}

// showVar returns how a finding shows variable name's value v: Sensitive
// when the variable is sensitive, NotSet when !ok.
func showVar(v any, ok, sensitive bool) string {
	switch {
	case !ok:
		return NotSet
	case sensitive:
		return Sensitive
	}
	return valueText(v)
}

// decodeJSON decodes data into any with numbers kept exact.
func decodeJSON(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, errors.New("more than one JSON value")
	}
	return v, nil
}

// jsonError describes a JSON decoding error by position only: the messages
// of encoding/json can quote the input.
func jsonError(data []byte, err error) error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		line := 1 + strings.Count(string(data[:min(int(se.Offset), len(data))]), "\n")
		return fmt.Errorf("invalid JSON at line %d", line)
	}
	return errors.New("invalid JSON")
}

// jsonDocuments decodes two differing strings that each hold a JSON object,
// or each a JSON array, as jsonencode writes them. ok is false for anything
// else, and for two documents that decode alike (differing only in spaces,
// key order or duplicate keys): those are compared as the strings they are,
// so no difference goes unreported.
func jsonDocuments(p, q any) (pj, qj any, ok bool) {
	ps, pOK := p.(string)
	qs, qOK := q.(string)
	if !pOK || !qOK {
		return nil, nil, false
	}
	pj, qj = jsonContainer(ps), jsonContainer(qs)
	_, pMap := pj.(map[string]any)
	_, qMap := qj.(map[string]any)
	_, pList := pj.([]any)
	_, qList := qj.([]any)
	if !(pMap && qMap || pList && qList) || reflect.DeepEqual(pj, qj) {
		return nil, nil, false
	}
	return pj, qj, true
}

// jsonContainer returns s decoded when it is a JSON object or array, nil
// otherwise.
func jsonContainer(s string) any {
	t := strings.TrimSpace(s)
	if !strings.HasPrefix(t, "{") && !strings.HasPrefix(t, "[") {
		return nil
	}
	v, err := decodeJSON([]byte(t))
	if err != nil {
		return nil
	}
	return v
}
