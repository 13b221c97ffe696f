package detections

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

// LoadOptions gives the loader what it checks detections against.
type LoadOptions struct {
	Macros *Macros // nil: macros are not expanded or checked
	// CheckSPL, when set, parses a detection's expanded search offline and
	// returns an error naming what it cannot run.
	CheckSPL func(spl string) error
	// AllowCommands names forbidden commands (ForbiddenCommands) a search
	// may use anyway: search.splunk.allow_commands.
	AllowCommands []string
	// Now is the clock exceptions' expiry is checked against (nil: time.Now).
	Now func() time.Time
}

var idRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,99}$`)

// Load reads every *.toml file in dir (sorted by name) and validates it. It
// returns the valid detections and an error joining every *Problem found:
// callers that must not run with a broken set check the error.
func Load(dir string, opts LoadOptions) ([]*Detection, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*.toml"))
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(dir); err != nil {
		return nil, &Problem{File: dir, Msg: "detections folder: " + errors.Unwrap(err).Error()}
	}
	sort.Strings(paths)
	var (
		out  []*Detection
		errs []error
		seen = map[string]string{}
	)
	for _, p := range paths {
		d, err := LoadFile(p, opts)
		if err != nil {
			errs = append(errs, err)
		}
		if d == nil {
			continue
		}
		if prev, dup := seen[d.ID]; dup {
			src, _ := os.ReadFile(p)
			errs = append(errs, &Problem{File: p, Line: ScanKeyLines(string(src)).Line("id"), Key: "id",
				Msg: fmt.Sprintf("duplicate id %q (also in %s): ids must be unique", d.ID, filepath.Base(prev))})
			continue
		}
		seen[d.ID] = p
		if err == nil {
			out = append(out, d)
		}
	}
	if steps := checkSteps(out); len(steps) > 0 {
		errs = append(errs, steps...)
		bad := map[string]bool{}
		for _, e := range steps {
			bad[e.(*Problem).File] = true
		}
		kept := out[:0]
		for _, d := range out {
			if !bad[d.File] {
				kept = append(kept, d)
			}
		}
		out = kept
	}
	return out, errors.Join(errs...)
}

// LoadFile reads and validates one detection file. It may return a partly
// filled detection with an error, so that duplicate ids are still found.
func LoadFile(path string, opts LoadOptions) (*Detection, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, &Problem{File: path, Msg: err.Error()}
	}
	src := string(b)
	r := &Reporter{File: path, Lines: ScanKeyLines(src), Src: src}
	var raw rawDetection
	if !DecodeStrict(r, src, &raw) {
		return nil, r.Err()
	}
	d := validate(r, &raw, opts, filepath.Dir(path))
	d.File, d.Dir = path, filepath.Dir(path)
	if d.ID == "" {
		return nil, r.Err()
	}
	return d, r.Err()
}

func validate(r *Reporter, raw *rawDetection, opts LoadOptions, dir string) *Detection {
	d := &Detection{
		ID: raw.ID, Title: strings.TrimSpace(raw.Title), Description: raw.Description,
		Severity: raw.Severity, Schedule: raw.Schedule, TimeMode: raw.TimeMode,
		Search: strings.TrimSpace(raw.Search), GroupBy: raw.GroupBy, AccountField: strings.TrimSpace(raw.AccountFld),
	}
	if raw.AccountFld != "" && d.AccountField == "" {
		r.Add("account_field", "is empty: name the result field that holds the affected account, or leave the key out")
	}
	switch {
	case raw.ID == "":
		r.Add("id", "is required (a stable, unique name like cloudtrail-logging-stopped)")
	case !idRE.MatchString(raw.ID):
		r.Add("id", "%q must be lowercase letters, digits, '.', '_' or '-' (it becomes a ticket label)", raw.ID)
		d.ID = ""
	}
	if d.Title == "" {
		r.Add("title", "is required")
	}
	if SeverityRank(raw.Severity) < 0 {
		r.Add("severity", "%q must be one of %s", raw.Severity, strings.Join(Severities, ", "))
	}
	if raw.Schedule == "" {
		r.Add("schedule", "is required (cron, e.g. \"*/5 * * * *\" or \"@every 5m\")")
	} else if s, err := cron.ParseStandard(raw.Schedule); err != nil {
		r.Add("schedule", "%q is not a cron schedule: %v", raw.Schedule, err)
	} else {
		d.Cron = s
	}
	d.Settle = duration(r, "settle", raw.Settle, DefaultSettle)
	d.Lookback = duration(r, "lookback", raw.Lookback, DefaultLookback)
	d.Suppress = duration(r, "suppress", raw.Suppress, DefaultSuppress)
	d.Freshness = duration(r, "freshness", raw.Freshness, 0)
	d.MaxWindow = duration(r, "max_window", raw.MaxWindow, 0)
	if raw.Lookback != nil && d.Lookback == 0 {
		r.Add("lookback", "must be more than 0")
	}
	if raw.Suppress != nil && d.Suppress < time.Second {
		// With no span a window searched again (after a failure) would
		// count as repeats farther apart than suppress: new alerts, new
		// tickets for the same results.
		r.Add("suppress", "must be at least 1s (repeats inside it update the alert instead of opening a new one; use a short span like \"1m\" to alert on nearly every repeat)")
	}
	if raw.MaxWindow != nil && d.MaxWindow < time.Minute {
		r.Add("max_window", "must be at least 1m")
	}
	switch d.TimeMode {
	case "":
		d.TimeMode = TimeIndex
	case TimeIndex, TimeEvent:
	default:
		r.Add("time_mode", "%q must be \"index\" (catches late-indexed events) or \"event\"", d.TimeMode)
	}
	expanded := false
	if raw.Sequence != nil {
		validateSequence(r, d, raw)
	} else if d.Search == "" {
		r.Add("search", "is required (or a [sequence] table)")
	} else {
		d.Expanded = d.Search
		var err error
		if opts.Macros != nil {
			d.Expanded, err = opts.Macros.Expand(d.Search)
			addEach(r, "search", err)
		}
		if cerr := CheckCommands(d.Expanded, opts.AllowCommands); cerr != nil {
			reportCommand(r, raw.Search, cerr, opts.AllowCommands)
		} else if opts.CheckSPL != nil && err == nil {
			if err := opts.CheckSPL(d.Expanded); err != nil {
				r.Add("search", "%v", err)
			}
		}
		expanded = err == nil
	}
	if d.Freshness > 0 && raw.Sequence == nil {
		validateFreshness(r, d, raw, opts)
	} else if raw.FreshSearch != "" {
		r.Add("freshness_search", "has no effect without freshness")
	}
	if raw.FirstSeen != nil && raw.Sequence == nil {
		validateFirstSeen(r, d, raw)
	}
	if len(raw.GroupBy) == 0 && raw.Sequence == nil {
		r.Add("group_by", "is required: name the fields whose values make one alert (e.g. [\"recipientAccountId\", \"requestParameters.name\"])")
	}
	for i, f := range raw.GroupBy {
		if strings.TrimSpace(f) == "" {
			r.Add("group_by", "entry %d is empty", i+1)
		}
	}
	validateMetadata(r, d, raw)
	validateTicket(r, d, raw.Ticket)
	validateRemediation(r, d, raw)
	validateTests(r, d, raw, dir)
	validateStage(r, d, raw.Stage)
	now := time.Now
	if opts.Now != nil {
		now = opts.Now
	}
	validateExceptions(r, d, raw.Exceptions, now().UTC())
	if expanded {
		checkOutputFields(r, d)
	}
	return d
}

// validateFreshness sets the search that selects the detection's source:
// freshness_search, or else the macro the search starts with (`cloudtrail`).
func validateFreshness(r *Reporter, d *Detection, raw *rawDetection, opts LoadOptions) {
	src := strings.TrimSpace(raw.FreshSearch)
	if src == "" {
		if s := strings.TrimSpace(raw.Search); strings.HasPrefix(s, "`") {
			if end := strings.IndexByte(s[1:], '`'); end >= 0 {
				src = s[:end+2]
			}
		}
	}
	if src == "" {
		r.Add("freshness_search", "is required with freshness when the search does not start with a source macro: give a search for the whole source (e.g. \"`cloudtrail`\")")
		return
	}
	if strings.Contains(src, "|") {
		r.Add("freshness_search", "must be a plain search without pipes (patrol appends | head 1)")
		return
	}
	d.FreshnessSearch = src
	if opts.Macros != nil {
		exp, err := opts.Macros.Expand(src)
		addEach(r, "freshness_search", err)
		d.FreshnessSearch = exp
	}
	// Splunk runs it too: a macro may bring a pipe, a subsearch a command.
	if err := CheckCommands(d.FreshnessSearch, opts.AllowCommands); err != nil {
		r.Add("freshness_search", "%v", err)
	}
}

// addEach adds one problem at key for each error joined in err.
func addEach(r *Reporter, key string, err error) {
	if err == nil {
		return
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range j.Unwrap() {
			addEach(r, key, e)
		}
		return
	}
	r.Add(key, "%v", err)
}

func duration(r *Reporter, key string, v *string, def time.Duration) time.Duration {
	if v == nil {
		return def
	}
	d, err := ParseDuration(*v)
	if err != nil {
		r.Add(key, "%v", err)
		return def
	}
	return d
}

func template(r *Reporter, key, src string) Template {
	t, err := ParseTemplate(src)
	if err != nil {
		r.Add(key, "template: %v", err)
	}
	return t
}

var labelRE = regexp.MustCompile(`^[^\s]{1,255}$`)

func validateTicket(r *Reporter, d *Detection, t rawTicket) {
	if strings.TrimSpace(t.Summary) == "" {
		r.Add("ticket.summary", "is required (a one-line template like \"CloudTrail {eventName} on {requestParameters.name}\")")
	}
	if strings.ContainsAny(t.Summary, "\r\n") {
		r.Add("ticket.summary", "must be one line")
	}
	d.Ticket = TicketSpec{
		Summary:     template(r, "ticket.summary", t.Summary),
		Description: template(r, "ticket.description", t.Description),
		Priority:    t.Priority,
		Labels:      t.Labels,
	}
	for _, l := range t.Labels {
		if !labelRE.MatchString(l) {
			r.Add("ticket.labels", "label %q must be 1-255 characters without spaces", l)
		}
	}
}

func validateRemediation(r *Reporter, d *Detection, raw *rawDetection) {
	rem := raw.Remediation
	if rem == nil {
		return
	}
	out := &Remediation{Action: rem.Action, Mode: rem.Mode, Params: map[string]Template{}}
	d.Remediation = out
	spec, ok := Registry[rem.Action]
	if !ok {
		r.Add("remediation.action", "unknown action %q (known: %s)", rem.Action, strings.Join(ActionNames(), ", "))
	}
	switch rem.Mode {
	case "":
		out.Mode = ModeApprove
	case ModeAuto, ModeApprove, ModeOff:
	default:
		r.Add("remediation.mode", "%q must be auto, approve or off", rem.Mode)
	}
	for name, src := range rem.Params {
		out.Params[name] = template(r, "remediation.params."+name, src)
	}
	out.Grace = duration(r, "remediation.grace", rem.Grace, 0)
	if out.Grace > 0 && out.Mode != ModeAuto {
		r.Add("remediation.grace", "delays an automatic remediation: it needs mode = \"auto\" (an approval is a person deciding already)")
	}
	if !ok {
		return
	}
	known := map[string]bool{}
	for _, p := range append(append(append([]string{}, spec.Required...), spec.Optional...), spec.OneOf...) {
		known[p] = true
	}
	for _, p := range spec.Required {
		if _, given := rem.Params[p]; !given {
			r.Add("remediation.params", "action %s needs param %q", rem.Action, p)
		}
	}
	if len(spec.OneOf) > 0 {
		n := 0
		for _, p := range spec.OneOf {
			if _, given := rem.Params[p]; given {
				n++
			}
		}
		if n != 1 {
			r.Add("remediation.params", "action %s needs exactly one of %s", rem.Action, strings.Join(spec.OneOf, ", "))
		}
	}
	names := make([]string, 0, len(rem.Params))
	for p := range rem.Params {
		names = append(names, p)
	}
	sort.Strings(names)
	for _, p := range names {
		if !known[p] {
			r.Add("remediation.params."+p, "action %s has no param %q", rem.Action, p)
		}
	}
}
