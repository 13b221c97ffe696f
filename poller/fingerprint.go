package poller

import (
	"crypto/sha256"
	"encoding/hex"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/patrolsec/patrol/detections"
)

// Fingerprint identifies an alert: a hash of the detection id and the values
// of its group_by fields (multivalues sorted, so their order does not
// matter). The same detection and values always give the same fingerprint,
// on any backend and in `patrol test`.
func Fingerprint(detection string, groupBy []string, r Result) string {
	h := sha256.New()
	h.Write([]byte(detection))
	for _, f := range groupBy {
		vals := append([]string(nil), r[f]...)
		sort.Strings(vals)
		h.Write([]byte{0x1f})
		h.Write([]byte(f))
		h.Write([]byte{0x1e})
		h.Write([]byte(strings.Join(vals, "\x1d")))
	}
	return hex.EncodeToString(h.Sum(nil))[:24]
}

// FingerprintLabel is the ticket label that carries a fingerprint.
func FingerprintLabel(fp string) string { return detections.FingerprintLabelPrefix + fp }

// ResultTime is when a result happened: its _time (ISO-8601, as Splunk and
// the local engine render it, or epoch seconds), else fallback.
func ResultTime(r Result, fallback time.Time) time.Time {
	v := r.Get("_time")
	if v == "" {
		return fallback
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.000-07:00", "2006-01-02T15:04:05.000Z07:00", "2006-01-02 15:04:05"} {
		if t, err := time.Parse(layout, v); err == nil {
			return t.UTC()
		}
	}
	if f, err := strconv.ParseFloat(v, 64); err == nil {
		sec := int64(f)
		return time.Unix(sec, int64((f-float64(sec))*1e9)).UTC()
	}
	return fallback
}
