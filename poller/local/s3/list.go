package s3

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/patrolsec/patrol/poller/local"
)

// generateDays is the longest span whose day folders are named directly
// rather than found by listing years and months: a longer one (a backtest
// over a year) lists what exists instead of asking for every day.
const generateDays = 62

// walk lists the log objects of loc delivered in sp, keeping those keep
// accepts, in key order. It descends the layout folder by folder, listing
// each with the "/" delimiter (so a listing returns the folder's children,
// never everything below them), reads only the date folders sp needs, and
// lists a level's folders concurrently.
func (s *Source) walk(ctx context.Context, loc Location, sp span, keep func(name string, o types.Object) bool) ([]local.Object, error) {
	root, err := parsePrefix(loc.Prefix)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", loc.URL(), err)
	}
	if root.kind == kPrefix {
		// The delivery prefix holds AWSLogs/ and maybe unrelated folders:
		// go straight to it.
		root, _ = root.child("AWSLogs")
	}
	var out []local.Object
	frontier := []folder{root}
	for len(frontier) > 0 {
		found := make([]listed, len(frontier))
		err := s.each(ctx, len(frontier), func(ctx context.Context, i int) error {
			var err error
			found[i], err = s.expand(ctx, loc.Bucket, frontier[i], sp)
			if err != nil {
				return fmt.Errorf("%s: list %s: %w", loc.URL(), frontier[i].prefix, err)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		var next []folder
		for i, l := range found {
			if frontier[i].kind == kAWSLogs && l.empty {
				return nil, fmt.Errorf("%s: nothing under %s: give the prefix the logs are delivered under (a trail's or flow log's S3 key prefix)", loc.URL(), frontier[i].prefix)
			}
			for _, o := range l.objects {
				name := "s3://" + loc.Bucket + "/" + aws.ToString(o.Key)
				if strings.HasSuffix(name, "/") || !keep(name, o) {
					continue
				}
				out = append(out, local.Object{
					Name: name, Size: aws.ToInt64(o.Size),
					Modified: aws.ToTime(o.LastModified).UTC(), Version: aws.ToString(o.ETag), Sourcetype: frontier[i].sourcetype,
				})
			}
			next = append(next, l.children...)
		}
		frontier = next
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// listed is what listing one folder found.
type listed struct {
	objects  []types.Object
	children []folder
	empty    bool // nothing at all under it
}

// expand lists one folder: its children of the layout that can hold files
// delivered in sp, and the objects of the date folders that hold files.
func (s *Source) expand(ctx context.Context, bucket string, f folder, sp span) (listed, error) {
	if f.kind == kDate && len(f.date) < 3 {
		if days, ok := dayFolders(f, sp); ok {
			return listed{children: days}, nil
		}
	}
	// An hour folder holds only files; a day folder holds files or hour
	// folders; the rest hold folders.
	delimited := !(f.kind == kDate && len(f.date) == 4)
	fl, err := s.list(ctx, bucket, f.prefix, delimited, sp.to)
	if err != nil {
		return listed{}, err
	}
	var out listed
	names := make([]string, len(fl.prefixes))
	for i, p := range fl.prefixes {
		names[i] = strings.TrimSuffix(strings.TrimPrefix(p, f.prefix), "/")
	}
	if f.kind == kDate && len(f.date) >= 3 {
		out.objects = fl.objects
	}
	out.empty = len(names) == 0 && len(fl.objects) == 0
	for _, name := range names {
		if c, ok := f.child(name); ok && c.overlaps(sp) {
			out.children = append(out.children, c)
		}
	}
	return out, nil
}

// dayFolders names the day folders below f that sp needs, without
// listing, when sp is bounded and short enough.
func dayFolders(f folder, sp span) ([]folder, bool) {
	if sp.from.IsZero() || sp.to.IsZero() || sp.to.Sub(sp.from) > generateDays*24*time.Hour {
		return nil, false
	}
	var out []folder
	first := sp.from.UTC().Truncate(24 * time.Hour)
	for d := first; !d.After(sp.to); d = d.AddDate(0, 0, 1) {
		c := f
		for len(c.date) < 3 {
			c = c.dateChild(d)
		}
		if sameDate(c.date, f.date) {
			out = append(out, c)
		}
	}
	return out, true
}

// sameDate reports whether the date parts fixed in prefix agree with d.
func sameDate(d, prefix []int) bool {
	for i, n := range prefix {
		if d[i] != n {
			return false
		}
	}
	return true
}

// list pages through one ListObjectsV2 of prefix (with the "/" delimiter
// when delimited), or reuses a listing that serves a window ending at need.
func (s *Source) list(ctx context.Context, bucket, prefix string, delimited bool, need time.Time) (*folderListing, error) {
	key := fmt.Sprintf("%s\x00%s\x00%t", bucket, prefix, delimited)
	return s.listings.get(ctx, key, need, func(ctx context.Context) (*folderListing, error) {
		in := &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String(prefix)}
		if delimited {
			in.Delimiter = aws.String("/")
		}
		out := &folderListing{}
		p := s3.NewListObjectsV2Paginator(s.api, in)
		for p.HasMorePages() {
			var page *s3.ListObjectsV2Output
			err := s.request(ctx, func() error {
				var err error
				page, err = p.NextPage(ctx)
				return err
			})
			if err != nil {
				return nil, err
			}
			for _, cp := range page.CommonPrefixes {
				out.prefixes = append(out.prefixes, aws.ToString(cp.Prefix))
			}
			out.objects = append(out.objects, page.Contents...)
		}
		return out, nil
	})
}

// each runs fn(0..n-1) with at most max_concurrent at once, and returns
// the first error (the others are cancelled).
func (s *Source) each(ctx context.Context, n int, fn func(ctx context.Context, i int) error) error {
	if n == 1 {
		return fn(ctx, 0)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sem := make(chan struct{}, s.conc)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			errs[i] = ctx.Err()
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if errs[i] = fn(ctx, i); errs[i] != nil {
				cancel()
			}
		}()
	}
	wg.Wait()
	var first error
	for _, err := range errs {
		if err != nil && !errors.Is(err, context.Canceled) {
			return err
		}
		if first == nil {
			first = err
		}
	}
	return first
}
