package spl

import (
	"math"
	"sort"
)

// agg accumulates one statistic of a group.
type agg interface {
	// add takes one value (a single value; multivalues are split by the
	// caller) seen at time t.
	add(v Value, t float64)
	result() Value
}

// aggFuncs are the stats functions; alias names map to the same maker.
var aggFuncs = map[string]func() agg{
	"count":          func() agg { return &countAgg{} },
	"c":              func() agg { return &countAgg{} },
	"dc":             func() agg { return &dcAgg{seen: map[string]struct{}{}} },
	"distinct_count": func() agg { return &dcAgg{seen: map[string]struct{}{}} },
	"values":         func() agg { return &valuesAgg{seen: map[string]struct{}{}} },
	"list":           func() agg { return &listAgg{} },
	"min":            func() agg { return &extremeAgg{dir: -1} },
	"max":            func() agg { return &extremeAgg{dir: 1} },
	"sum":            func() agg { return &sumAgg{} },
	"avg":            func() agg { return &avgAgg{} },
	"mean":           func() agg { return &avgAgg{} },
	"stdev":          func() agg { return &varAgg{sample: true, root: true} },
	"stdevp":         func() agg { return &varAgg{root: true} },
	"var":            func() agg { return &varAgg{sample: true} },
	"varp":           func() agg { return &varAgg{} },
	"range":          func() agg { return &rangeAgg{} },
	"median":         func() agg { return &medianAgg{} },
	"mode":           func() agg { return &modeAgg{counts: map[string]int{}} },
	"earliest":       func() agg { return &timeAgg{dir: -1} },
	"latest":         func() agg { return &timeAgg{dir: 1} },
	"first":          func() agg { return &firstAgg{} },
	"last":           func() agg { return &lastAgg{} },
}

type countAgg struct{ n int }

func (a *countAgg) add(Value, float64) { a.n++ }
func (a *countAgg) result() Value      { return Num(float64(a.n)) }

type dcAgg struct{ seen map[string]struct{} }

func (a *dcAgg) add(v Value, _ float64) { a.seen[v.String()] = struct{}{} }
func (a *dcAgg) result() Value          { return Num(float64(len(a.seen))) }

// valuesAgg keeps distinct values, reported in lexicographic order.
type valuesAgg struct {
	seen map[string]struct{}
	vals []string
}

func (a *valuesAgg) add(v Value, _ float64) {
	s := v.String()
	if _, ok := a.seen[s]; !ok {
		a.seen[s] = struct{}{}
		a.vals = append(a.vals, s)
	}
}

func (a *valuesAgg) result() Value {
	out := append([]string(nil), a.vals...)
	sort.Strings(out)
	return Multi(out)
}

// listAgg keeps values in arrival order, up to Splunk's 100.
type listAgg struct{ vals []string }

func (a *listAgg) add(v Value, _ float64) {
	if len(a.vals) < 100 {
		a.vals = append(a.vals, v.String())
	}
}
func (a *listAgg) result() Value { return Multi(append([]string(nil), a.vals...)) }

// extremeAgg is min (dir -1) or max (dir 1): over the numbers when any
// value is numeric, else over the strings lexicographically.
type extremeAgg struct {
	dir    int
	num    float64
	hasNum bool
	str    string
	hasStr bool
}

func (a *extremeAgg) add(v Value, _ float64) {
	if n, ok := v.Number(); ok {
		if !a.hasNum || (a.dir < 0 && n < a.num) || (a.dir > 0 && n > a.num) {
			a.num, a.hasNum = n, true
		}
		return
	}
	s := v.String()
	if !a.hasStr || (a.dir < 0 && s < a.str) || (a.dir > 0 && s > a.str) {
		a.str, a.hasStr = s, true
	}
}

func (a *extremeAgg) result() Value {
	switch {
	case a.hasNum:
		return Num(a.num)
	case a.hasStr:
		return Str(a.str)
	}
	return Null
}

type sumAgg struct {
	sum float64
	any bool
}

func (a *sumAgg) add(v Value, _ float64) {
	if n, ok := v.Number(); ok {
		a.sum += n
		a.any = true
	}
}

func (a *sumAgg) result() Value {
	if !a.any {
		return Null
	}
	return Num(a.sum)
}

type avgAgg struct {
	sum float64
	n   int
}

func (a *avgAgg) add(v Value, _ float64) {
	if x, ok := v.Number(); ok {
		a.sum += x
		a.n++
	}
}

func (a *avgAgg) result() Value {
	if a.n == 0 {
		return Null
	}
	return Num(a.sum / float64(a.n))
}

// varAgg computes variance (or its root, the standard deviation) with
// Welford's method; sample uses n-1.
type varAgg struct {
	sample, root bool
	n            int
	mean, m2     float64
}

func (a *varAgg) add(v Value, _ float64) {
	x, ok := v.Number()
	if !ok {
		return
	}
	a.n++
	d := x - a.mean
	a.mean += d / float64(a.n)
	a.m2 += d * (x - a.mean)
}

func (a *varAgg) result() Value {
	div := float64(a.n)
	if a.sample {
		div--
	}
	if div <= 0 {
		if a.n > 0 && a.sample {
			return Num(0)
		}
		return Null
	}
	r := a.m2 / div
	if a.root {
		r = math.Sqrt(r)
	}
	return Num(r)
}

type rangeAgg struct{ lo, hi extremeAgg }

func (a *rangeAgg) add(v Value, t float64) {
	a.lo.dir, a.hi.dir = -1, 1
	a.lo.add(v, t)
	a.hi.add(v, t)
}

func (a *rangeAgg) result() Value {
	if !a.lo.hasNum {
		return Null
	}
	return Num(a.hi.num - a.lo.num)
}

type medianAgg struct{ vals []Value }

func (a *medianAgg) add(v Value, _ float64) { a.vals = append(a.vals, v) }

func (a *medianAgg) result() Value {
	if len(a.vals) == 0 {
		return Null
	}
	vs := append([]Value(nil), a.vals...)
	sort.SliceStable(vs, func(i, j int) bool { return sortCompare(vs[i], vs[j]) < 0 })
	return vs[(len(vs)-1)/2]
}

type modeAgg struct {
	counts map[string]int
	order  []string
}

func (a *modeAgg) add(v Value, _ float64) {
	s := v.String()
	if a.counts[s] == 0 {
		a.order = append(a.order, s)
	}
	a.counts[s]++
}

func (a *modeAgg) result() Value {
	best, n := "", 0
	for _, s := range a.order {
		if a.counts[s] > n {
			best, n = s, a.counts[s]
		}
	}
	if n == 0 {
		return Null
	}
	return Str(best)
}

// timeAgg is earliest (dir -1) or latest (dir 1): the value seen at the
// smallest or largest _time.
type timeAgg struct {
	dir int
	t   float64
	v   Value
	any bool
}

func (a *timeAgg) add(v Value, t float64) {
	if !a.any || (a.dir < 0 && t < a.t) || (a.dir > 0 && t > a.t) {
		a.t, a.v, a.any = t, v, true
	}
}

func (a *timeAgg) result() Value { return a.v }

type firstAgg struct {
	v   Value
	any bool
}

func (a *firstAgg) add(v Value, _ float64) {
	if !a.any {
		a.v, a.any = v, true
	}
}
func (a *firstAgg) result() Value { return a.v }

type lastAgg struct{ v Value }

func (a *lastAgg) add(v Value, _ float64) { a.v = v }
func (a *lastAgg) result() Value          { return a.v }
