package soak

import (
	"fmt"
	"slices"
)

// FlatTolerance is the growth a series may show after warm-up: 10% of its
// warm-up value or the absolute slack, whichever is larger.
func FlatTolerance(warm, slack float64) float64 {
	return max(0.10*warm, slack)
}

// Ends returns the warm-up value W and the end value E of vals, the
// samples taken under load from the end of warm-up on. With six samples or
// more W is the median of the first three and E of the last three, so that
// one sample caught at a busy or idle instant does not decide; with fewer
// they are the first and the last sample.
func Ends(vals []float64) (w, e float64) {
	k := 1
	if len(vals) >= 6 {
		k = 3
	}
	return median(vals[:k]), median(vals[len(vals)-k:])
}

// Flat decides whether a resource stayed flat after warm-up. vals are the
// samples taken under load from the end of warm-up on; W and E are as
// Ends gives them, tol is FlatTolerance(W, slack). The series is flat when
// all three hold:
//
//  1. end: E <= W + tol;
//  2. no drift: with at least 6 samples, the median of the last third (at
//     least three samples) is at most the median of the first third + tol
//     (a leak under noisy load, whatever the last samples happen to be);
//  3. no monotonic growth: with at least 6 samples, not every sample is >=
//     the one before while the series rises by more than tol/2 from the
//     first sample to the last (a steady leak still inside the tolerance).
//
// With fewer than two samples there is nothing to judge and Flat says yes.
// why explains a "no".
func Flat(vals []float64, slack float64) (ok bool, why string) {
	if len(vals) < 2 {
		return true, ""
	}
	w, e := Ends(vals)
	tol := FlatTolerance(w, slack)
	if e > w+tol {
		return false, fmt.Sprintf("end %.1f > warm-up %.1f + %.1f", e, w, tol)
	}
	n := len(vals)
	if n < 6 {
		return true, ""
	}
	k := max(3, n/3)
	a, b := median(vals[:k]), median(vals[n-k:])
	if b > a+tol {
		return false, fmt.Sprintf("drifts up: median of the last third %.1f > first third %.1f + %.1f", b, a, tol)
	}
	rising := true
	for i := 1; i < n; i++ {
		if vals[i] < vals[i-1] {
			rising = false
			break
		}
	}
	if first, last := vals[0], vals[n-1]; rising && last-first > tol/2 {
		return false, fmt.Sprintf("rises at every sample: %.1f -> %.1f", first, last)
	}
	return true, ""
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
