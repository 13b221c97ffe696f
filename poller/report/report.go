// Package report builds patrol's report over a span of the state file: what
// was detected, how fast it was ticketed and answered, what was done and who
// approved it, and how the detections themselves fared. One model feeds
// every format: a self-contained HTML page (inline CSS and SVG, no request
// leaves it), and the same tables as CSV files or one JSON document.
//
// The report reads the state file only. Each section is built by one
// function from the ledgers; a section whose ledger does not exist in the
// state file is left out rather than shown empty.
package report

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"time"

	"github.com/patrolsec/patrol/state"
)

// Detection is what the report knows of a loaded detection.
type Detection struct {
	ID, Title, Severity string
	Action              string // remediation action, "" for none
	Mode                string // remediation mode: auto | approve | off
	Kind                string // KindSearch, KindSequence or KindFirstSeen
	// Attack lists the ATT&CK technique ids the detection covers; Stage is
	// attack.StageLive or attack.StageShadow.
	Attack []string
	Stage  string
}

// Kinds of detection, marked in the per-detection tables: a sequence fires
// on other detections' alerts, a first-seen detection only on value
// combinations new to its history.
const (
	KindSearch    = "search"
	KindSequence  = "sequence"
	KindFirstSeen = "first seen"
)

// Options select the span and give the report what the state file does not
// hold (detections' titles and severities, the approval rules).
type Options struct {
	From, To time.Time // the span [From, To); a zero From means from the oldest record
	Now      time.Time // when the report is made (zero: time.Now)

	Detections   []Detection
	ApproveLabel string   // tickets.approve_label
	Approvers    []string // tickets.approvers
	// DoneStatuses are tracker statuses that close a ticket besides
	// state.ClosedStatuses (tickets.done_transition).
	DoneStatuses []string
	Source       string // the state file, named in the header
	// Exceptions and Silences are the ones defined when the report is made
	// (the detections' [[exception]]s, silences.toml); Shadow names the
	// detections in the shadow stage then.
	Exceptions []Exception
	Silences   []Silence
	Shadow     []string
}

// Report is the built report.
type Report struct {
	From, To, Generated time.Time
	Source              string
	Tiles               []Tile
	Sections            []*Section
}

// Tile is one headline figure.
type Tile struct {
	Label, Value, Note string
	Tone               string // "", "good", "warn", "bad": colours the tile
}

// Section is one part of the page: charts and tables under a heading.
type Section struct {
	ID, Title string
	Intro     string
	Notes     []string // caveats about the data (pruned history, approximations)
	Blocks    []Block
}

// Block is a chart or a table, in page order.
type Block struct {
	Title   string
	Chart   template.HTML // inline SVG (and its legend), or ""
	Table   *Table        // or nil
	Caption string
	Half    bool // may sit beside another half block on a wide page
}

// Tables returns every table of the report in page order: the CSV and JSON
// formats write exactly these.
func (r *Report) Tables() []*Table {
	var out []*Table
	for _, s := range r.Sections {
		for _, b := range s.Blocks {
			if b.Table != nil {
				out = append(out, b.Table)
			}
		}
	}
	return out
}

// builder makes one section from the loaded data, or nil to leave it out.
type builder func(ctx context.Context, d *data) (*Section, error)

// sections are the report's sections in page order. A later ledger adds
// its builder here.
var sections = []builder{
	alertsSection,
	speedSection,
	actionsSection,
	approvalsSection,
	verdictSection,
	tuningSection,
	shadowSection,
	coverageSection,
	entitiesSection,
	healthSection,
	auditSection,
}

// Build reads the span from the state file and builds the report.
func Build(ctx context.Context, db *state.DB, opt Options) (*Report, error) {
	if opt.Now.IsZero() {
		opt.Now = time.Now()
	}
	opt.Now = opt.Now.UTC()
	if opt.To.IsZero() {
		opt.To = opt.Now
	}
	opt.From, opt.To = opt.From.UTC(), opt.To.UTC()
	d, err := load(ctx, db, &opt)
	if err != nil {
		return nil, err
	}
	if !opt.From.Before(opt.To) {
		return nil, errors.New("the span is empty: --from must be before --to")
	}
	rep := &Report{From: opt.From, To: opt.To, Generated: opt.Now, Source: opt.Source}
	for _, b := range sections {
		s, err := b(ctx, d)
		if err != nil {
			return nil, fmt.Errorf("report: %w", err)
		}
		if s != nil {
			rep.Sections = append(rep.Sections, s)
		}
	}
	rep.Tiles = d.tiles()
	return rep, nil
}
