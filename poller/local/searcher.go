// Package local runs detections without Splunk: a poller.Searcher that
// evaluates SPL (with the detections/spl engine) over log files on disk —
// CloudTrail JSON as AWS delivers it to S3 (plain or gzipped), VPC Flow Logs
// and Route 53 Resolver query logs — and over objects in remote stores (the
// S3 buckets AWS delivers them to, through a Remote), with the fields
// Splunk and its AWS add-on would give the same events, so one detection
// runs unchanged on both backends.
package local

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/patrolsec/patrol/detections"
	"github.com/patrolsec/patrol/detections/spl"
	"github.com/patrolsec/patrol/poller"
	"github.com/patrolsec/patrol/poller/progress"
)

// Options configure a Searcher.
type Options struct {
	// Paths are files or folders of logs, absolute or relative to BaseDir.
	// Folders are read recursively (files ending in .json, .gz, .jsonl,
	// .ndjson, .log or .txt, in name order); a file named here is read
	// whatever its name.
	Paths   []string
	BaseDir string
	// Lookups maps lookup table names to CSV files (relative to BaseDir),
	// for | lookup and | inputlookup.
	Lookups map[string]string
	// Rows, when set, gives lookup rows patrol holds itself (the
	// organization's accounts), asked at every search since they may change
	// on a reload: they join the CSV of the same name, or are the table.
	Rows func() map[string]spl.Table
	// Index is the events' index field; "" means "main".
	Index string
	// Host is the events' host field; "" means this machine's name.
	Host string
	// Remotes are stores of log objects read beside Paths (S3 buckets).
	Remotes []Remote
	// Location is the time zone of _time in results, strftime and bin;
	// nil means UTC.
	Location *time.Location
	// Now is the clock for now() and relative times; nil means time.Now.
	Now func() time.Time
	// AllowCommands names forbidden commands (detections.ForbiddenCommands)
	// a search may use anyway, as on Splunk.
	AllowCommands []string
	// Limits bound what one file or record may cost; zero fields take
	// DefaultLimits.
	Limits Limits
	// Logger names what a search skips (records and files over a limit);
	// nil logs to slog.Default().
	Logger *slog.Logger
	// OnSkip, when set, hears every skip with its reason (metrics).
	OnSkip func(reason string)
}

// Searcher runs SPL over local files and remote objects. It implements
// poller.Searcher and is safe for concurrent use; every search reads the
// files anew. Progress goes to the progress.Meter the search's context
// carries, if any.
type Searcher struct {
	opts     Options
	hostname string
}

var _ poller.Searcher = (*Searcher)(nil)

// NewSearcher returns a Searcher over opts.Paths. The paths are checked
// when a search runs, so that logs may appear after start-up.
func NewSearcher(opts Options) *Searcher {
	s := &Searcher{opts: opts}
	if opts.Host == "" {
		s.hostname, _ = os.Hostname()
	}
	return s
}

func (s *Searcher) index() string {
	if s.opts.Index != "" {
		return s.opts.Index
	}
	return "main"
}

func (s *Searcher) host() string {
	if s.opts.Host != "" {
		return s.opts.Host
	}
	return s.hostname
}

func (s *Searcher) limits() Limits { return s.opts.Limits.orDefault() }

func (s *Searcher) logger() *slog.Logger {
	if s.opts.Logger != nil {
		return s.opts.Logger
	}
	return slog.Default()
}

func (s *Searcher) location() *time.Location {
	if s.opts.Location != nil {
		return s.opts.Location
	}
	return time.UTC
}

// Search runs q.SPL (macros already expanded) over the events of local
// files whose _time is in q.Window (after Start and up to End, a zero bound
// being open: local files have no index time, so both time modes bound
// event time), then over what each Remote lists for q (its own rule: S3
// picks objects by arrival). Results go to emit as they are produced;
// rendering follows Splunk's REST output: every value a string, numbers
// without a trailing .0, _time as ISO-8601 with milliseconds and offset.
func (s *Searcher) Search(ctx context.Context, q poller.Query, emit func(poller.Result) error) error {
	if err := detections.CheckCommands(q.SPL, s.opts.AllowCommands); err != nil {
		return fmt.Errorf("local search: %w", err)
	}
	query, err := spl.Parse(q.SPL)
	if err != nil {
		return fmt.Errorf("local search: %w", err)
	}
	files, err := s.listFiles()
	if err != nil {
		return fmt.Errorf("local search: %w", err)
	}
	src := &source{s: s, files: files, win: eventWindow(q.Window), meter: progress.FromContext(ctx)}
	for _, r := range s.opts.Remotes {
		l, err := r.List(ctx, q)
		if err != nil {
			return fmt.Errorf("local search: %w", err)
		}
		src.remotes = append(src.remotes, remoteListing{remote: r, listing: l})
	}
	now := time.Now()
	if s.opts.Now != nil {
		now = s.opts.Now()
	}
	lookups := map[string]string{}
	for name, path := range s.opts.Lookups {
		if !filepath.IsAbs(path) {
			path = filepath.Join(s.opts.BaseDir, path)
		}
		lookups[name] = path
	}
	var rows map[string]spl.Table
	if s.opts.Rows != nil {
		rows = s.opts.Rows()
	}
	loc := s.location()
	err = query.Run(ctx, src, spl.Options{Now: now, Location: loc, Lookups: lookups, Rows: rows, JSON: s.limits().json()}, func(r spl.Row) error {
		res, err := toResult(r, loc)
		if err != nil {
			return err
		}
		return emit(res)
	})
	if err != nil {
		return fmt.Errorf("local search: %w", err)
	}
	for _, rl := range src.remotes {
		if err := rl.remote.Read(ctx, q, rl.listing); err != nil {
			return fmt.Errorf("local search: %w", err)
		}
	}
	return nil
}

// toResult renders a row as a poller.Result.
func toResult(r spl.Row, loc *time.Location) (poller.Result, error) {
	fs, err := r.Fields()
	if err != nil {
		return nil, err
	}
	res := make(poller.Result, len(fs))
	for _, f := range fs {
		vals := f.Value.Strings()
		if f.Name == "_time" {
			out := make([]string, len(vals))
			for i, v := range vals {
				if sec, ok := spl.Str(v).Number(); ok {
					out[i] = spl.FormatTime(sec, loc)
				} else {
					out[i] = v
				}
			}
			vals = out
		}
		res[f.Name] = vals
	}
	return res, nil
}

// validateSPL checks a query without running it.
func validateSPL(query string) error { return spl.Validate(query) }
