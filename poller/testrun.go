package poller

// TestResult is the outcome of one detection test case (package replay
// runs them).
type TestResult struct {
	Detection string
	Case      string
	Alerts    int
	Want      int
	Err       error
	Problems  []string
}

// Passed reports whether the case passed.
func (r TestResult) Passed() bool { return r.Err == nil && len(r.Problems) == 0 }
