//go:build race

package splunk

// raceDetector is true under -race, which slows JSON work several times
// over; the memory test then streams fewer rows to stay quick.
const raceDetector = true
