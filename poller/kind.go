package poller

import "github.com/patrolsec/patrol/detections"

// Kind is a way of answering a detection other than running its search as
// written: a sequence evaluated over the alert ledger, a first-seen filter
// over a search's results. It is the one seam between such capabilities
// and the detect job: a Kind only produces a window's results, and the
// job's windows, checkpoints, fingerprints, alerts and tickets stay the same
// for every detection.
type Kind interface {
	// SearcherFor returns the Searcher that answers d's windows, or nil
	// when d is not of this kind.
	SearcherFor(d *detections.Detection) Searcher
}

// searcher is the Searcher that answers d: the first Kind's, else the
// configured backend.
func (j *Detector) searcher(d *detections.Detection) Searcher {
	for _, k := range j.Kinds {
		if s := k.SearcherFor(d); s != nil {
			return s
		}
	}
	return j.Searcher
}
