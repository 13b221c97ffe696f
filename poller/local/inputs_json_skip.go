package local

import "fmt"

func (j *jsonRecords) tooBig(off int64) error {
	return &skipError{Offset: off, Reason: SkipRecordSize,
		Detail: fmt.Sprintf("the record is longer than %d bytes (search.local.max_record_bytes)", j.lim.MaxRecordBytes)}
}

// skip reads on from buf[i] to the end of the record that starts at
// buf[start], at bracket depth depth and inside a string or not, keeping
// none of it, and returns a *skipError for it.
func (j *jsonRecords) skip(start, i, depth int, inStr bool, reason, detail string) ([]byte, int64, error) {
	off := j.base + int64(start)
	esc := false
	if inStr { // an odd run of backslashes before i escapes what follows
		for k := i - 1; k > start && j.buf[k] == '\\'; k-- {
			esc = !esc
		}
	}
	for {
		for ; i < j.end; i++ {
			c := j.buf[i]
			if inStr {
				switch {
				case esc:
					esc = false
				case c == '\\':
					esc = true
				case c == '"':
					inStr = false
				}
				continue
			}
			switch c {
			case '"':
				inStr = true
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					j.pos = i + 1
					if reason == SkipRecordSize {
						return nil, 0, j.tooBig(off)
					}
					return nil, 0, &skipError{Offset: off, Reason: reason, Detail: detail}
				}
			}
		}
		j.pos = i
		ok, err := j.fill(i)
		if err != nil {
			return nil, 0, err
		}
		i = j.pos
		if !ok {
			return nil, 0, j.errorAt(j.end, "unexpected end of file inside a record (skipped: %s)", reason)
		}
	}
}
