package local

import (
	"bytes"
)

// cloudtrailFormat reads AWS CloudTrail records: the {"Records":[...]}
// files CloudTrail delivers to S3, JSON arrays of records, and
// newline-delimited records. _time is eventTime.
var cloudtrailFormat = &format{
	name:       "cloudtrail",
	sourcetype: "aws:cloudtrail",
	props:      loadProps("aws_cloudtrail.props"),
	json:       true,
	// CloudTrail is what JSON input is unless another format claims it
	claim: func([]byte) bool { return true },
	time:  jsonTime("eventTime"),
}

// looksLike reports whether a JSON record has one of the keys (quoted).
func looksLike(first []byte, keys ...string) bool {
	for _, k := range keys {
		if bytes.Contains(first, []byte(`"`+k+`"`)) {
			return true
		}
	}
	return false
}
