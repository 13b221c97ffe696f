package sigma

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Outcome is what happened to one input file.
type Outcome struct {
	File   string
	Out    string // the file written, when converted
	Reason string // why it was skipped
	// Failed marks a CloudTrail rule that could not be converted.
	Failed bool
	// Unreadable marks a file that could not be read or parsed as YAML.
	Unreadable bool
}

// Line is the outcome as `patrol import sigma` prints it.
func (o Outcome) Line() string {
	if o.Out != "" {
		return fmt.Sprintf("converted %s -> %s", o.File, o.Out)
	}
	return fmt.Sprintf("skipped %s: %s", o.File, o.Reason)
}

// Importer converts Sigma files into detection files in Dir.
type Importer struct {
	Dir   string
	Force bool   // overwrite existing files
	Stage string // see DefaultStage
	// Validate checks a written detection file as `patrol validate` does.
	Validate func(path string) error
	// IDs maps the ids of detections already in Dir to their files, so that
	// an import never makes a second detection with the same id.
	IDs map[string]string
}

// Files lists the Sigma files under the given paths: files as given,
// folders walked for *.yml and *.yaml in name order.
func Files(paths []string) ([]string, []Outcome) {
	var files []string
	var bad []Outcome
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			bad = append(bad, Outcome{File: p, Reason: "cannot read: " + errMsg(err), Unreadable: true})
			continue
		}
		if !st.IsDir() {
			files = append(files, p)
			continue
		}
		var found []string
		err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if ext := strings.ToLower(filepath.Ext(path)); !d.IsDir() && (ext == ".yml" || ext == ".yaml") {
				found = append(found, path)
			}
			return nil
		})
		if err != nil {
			bad = append(bad, Outcome{File: p, Reason: "cannot read: " + errMsg(err), Unreadable: true})
		}
		sort.Strings(found)
		files = append(files, found...)
	}
	return files, bad
}

func errMsg(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

// Import converts one Sigma file.
func (im *Importer) Import(file string) Outcome {
	o := Outcome{File: file}
	src, err := os.ReadFile(file)
	if err != nil {
		o.Reason, o.Unreadable = "cannot read: "+errMsg(err), true
		return o
	}
	docs, err := ParseFile(src)
	if err != nil {
		var u *Unsupported
		if errors.As(err, &u) {
			o.Reason, o.Failed = err.Error(), true
			return o
		}
		o.Reason, o.Unreadable = "not valid YAML: "+err.Error(), true
		return o
	}
	if len(docs) == 0 {
		o.Reason = "no Sigma rule in the file"
		return o
	}
	cloudtrail := false
	for _, d := range docs {
		cloudtrail = cloudtrail || IsCloudTrail(d.Logsource)
	}
	for _, d := range docs {
		if d.Kind != "rule" {
			o.Reason, o.Failed = fmt.Sprintf("line %d: %s", d.Line, correlationReason(d.Correlation)), cloudtrail
			if d.Kind == "filter" {
				o.Reason = fmt.Sprintf("line %d: Sigma filters are not supported (put the exclusion in the detection's search)", d.Line)
			}
			return o
		}
	}
	if len(docs) > 1 {
		o.Reason, o.Failed = fmt.Sprintf("%d rules in one file: put each rule in its own file", len(docs)), cloudtrail
		return o
	}
	r := docs[0].Rule
	if !cloudtrail {
		o.Reason = "logsource is not AWS CloudTrail (" + describe(docs[0].Logsource) + ")"
		return o
	}
	c, err := Convert(file, r, im.Stage)
	if err != nil {
		o.Reason, o.Failed = err.Error(), true
		return o
	}
	return im.write(o, c)
}

func describe(ls map[string]string) string {
	var parts []string
	for _, k := range []string{"product", "service", "category"} {
		if ls[k] != "" {
			parts = append(parts, k+": "+ls[k])
		}
	}
	if len(parts) == 0 {
		return "none given"
	}
	return strings.Join(parts, ", ")
}

// write puts the detection in place: refused when another file has its id,
// kept when the file exists (unless Force), and written only once it
// validates.
func (im *Importer) write(o Outcome, c *Converted) Outcome {
	out := filepath.Join(im.Dir, c.FileName)
	if prev, ok := im.IDs[c.ID]; ok && filepath.Base(prev) != c.FileName {
		o.Reason, o.Failed = fmt.Sprintf("id %s is already used by %s", c.ID, prev), true
		return o
	}
	if _, err := os.Stat(out); err == nil && !im.Force {
		o.Reason = out + " exists (--force overwrites it)"
		return o
	}
	if err := os.MkdirAll(im.Dir, 0o755); err != nil {
		o.Reason, o.Failed = "cannot write: "+errMsg(err), true
		return o
	}
	tmp, err := os.CreateTemp(im.Dir, "."+c.FileName+".*.tmp")
	if err != nil {
		o.Reason, o.Failed = "cannot write: "+errMsg(err), true
		return o
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.Write(c.TOML)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil && im.Validate != nil {
		if verr := im.Validate(tmp.Name()); verr != nil {
			o.Reason, o.Failed = "the converted detection does not validate: "+strings.ReplaceAll(verr.Error(), tmp.Name(), out), true
			return o
		}
	}
	if err == nil {
		err = os.Rename(tmp.Name(), out)
	}
	if err != nil {
		o.Reason, o.Failed = "cannot write: "+errMsg(err), true
		return o
	}
	if im.IDs == nil {
		im.IDs = map[string]string{}
	}
	im.IDs[c.ID] = out
	o.Out = out
	return o
}

// correlationReason says why a correlation is skipped and how patrol
// expresses it: events that follow each other are a [sequence] detection
// over the detections of the rules it names (patrol keeps their state in
// its ledger); counts are a search with stats.
func correlationReason(typ string) string {
	const sequence = "convert the rules it names, then write a patrol detection with [sequence] over their detections (steps, by, within; README.md, \"Sequences\")"
	switch typ {
	case "temporal", "temporal_ordered":
		return fmt.Sprintf("correlation rules (type %s) are not supported: %s", typ, sequence)
	case "":
		return "correlation rules are not supported: for events that follow each other, " + sequence + "; for a count, write a patrol detection whose search counts with stats ... by over its lookback"
	}
	return fmt.Sprintf("correlation rules (type %s) are not supported: write a patrol detection whose search counts with stats ... by over its lookback; for events that follow each other, %s", typ, sequence)
}
