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

// Flat decides whether a resource stayed flat after warm-up. vals are the
// samples taken under load from the end of warm-up on (vals[0] is the
// warm-up value W, the last one the end value E); tol is FlatTolerance(W,
// slack). The series is flat when all three hold:
//
//  1. end: E <= W + tol;
//  2. no drift: with at least 6 samples, the median of the last third is at
//     most the median of the first third + tol (a slow leak under noisy
//     load, whatever the last sample happens to be);
//  3. no monotonic growth: with at least 6 samples, not every sample is >=
//     the one before while the series rises by more than tol/2 in all (a
//     steady leak still inside the tolerance).
//
// With fewer than two samples there is nothing to judge and Flat says yes.
// why explains a "no".
func Flat(vals []float64, slack float64) (ok bool, why string) {
	if len(vals) < 2 {
		return true, ""
	}
	w, e := vals[0], vals[len(vals)-1]
	tol := FlatTolerance(w, slack)
	if e > w+tol {
		return false, fmt.Sprintf("end %.1f > warm-up %.1f + %.1f", e, w, tol)
	}
	n := len(vals)
	if n < 6 {
		return true, ""
	}
	k := n / 3
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
	if rising && e-w > tol/2 {
		return false, fmt.Sprintf("rises at every sample: %.1f -> %.1f", w, e)
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
