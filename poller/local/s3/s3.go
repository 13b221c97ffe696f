// Package s3 reads CloudTrail, VPC Flow Logs and Route 53 resolver query
// logs straight from the S3 buckets AWS delivers them to: a local.Remote
// for the local search engine, for the s3://bucket/prefix/ entries of
// search.local.paths. It knows the delivery layouts (organization trails,
// hive-compatible and hourly flow log folders) and lists only the date
// folders a window needs, across accounts and regions; objects are streamed
// and gunzipped by the engine's own readers, never written to disk.
//
// Windows on S3 follow an object's arrival (LastModified), as Splunk's
// follow index time: a late delivery is found by the window it arrived in.
// A detect window also lists a little before its start, for objects that
// became visible late, and skips the objects earlier windows read, which
// the state remembers with each window's checkpoint.
package s3

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/patrolsec/patrol/poller"
	"github.com/patrolsec/patrol/poller/local"
	"github.com/patrolsec/patrol/state"
)

// api is the slice of the S3 client the reader uses: it only lists and
// reads.
type api interface {
	ListObjectsV2(context.Context, *s3.ListObjectsV2Input, ...func(*s3.Options)) (*s3.ListObjectsV2Output, error)
	GetObject(context.Context, *s3.GetObjectInput, ...func(*s3.Options)) (*s3.GetObjectOutput, error)
}

// Ledger remembers the objects detect windows have read (the state file).
type Ledger interface {
	ObjectsRead(ctx context.Context, detection string, since time.Time) ([]state.WindowObject, error)
	StageObjects(ctx context.Context, detection string, objs []state.WindowObject) error
}

// deliverySlack bounds how long before its LastModified a file's date
// folder (its delivery time) can be: the upload, plus clock differences.
const deliverySlack = time.Hour

// Options are what the reader takes from outside its section.
type Options struct {
	// Region is used when the section sets none (aws.region).
	Region string
	// MaxAttempts bounds the SDK's own retries (aws.max_attempts).
	MaxAttempts int
	// Ledger remembers what detect windows read; nil remembers nothing.
	Ledger Ledger
	// Credentials replace the AWS chain (tests).
	Credentials aws.CredentialsProvider
}

// Source reads the configured S3 locations. It implements local.Remote.
type Source struct {
	locs                 []Location
	api                  api
	ledger               Ledger
	conc                 int
	span, ahead, overlap time.Duration
	requests             chan struct{} // S3 calls in flight, across searches
	budget               *budget       // bytes read ahead, across searches
	prefetchMax          int64         // the largest object read ahead
	listings             *listings     // recent folder listings, shared by searches
}

var _ local.Remote = (*Source)(nil)

// New builds the reader of urls (s3://bucket/prefix/ entries). It makes no
// AWS call: credentials are resolved, and the role assumed, on first use.
func New(ctx context.Context, cfg Config, urls []string, opts Options) (*Source, error) {
	if errs := cfg.Validate(); len(errs) > 0 {
		return nil, fmt.Errorf("search.local.s3.%w", errs[0])
	}
	if err := poller.CheckAWSEndpoints(cfg.EndpointURL, cfg.AllowInsecureHTTP); err != nil {
		return nil, fmt.Errorf("search.local.s3: %w", err)
	}
	s := &Source{ledger: opts.Ledger, conc: cfg.MaxConcurrent, requests: make(chan struct{}, cfg.MaxConcurrent),
		budget: &budget{left: int64(cfg.MaxConcurrent) * prefetchMax}, prefetchMax: prefetchMax,
		listings: newListings(listingReuse, time.Now)}
	s.span, s.ahead, s.overlap = cfg.durations()
	for _, u := range urls {
		loc, err := ParseURL(u)
		if err != nil {
			return nil, err
		}
		s.locs = append(s.locs, loc)
	}
	region := cfg.Region
	if region == "" {
		region = opts.Region
	}
	attempts := opts.MaxAttempts
	if attempts < 1 {
		attempts = retry.DefaultMaxAttempts
	}
	// Idle connections for every download in flight, so concurrent reads
	// reuse them instead of opening new ones.
	httpClient := awshttp.NewBuildableClient().WithTransportOptions(func(t *http.Transport) {
		t.MaxIdleConnsPerHost = cfg.MaxConcurrent
	})
	loadOpts := []func(*config.LoadOptions) error{
		config.WithRegion(region),
		config.WithAppID("patrol"),
		config.WithHTTPClient(httpClient),
		config.WithRetryer(func() aws.Retryer { return retry.AddWithMaxAttempts(retry.NewStandard(), attempts) }),
	}
	if opts.Credentials != nil {
		loadOpts = append(loadOpts, config.WithCredentialsProvider(opts.Credentials))
	}
	if cfg.EndpointURL != "" {
		loadOpts = append(loadOpts, config.WithBaseEndpoint(cfg.EndpointURL))
	}
	awsCfg, err := config.LoadDefaultConfig(ctx, loadOpts...)
	if err != nil {
		return nil, fmt.Errorf("search.local.s3: aws config: %w", err)
	}
	if cfg.RoleARN != "" {
		awsCfg.Credentials = aws.NewCredentialsCache(stscreds.NewAssumeRoleProvider(sts.NewFromConfig(awsCfg), cfg.RoleARN,
			func(o *stscreds.AssumeRoleOptions) { o.RoleSessionName = "patrol-log-reader" }))
	}
	s.api = s3.NewFromConfig(awsCfg, func(o *s3.Options) {
		o.UsePathStyle = cfg.EndpointURL != ""
		// Log objects uploaded without a checksum are common (and moto's
		// are): the SDK would print a line to stderr for each.
		o.DisableLogOutputChecksumValidationSkipped = true
	})
	return s, nil
}

// read is what a listing must stage once its search read it through.
type read struct{ objs []state.WindowObject }

// List picks the objects q must read. In index time (the default) they are
// the objects that arrived in q's window, (Start, End] on LastModified,
// and their events are kept from Start − event_time_span to End +
// event_time_ahead. A detect window (q.Remember) also reaches back
// `overlap` before Start and skips what earlier windows read. In event
// time, the objects are those delivered from Start to an hour after End,
// and their events are kept in the window itself.
func (s *Source) List(ctx context.Context, q poller.Query) (*local.Listing, error) {
	if q.TimeMode == poller.EventTime {
		sp := span{from: q.Window.Start}
		if !q.Window.End.IsZero() {
			sp.to = q.Window.End.Add(deliverySlack)
		}
		objs, err := s.walkAll(ctx, sp, func(string, types.Object) bool { return true })
		return &local.Listing{Objects: objs, Events: q.Window}, err
	}
	start, end := q.Window.Start, q.Window.End
	remember := q.Remember && s.ledger != nil && q.Detection != ""
	from := start
	if remember && !from.IsZero() {
		from = from.Add(-s.overlap)
	}
	seen, err := s.seen(ctx, q, remember, from)
	if err != nil {
		return nil, err
	}
	sp := span{from: from, to: end}
	if !from.IsZero() {
		sp.from = from.Add(-deliverySlack)
	}
	objs, err := s.walkAll(ctx, sp, func(name string, o types.Object) bool {
		at := aws.ToTime(o.LastModified)
		switch {
		case !end.IsZero() && at.After(end), !from.IsZero() && !at.After(from):
			return false
		case at.After(start):
			return true // arrived in the window
		}
		return !seen[name+"\x00"+aws.ToString(o.ETag)] // arrived in the overlap: unless read before
	})
	if err != nil {
		return nil, err
	}
	l := &local.Listing{Objects: objs}
	if !start.IsZero() && s.span > 0 {
		l.Events.Start = start.Add(-s.span)
	}
	if !end.IsZero() {
		l.Events.End = end.Add(s.ahead)
	}
	if remember {
		l.Private = s.toStage(objs, end)
	}
	return l, nil
}

// walkAll lists every location.
func (s *Source) walkAll(ctx context.Context, sp span, keep func(name string, o types.Object) bool) ([]local.Object, error) {
	var out []local.Object
	for _, loc := range s.locs {
		objs, err := s.walk(ctx, loc, sp, keep)
		if err != nil {
			return nil, err
		}
		out = append(out, objs...)
	}
	return out, nil
}

// seen returns the objects earlier windows of q's detection read that
// arrived after since.
func (s *Source) seen(ctx context.Context, q poller.Query, remember bool, since time.Time) (map[string]bool, error) {
	if !remember || since.IsZero() {
		return nil, nil
	}
	objs, err := s.ledger.ObjectsRead(ctx, q.Detection, since)
	if err != nil {
		return nil, fmt.Errorf("objects read by earlier windows: %w", err)
	}
	out := make(map[string]bool, len(objs))
	for _, o := range objs {
		out[o.Object+"\x00"+o.Version] = true
	}
	return out, nil
}

// toStage keeps the objects a later window's overlap can reach back to.
func (s *Source) toStage(objs []local.Object, end time.Time) *read {
	r := &read{}
	for _, o := range objs {
		keepUntil := o.Modified.Add(s.overlap)
		if end.IsZero() || keepUntil.After(end) {
			r.objs = append(r.objs, state.WindowObject{Object: o.Name, Version: o.Version, Arrived: o.Modified, KeepUntil: keepUntil})
		}
	}
	return r
}

// Read stages what a detect window read, for the state to commit with its
// checkpoint.
func (s *Source) Read(ctx context.Context, q poller.Query, l *local.Listing) error {
	r, ok := l.Private.(*read)
	if !ok || len(r.objs) == 0 {
		return nil
	}
	if err := s.ledger.StageObjects(ctx, q.Detection, r.objs); err != nil {
		return fmt.Errorf("remember the S3 objects read: %w", err)
	}
	return nil
}

// getObject opens one object, insisting on the version listed: an object
// rewritten since is an error, and the window is read again.
func (s *Source) getObject(ctx context.Context, o local.Object) (io.ReadCloser, error) {
	bucket, key, _ := strings.Cut(strings.TrimPrefix(o.Name, "s3://"), "/")
	in := &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)}
	if o.Version != "" {
		in.IfMatch = aws.String(o.Version)
	}
	out, err := s.api.GetObject(ctx, in)
	if err != nil {
		return nil, fmt.Errorf("input %s: %w", o.Name, err)
	}
	return out.Body, nil
}
