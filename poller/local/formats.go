package local

import (
	"embed"
	"fmt"
	"io"

	"github.com/patrolsec/patrol/detections/spl"
)

// A format reads one kind of log file into events: CloudTrail JSON, VPC
// Flow Logs text, Route 53 Resolver query logs. New formats plug in by
// adding a value to formats; the file reader tries them in order on the
// start of each file.
type format struct {
	name       string
	sourcetype string
	props      *spl.Props
	// json formats get records from the JSON splitter and claim a file by
	// its first record; text formats claim it by its first line.
	json  bool
	claim func(first []byte) bool
	// open returns the records of a text file (json formats leave it nil),
	// each line at most lim.MaxRecordBytes long.
	open func(r io.Reader, lim Limits) (records, error)
	// time reads an event's _time (epoch seconds); ok is false when the
	// record has none, and the file's modification time is used instead.
	time func(e *spl.Event) (float64, bool, error)
}

// records is a stream of one file's records.
type records interface {
	// next returns the next record's bytes (valid until the following
	// call), its offset in the file, its fields when the format splits them
	// itself, or io.EOF.
	next() (raw []byte, off int64, fields []spl.Field, err error)
}

//go:embed fields/*.props
var propsFiles embed.FS

func loadProps(name string) *spl.Props {
	b, err := propsFiles.ReadFile("fields/" + name)
	if err != nil {
		panic(err)
	}
	p, err := spl.ParseProps(string(b))
	if err != nil {
		panic(fmt.Sprintf("fields/%s: %v", name, err))
	}
	return p
}

// formats in the order they are tried; CloudTrail is the JSON fallback.
var formats = []*format{route53Format, cloudtrailFormat, vpcflowFormat}

// detect picks the format of a file from its first record (JSON) or its
// first line (text).
func detect(json bool, first []byte) *format {
	for _, f := range formats {
		if f.json == json && f.claim(first) {
			return f
		}
	}
	return nil
}

// jsonTime reads a JSON field holding an ISO-8601 timestamp.
func jsonTime(field string) func(e *spl.Event) (float64, bool, error) {
	return func(e *spl.Event) (float64, bool, error) {
		v, err := spl.JSONField(e.Raw, field)
		if err != nil {
			return 0, false, err
		}
		if v.IsNull() {
			return 0, false, nil
		}
		t, ok := spl.ParseTime(v.String())
		return t, ok, nil
	}
}
