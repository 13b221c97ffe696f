package local

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/patrolsec/patrol/detections/spl"
)

// vpcflowFormat reads VPC Flow Logs as AWS delivers them to S3 or
// CloudWatch Logs: space-separated records in the default version 2 format,
// or in a custom format named by a header line ("version vpc-id srcaddr
// ..."). _time is the flow's start.
var vpcflowFormat = &format{
	name:       "vpcflow",
	sourcetype: "aws:cloudwatchlogs:vpcflow",
	props:      loadProps("aws_cloudwatchlogs_vpcflow.props"),
	claim:      looksLikeFlow,
	open: func(r io.Reader, lim Limits) (records, error) {
		return &flowRecords{r: bufio.NewReaderSize(r, 64<<10), max: lim.MaxRecordBytes}, nil
	},
	time: func(e *spl.Event) (float64, bool, error) {
		for _, f := range e.Fields {
			if f.Name == "start" {
				n, ok := f.Value.Number()
				return n, ok, nil
			}
		}
		return 0, false, nil
	},
}

// Field orders of the formats AWS documents: version 2 is the default;
// the 29 fields of version 5 in order are what "all fields" gives.
var (
	flowV2 = strings.Fields("version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status")
	flowV5 = append(append([]string(nil), flowV2...), strings.Fields("vpc-id subnet-id instance-id tcp-flags type pkt-srcaddr pkt-dstaddr region az-id sublocation-type sublocation-id pkt-src-aws-service pkt-dst-aws-service flow-direction traffic-path")...)
)

func looksLikeFlow(line []byte) bool {
	f := strings.Fields(string(line))
	if len(f) > 2 && f[0] == "version" {
		for _, x := range f {
			if x == "srcaddr" || x == "dstaddr" || x == "interface-id" {
				return true
			}
		}
		return false
	}
	if (len(f) != len(flowV2) && len(f) != len(flowV5)) || !isDigits(f[0]) {
		return false
	}
	switch f[13] {
	case "OK", "NODATA", "SKIPDATA":
		return true
	}
	return false
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// flowColumn names a format field as an event field: dashes become
// underscores, and action keeps the add-on's name for ACCEPT/REJECT.
func flowColumn(name string) string {
	if name == "action" {
		return "vpcflow_action"
	}
	return strings.ReplaceAll(name, "-", "_")
}

type flowRecords struct {
	r    *bufio.Reader
	max  int // longest line kept
	off  int64
	line int
	cols []string
	buf  []byte
}

func (f *flowRecords) next() ([]byte, int64, []spl.Field, error) {
	for {
		line, err := f.r.ReadSlice('\n')
		n := int64(len(line))
		if errors.Is(err, bufio.ErrBufferFull) {
			f.buf = append(f.buf[:0], line...)
			for errors.Is(err, bufio.ErrBufferFull) {
				line, err = f.r.ReadSlice('\n')
				n += int64(len(line))
				if len(f.buf) <= f.max {
					f.buf = append(f.buf, line...)
				}
			}
			if err != nil && !errors.Is(err, io.EOF) {
				return nil, 0, nil, err
			}
			line = f.buf
		}
		if n > int64(f.max) {
			start := f.off
			f.off += n
			f.line++
			return nil, 0, nil, &skipError{Offset: start, Reason: SkipRecordSize,
				Detail: fmt.Sprintf("line %d is longer than %d bytes (search.local.max_record_bytes)", f.line, f.max)}
		}
		if len(line) == 0 && err != nil {
			if errors.Is(err, io.EOF) {
				return nil, 0, nil, io.EOF
			}
			return nil, 0, nil, err
		}
		start := f.off
		f.off += int64(len(line))
		f.line++
		text := bytes.TrimRight(line, "\r\n")
		words := strings.Fields(string(text))
		if len(words) == 0 {
			continue
		}
		if words[0] == "version" {
			f.cols = words
			continue
		}
		cols := f.cols
		if cols == nil {
			switch len(words) {
			case len(flowV2):
				cols = flowV2
			case len(flowV5):
				cols = flowV5
			}
		}
		if len(words) != len(cols) {
			if cols == nil {
				return nil, 0, nil, fmt.Errorf("line %d: %d fields and no header line naming them (the default format has %d)", f.line, len(words), len(flowV2))
			}
			return nil, 0, nil, fmt.Errorf("line %d: %d fields, the header names %d", f.line, len(words), len(cols))
		}
		fields := make([]spl.Field, 0, len(words))
		for i, w := range words {
			if w != "-" {
				fields = append(fields, spl.Field{Name: flowColumn(cols[i]), Value: spl.Str(w)})
			}
		}
		return text, start, fields, nil
	}
}
