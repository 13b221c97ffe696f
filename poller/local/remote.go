package local

import (
	"context"
	"io"
	"time"

	"github.com/patrolsec/patrol/poller"
)

// Remote is a store of log objects that searches read beside local files:
// an S3 bucket where AWS delivers CloudTrail, VPC Flow Logs and Route 53
// resolver query logs (package poller/local/s3). A Remote chooses and
// fetches objects; the Searcher decodes them with the same readers as
// local files, so one format, one set of fields and one set of limits
// hold for both.
type Remote interface {
	// List returns what q must read from the store.
	List(ctx context.Context, q poller.Query) (*Listing, error)
	// Fetch calls fn with the content of each object, in order (reading
	// ahead as it sees fit). An error from fn stops it and is returned.
	Fetch(ctx context.Context, objs []Object, fn func(Object, io.Reader) error) error
	// Read tells the store that a search of q read l through without an
	// error: a store that remembers what it has read does so now.
	Read(ctx context.Context, q poller.Query, l *Listing) error
}

// Listing is what one query must read from a Remote.
type Listing struct {
	Objects []Object
	// Events is the span of event time kept from these objects: after
	// Start, up to End, a zero bound open. A store that picks objects by
	// their arrival makes it wider than the query's window (the
	// event_time_span idea).
	Events poller.Window
	// Private is the store's own state for Read.
	Private any
}

// Object is one log object in a Remote.
type Object struct {
	// Name is the object's URL (s3://bucket/key): the events' source field
	// and what errors name.
	Name string
	Size int64
	// Modified is when the object arrived; records without a time of
	// their own get it as _time.
	Modified time.Time
	// Version tells two contents of one name apart (an S3 ETag).
	Version string
	// Sourcetype is what the delivery layout says the object holds ("" =
	// unknown): a search whose filter rules that sourcetype out never
	// fetches the object.
	Sourcetype string
}
