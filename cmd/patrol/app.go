package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/patrolsec/patrol/detections"
	"github.com/patrolsec/patrol/poller"
	"github.com/patrolsec/patrol/poller/aws"
	"github.com/patrolsec/patrol/poller/config"
	"github.com/patrolsec/patrol/poller/digest"
	"github.com/patrolsec/patrol/poller/firstseen"
	"github.com/patrolsec/patrol/poller/local"
	"github.com/patrolsec/patrol/poller/local/s3"
	"github.com/patrolsec/patrol/poller/metrics"
	"github.com/patrolsec/patrol/poller/sequence"
	"github.com/patrolsec/patrol/poller/slack"
	"github.com/patrolsec/patrol/poller/slots"
	"github.com/patrolsec/patrol/poller/tuning"
	"github.com/patrolsec/patrol/state"
)

// app is a loaded configuration wired to its backends: the one place where
// config becomes state, clients and jobs.
type app struct {
	cfg       *config.Config
	log       *slog.Logger
	db        *state.DB
	release   func() // the state lock, when held
	dets      atomic.Pointer[[]*detections.Detection]
	searcher  poller.Searcher
	tracker   poller.Tracker
	notifier  poller.Notifier
	detector  *poller.Detector
	responder *poller.Responder
	aws       *aws.Provider // re-reads aws.accounts = "organization" on reload
	digests   []*digest.Job
	listener  *slack.Listener // Socket Mode, in `patrol run`
	errOut    io.Writer
	metrics   *metrics.Metrics
	tuner     *tuning.Tuner // exceptions and silences
	// invalidDetections: some detection files had problems and were left
	// out (setupOptions.partial).
	invalidDetections bool
	// The daemon's search slots and load watch (nil for other commands).
	slots    *slots.Gate
	load     *poller.Load
	runsMu   sync.Mutex
	runs     map[string]context.CancelCauseFunc // running detections, for a reload to cancel
	outcomes outcomes                           // remediation outcomes since start, for once's respond line
}

type setupOptions struct {
	lock     bool // take the single-writer lock (jobs will run)
	jobs     bool // build the backends and jobs
	detect   bool // load detections
	searcher bool // build only the searcher
	// partial runs the valid detections when others are invalid (their
	// problems are printed and invalidDetections is set).
	partial bool
	// terse: the command prints a line per job itself, so on a terminal
	// the log shows warnings and errors only (unless PATROL_LOG_LEVEL is
	// set): no job is reported twice.
	terse bool
	// socket also probes Slack's Socket Mode (`patrol run` connects it).
	socket bool
}

// loadConfig loads the config, printing its problems.
func loadConfig(path string, errOut io.Writer) (*config.Config, int) {
	cfg, err := config.Load(path)
	if err != nil {
		printProblems(errOut, err)
		return nil, exitInvalid
	}
	return cfg, exitOK
}

// setup loads config and what the command needs. It returns an exit code
// when it cannot.
func setup(ctx context.Context, cfgPath string, opts setupOptions, errOut io.Writer) (*app, int) {
	cfg, code := loadConfig(cfgPath, errOut)
	if cfg == nil {
		return nil, code
	}
	level, _ := logLevel()
	if opts.terse && isTerminal(errOut) && os.Getenv("PATROL_LOG_LEVEL") == "" {
		level = slog.LevelWarn
	}
	a := &app{cfg: cfg, log: newLogger(errOut, level), errOut: errOut, metrics: metrics.New()}
	if opts.detect || opts.jobs {
		ds, err := loadDetections(cfg)
		if err != nil {
			printProblems(errOut, err)
			if !opts.partial {
				return nil, exitInvalid
			}
			a.invalidDetections = true
			fmt.Fprintf(errOut, "patrol: the detections above are left out; the %d valid ones run\n", len(ds))
		}
		a.dets.Store(&ds)
		if opts.jobs {
			for _, w := range config.Warnings(cfg, ds) {
				a.log.Warn(strings.TrimPrefix(w.Msg, "warning: "), "key", w.Key, "config", w.File)
			}
		}
	}
	if opts.lock {
		release, err := state.Lock(cfg.State.Path)
		if err != nil {
			printLockError(errOut, err)
			return nil, exitFailed
		}
		a.release = release
	}
	if opts.jobs {
		if code := checkBackends(ctx, cfg, opts.socket, a.log, errOut); code != exitOK {
			a.close()
			return nil, code
		}
	}
	if opts.jobs || opts.lock {
		db, err := state.Open(cfg.State.Path, nil)
		if err != nil {
			a.close()
			fmt.Fprintf(errOut, "patrol: %v\n", err)
			return nil, exitFailed
		}
		a.db = db
		if opts.lock {
			// The process that holds the state file settles what the last
			// one left: after a host restart, creates it may have had in
			// flight are looked up before anything is created again.
			if err := db.Recover(ctx); err != nil {
				a.close()
				fmt.Fprintf(errOut, "patrol: state %s: %v\n", cfg.State.Path, err)
				return nil, exitFailed
			}
		}
	}
	if opts.searcher || opts.jobs {
		var ledger s3.Ledger // none without a state file (search, backtest): nothing is remembered
		if a.db != nil {
			ledger = a.db
		}
		s, err := newSearcher(ctx, cfg, a.log, ledger, a.metrics.LocalSkip, a.orgAccounts)
		if err != nil {
			a.close()
			fmt.Fprintf(errOut, "patrol: search backend: %v\n", err)
			return nil, exitFailed
		}
		a.searcher = a.metrics.Searcher(s, cfg.Search.Backend)
	}
	if opts.jobs {
		silences, err := tuning.OpenSilences(cfg.Detections.Silences, a.log)
		if err != nil {
			a.close()
			printProblems(errOut, err)
			return nil, exitInvalid
		}
		a.tuner = &tuning.Tuner{Silences: silences}
		if err := a.buildJobs(ctx); err != nil {
			a.close()
			fmt.Fprintf(errOut, "patrol: %v\n", err)
			return nil, exitFailed
		}
	}
	return a, exitOK
}

// orgAccounts are the organization's account ids for the searches: what
// the AWS provider holds once the jobs are built (aws.accounts =
// "organization" is read from AWS Organizations then, and on reload),
// aws.accounts' list before that or without jobs.
func (a *app) orgAccounts() []string {
	if a.aws != nil {
		return a.aws.AccountIDs()
	}
	return a.cfg.AWS.Accounts.IDs
}

func (a *app) close() {
	if a.db != nil {
		a.db.Close()
	}
	if a.release != nil {
		a.release()
	}
}

func loadDetections(cfg *config.Config) ([]*detections.Detection, error) {
	return detections.Load(cfg.Detections.Dir, detections.LoadOptions{Macros: cfg.Macros(), CheckSPL: checkSPL(cfg),
		AllowCommands: cfg.Search.Splunk.AllowCommands})
}

// detection returns the loaded detection with id, or nil.
func (a *app) detection(id string) *detections.Detection {
	for _, d := range *a.dets.Load() {
		if d.ID == id {
			return d
		}
	}
	return nil
}

func (a *app) buildJobs(ctx context.Context) error {
	cfg := a.cfg
	var err error
	if a.tracker, err = newTracker(ctx, cfg, a.db, a.log); err != nil {
		return fmt.Errorf("ticket backend: %w", err)
	}
	if a.notifier, err = newNotifier(cfg, a.log); err != nil {
		return fmt.Errorf("notify backend: %w", err)
	}
	provider, enrichers, guard, err := newAWS(ctx, cfg, a.log)
	if err != nil {
		return fmt.Errorf("aws: %w", err)
	}
	a.aws = provider
	actions := provider.Actions()
	a.tracker = a.metrics.Tracker(a.tracker, cfg.Tickets.Backend)
	a.notifier = a.metrics.Notifier(a.notifier, cfg.Notify.Backend)
	actions = a.metrics.Actions(actions)
	a.metrics.Detections(len(*a.dets.Load()))
	lag, createTimeout := trackerTiming(cfg)
	health := &poller.Health{Tracker: a.tracker, Store: a.db, Label: cfg.Tickets.Label,
		FailuresBeforeAlert: cfg.Health.FailuresBeforeAlert, MaxLag: config.Duration(cfg.Health.MaxLag),
		IndexLag: lag, CreateTimeout: createTimeout, Runs: a.db.FailuresInRow, Logger: a.log}
	a.responder = &poller.Responder{
		Tracker: a.tracker, Store: a.db, Notifier: a.notifier, Enrichers: enrichers, Actions: actions,
		Detection: a.detection, Router: poller.Router{Teams: cfg.Teams},
		Guard:        guard,
		ApproveLabel: cfg.Tickets.ApproveLabel, Approvers: cfg.Tickets.Approvers, DoneTransition: cfg.Tickets.DoneTransition,
		FalsePositives:  cfg.Tickets.FalsePositiveResolutions,
		AutoForExternal: cfg.Tickets.AutoForExternal, Health: health,
		PollOverlap: config.Duration(cfg.Tickets.PollOverlap), FirstPoll: config.Duration(cfg.Tickets.PollLookback),
		EnrichTimeout: config.Duration(cfg.Enrich.Timeout), Logger: a.log, OnAction: a.onAction,
		Retention: config.Duration(cfg.State.Retention),
		HoldLabel: cfg.Tickets.HoldLabel, ChatApprovers: cfg.Tickets.SlackApprovers, ChatApprovals: socketMode(cfg),
		ClickTimeout: config.Duration(cfg.Tickets.RunTimeout),
	}
	if err := a.buildDigests(); err != nil {
		return err
	}
	a.detector = &poller.Detector{
		Searcher: a.searcher, Tracker: a.tracker, Store: a.db, Notifier: a.notifier,
		Router: poller.Router{Teams: cfg.Teams}, Label: cfg.Tickets.Label,
		MaxWindow:   config.Duration(cfg.Search.MaxWindow),
		FirstRunAll: cfg.Search.Backend == "local" && cfg.Search.Local.FirstRun == "all",
		Handoff:     a.responder.Handoff, Logger: a.log, Now: clock,
		IndexLag: lag, CreateTimeout: createTimeout,
		MaxNewAlerts: cfg.Detections.MaxNewAlerts,
		Kinds:        kinds(cfg, a.db, a.searcher, a.log),
		Health:       health,
		Tuner:        a.tuner, Actions: actions, DryRun: cfg.AWS.DryRun,
		OnRecurrence: cfg.Tickets.OnRecurrence, ReopenTransition: cfg.Tickets.ReopenTransition,
	}
	return nil
}

// kinds answer the detections that are not a plain search, over the
// given state (the daemon's, or a backtest's scratch state).
func kinds(cfg *config.Config, db *state.DB, s poller.Searcher, log *slog.Logger) []poller.Kind {
	return []poller.Kind{
		&sequence.Engine{Store: db, Logger: log},
		&firstseen.Filter{Store: db, Searcher: s, BackfillChunk: config.Duration(cfg.Search.MaxWindow), Logger: log},
	}
}

func newTracker(ctx context.Context, cfg *config.Config, db *state.DB, log *slog.Logger) (poller.Tracker, error) {
	switch cfg.Tickets.Backend {
	case "local":
		return &local.Tracker{DB: db, Label: cfg.Tickets.Label}, nil
	case "jira":
		return newJira(ctx, cfg, log)
	}
	return nil, fmt.Errorf("unknown tickets.backend %q", cfg.Tickets.Backend)
}

func newNotifier(cfg *config.Config, log *slog.Logger) (poller.Notifier, error) {
	switch cfg.Notify.Backend {
	case "log":
		return &local.LogNotifier{Log: log}, nil
	case "slack":
		return newSlack(cfg, log)
	}
	return nil, fmt.Errorf("unknown notify.backend %q", cfg.Notify.Backend)
}

// printLockError says why the single-writer lock was refused: another
// patrol holds it, or this user may not write beside the state file.
func printLockError(w io.Writer, err error) {
	switch {
	case errors.Is(err, state.ErrLocked):
		fmt.Fprintf(w, "patrol: %v\n(another 'patrol run' or 'patrol once' is using this state; stop it or point --config at another state.path)\n", err)
	case errors.Is(err, fs.ErrPermission):
		fmt.Fprintf(w, "patrol: %v\n(this user may not write the state's lock file: run as the user that owns the state, e.g. sudo -u patrol)\n", err)
	default:
		fmt.Fprintf(w, "patrol: %v\n", err)
	}
}

// clock is the detect job's clock: where windows end. Tests set it to
// follow the arrival times an S3 emulator stamps.
var clock = time.Now

// logLevel reads PATROL_LOG_LEVEL: debug, info (the default), warn or error.
func logLevel() (slog.Level, error) {
	switch v := strings.ToLower(strings.TrimSpace(os.Getenv("PATROL_LOG_LEVEL"))); v {
	case "", "info":
		return slog.LevelInfo, nil
	case "debug":
		return slog.LevelDebug, nil
	case "warn", "warning":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	default:
		return 0, fmt.Errorf("PATROL_LOG_LEVEL=%q: want debug, info, warn or error", v)
	}
}

// newLogger logs JSON when stderr is not a terminal (journald), text when it
// is, from level up.
func newLogger(w io.Writer, level slog.Level) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level}
	if isTerminal(w) {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

func isTerminal(w io.Writer) bool {
	if t, ok := w.(interface{ IsTerminal() bool }); ok { // a test's stand-in
		return t.IsTerminal()
	}
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
