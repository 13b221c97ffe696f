//go:build !race

package splunk

const raceDetector = false
