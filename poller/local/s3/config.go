package s3

import (
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws/arn"

	"github.com/patrolsec/patrol/detections"
	"github.com/patrolsec/patrol/poller"
)

// Config is the [search.local.s3] section: how patrol reads the s3://
// entries of search.local.paths.
type Config struct {
	// Region is the buckets' region; "" means aws.region.
	Region string `toml:"region"`
	// EndpointURL overrides the S3 endpoint (a local emulator in tests);
	// it turns on path-style addressing.
	EndpointURL string `toml:"endpoint_url"`
	// AllowInsecureHTTP permits an http:// endpoint_url (or
	// AWS_ENDPOINT_URL* in the environment): requests stay signed, but the
	// session token and the logs read travel in clear text (an emulator in
	// tests).
	AllowInsecureHTTP bool `toml:"allow_insecure_http"`
	// RoleARN is assumed for reading (a log-archive account's read-only
	// role); "" reads with the ambient credentials of the AWS chain.
	RoleARN string `toml:"role_arn"`
	// MaxConcurrent bounds the S3 requests (listings and downloads) in
	// flight at once across all searches, not per search: the Source and
	// its slots are shared. It also bounds memory: at most MaxConcurrent ×
	// 8 MB of objects are read ahead of the search decoding them (larger
	// objects are streamed, holding a slot only until the body starts).
	MaxConcurrent int `toml:"max_concurrent"`
	// EventTimeSpan bounds event time below a window's start: events in
	// the objects that arrived in the window and happened more than this
	// before its start are dropped ("0s" = keep all). As on Splunk.
	EventTimeSpan string `toml:"event_time_span"`
	// EventTimeAhead lets windows keep events stamped in the future.
	EventTimeAhead string `toml:"event_time_ahead"`
	// Overlap is how far before its start a window also lists arrivals, to
	// read objects that became visible after the previous window listed
	// (slow uploads, clock skew); objects already read are skipped.
	Overlap string `toml:"overlap"`
}

// Defaults returns the section's defaults.
func Defaults() Config {
	return Config{MaxConcurrent: 8, EventTimeSpan: "7d", EventTimeAhead: "1d", Overlap: "15m"}
}

var (
	regionRE = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]{1,2}$`)
	bucketRE = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)
)

// Validate checks the section.
func (c Config) Validate() []poller.FieldError {
	var errs []poller.FieldError
	add := func(key, msg string) { errs = append(errs, poller.FieldError{Key: key, Msg: msg}) }
	if c.Region != "" && !regionRE.MatchString(c.Region) {
		add("region", fmt.Sprintf("%q is not an AWS region like us-east-1", c.Region))
	}
	if c.EndpointURL != "" {
		if msg := poller.CheckURL(c.EndpointURL, c.AllowInsecureHTTP); msg != "" {
			add("endpoint_url", msg)
		}
	}
	if c.RoleARN != "" {
		if a, err := arn.Parse(c.RoleARN); err != nil || a.Service != "iam" || !strings.HasPrefix(a.Resource, "role/") || len(a.AccountID) != 12 {
			add("role_arn", fmt.Sprintf("%q must be the ARN of one IAM role, like arn:aws:iam::123456789012:role/patrol-log-reader", c.RoleARN))
		}
	}
	if c.MaxConcurrent < 1 || c.MaxConcurrent > 64 {
		add("max_concurrent", "must be between 1 and 64")
	}
	for _, k := range []struct{ key, v string }{{"event_time_span", c.EventTimeSpan}, {"event_time_ahead", c.EventTimeAhead}, {"overlap", c.Overlap}} {
		if _, err := detections.ParseDuration(k.v); err != nil {
			add(k.key, err.Error())
		}
	}
	return errs
}

func (c Config) durations() (span, ahead, overlap time.Duration) {
	span, _ = detections.ParseDuration(c.EventTimeSpan)
	ahead, _ = detections.ParseDuration(c.EventTimeAhead)
	overlap, _ = detections.ParseDuration(c.Overlap)
	return span, ahead, overlap
}

// IsURL reports whether a search.local.paths entry is an S3 location.
func IsURL(path string) bool { return strings.HasPrefix(path, "s3://") }

// Location is one s3://bucket/prefix/ entry.
type Location struct {
	Bucket string
	// Prefix is a folder: empty or ending in "/".
	Prefix string
}

// URL renders the location as written in the config.
func (l Location) URL() string { return "s3://" + l.Bucket + "/" + l.Prefix }

// ParseURL reads an s3://bucket/prefix/ entry. The prefix is a folder (a
// final "/" is added): the delivery prefix of a trail or flow log, or any
// folder of the AWSLogs/ layout below it.
func ParseURL(s string) (Location, error) {
	rest, ok := strings.CutPrefix(s, "s3://")
	if !ok {
		return Location{}, fmt.Errorf("%q is not an s3:// URL", s)
	}
	bucket, prefix, _ := strings.Cut(rest, "/")
	if !bucketRE.MatchString(bucket) || strings.Contains(bucket, "..") {
		return Location{}, fmt.Errorf("%q: %q is not an S3 bucket name", s, bucket)
	}
	if strings.Contains(prefix, "//") || strings.ContainsAny(prefix, "*?[") {
		return Location{}, fmt.Errorf("%q: the prefix must be a plain folder path (no empty parts, no wildcards)", s)
	}
	if prefix != "" && !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}
	if _, err := parsePrefix(prefix); err != nil {
		return Location{}, fmt.Errorf("%q: %w", s, err)
	}
	return Location{Bucket: bucket, Prefix: prefix}, nil
}
