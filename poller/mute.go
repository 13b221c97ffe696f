package poller

import (
	"time"

	"github.com/patrolsec/patrol/detections"
	"github.com/patrolsec/patrol/state"
)

// Tuner decides what patrol mutes, per result, by the result's own time:
// an exception of the detection drops the result before fingerprinting;
// a silence records its alert without a ticket, a message or an action.
// poller/tuning implements it.
type Tuner interface {
	// Except returns the key of the detection's exception r matches at t.
	Except(d *detections.Detection, r Result, at time.Time) (key string, ok bool)
	// Silence returns the id of the silence that mutes d's result r at t.
	Silence(d *detections.Detection, r Result, at time.Time) (id string, ok bool)
}

// Result classes: results of one class never share an alert with another
// class's (see state.Hit.Class).
const (
	classLive          = ""
	classShadow        = "shadow"
	classSilencePrefix = "silence:"
)

// shadow reports whether d runs in the shadow stage here.
func (j *Detector) shadow(d *detections.Detection) bool { return d.Shadow() && !j.AllLive }

// classify says what becomes of result r at t: the key of the exception
// that drops it, or else its class (live, shadow, or a silence's).
func (j *Detector) classify(d *detections.Detection, r Result, t time.Time) (class, exception string) {
	if j.Tuner != nil {
		if key, ok := j.Tuner.Except(d, r, t); ok {
			return "", key
		}
		if id, ok := j.Tuner.Silence(d, r, t); ok {
			return classSilencePrefix + id, ""
		}
	}
	if j.shadow(d) {
		return classShadow, ""
	}
	return classLive, ""
}

// countException adds a result dropped by an exception to the window's counts.
func countException(counts map[string]*state.ExceptionCount, d *detections.Detection, w Window, key string, t time.Time) {
	c := counts[key]
	if c == nil {
		c = &state.ExceptionCount{Detection: d.ID, Exception: key, WindowStart: w.Start, First: t, Last: t}
		counts[key] = c
	}
	c.Count++
	if t.Before(c.First) {
		c.First = t
	}
	if t.After(c.Last) {
		c.Last = t
	}
}

func countState(as []state.Alert, st string) int {
	n := 0
	for _, a := range as {
		if a.State == st {
			n++
		}
	}
	return n
}
