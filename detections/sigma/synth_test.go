package sigma_test

// Records made from a Sigma rule's own selection values, for the shared
// rules that select no event of the shared data: there, equal results only
// show that a search is not too broad. A positive record satisfies some of
// the rule's search identifiers; a near miss is the positive with one value
// changed by one character, or with one more identifier (a filter)
// satisfied. Which is which is decided by the independent evaluator
// (eval_test.go) alone; nothing here reads the converter.

import (
	"fmt"
	"net/netip"
	"regexp/syntax"
	"sort"
	"strconv"
	"strings"
)

// synthesize returns positives (records the rule selects) and near misses
// (records close to a positive that it does not select), with event ids
// prefixed by id. It returns no positive when no combination of the
// rule's identifiers makes one.
func synthesize(r *evalRule, id string) (pos, near []map[string]any, err error) {
	ids := r.identifiers()
	if len(ids) > 10 {
		return nil, nil, fmt.Errorf("%d search identifiers: too many to combine", len(ids))
	}
	// Every subset of the identifiers, smallest first, each identifier
	// satisfied by the first map of its list.
	subsets := make([][]string, 0, 1<<len(ids))
	for mask := 1; mask < 1<<len(ids); mask++ {
		var s []string
		for i, n := range ids {
			if mask&(1<<i) != 0 {
				s = append(s, n)
			}
		}
		subsets = append(subsets, s)
	}
	sort.SliceStable(subsets, func(i, k int) bool { return len(subsets[i]) < len(subsets[k]) })
	var chosen []string
	var rec map[string]any
	var set []string // the dotted fields the positive sets
	for _, s := range subsets {
		cand, fields, ok := record(r, s, id+"-match")
		if !ok {
			continue
		}
		if m, err := r.matches(cand); err != nil {
			return nil, nil, err
		} else if m {
			chosen, rec, set = s, cand, fields
			break
		}
	}
	if rec == nil {
		return nil, nil, nil
	}
	pos = append(pos, rec)
	// One character changed in one value the positive set.
	for i, f := range set {
		v, ok := lookup(rec, f)
		if !ok {
			continue
		}
		for _, alt := range oneOff(v) {
			miss := clone(rec)
			put(miss, f, alt)
			miss["eventID"] = fmt.Sprintf("%s-near-%d", id, i)
			if m, err := r.matches(miss); err != nil {
				return nil, nil, err
			} else if !m {
				near = append(near, miss)
				break
			}
		}
	}
	// One more identifier satisfied (a filter the condition excludes).
	for _, n := range ids {
		if contains(chosen, n) {
			continue
		}
		miss, _, ok := record(r, append(append([]string(nil), chosen...), n), fmt.Sprintf("%s-near-%s", id, n))
		if !ok {
			continue
		}
		if m, err := r.matches(miss); err != nil {
			return nil, nil, err
		} else if !m {
			near = append(near, miss)
		}
	}
	return pos, near, nil
}

// base is a plausible CloudTrail record the identifiers' values go into.
func base(eventID string) map[string]any {
	return map[string]any{
		"eventVersion": "1.09", "eventTime": "2026-11-01T12:00:00Z", "awsRegion": "us-east-1",
		"recipientAccountId": "111122223333", "eventType": "AwsApiCall", "eventID": eventID,
		"userIdentity": map[string]any{"type": "IAMUser", "arn": "arn:aws:iam::111122223333:user/synth",
			"userName": "synth", "accountId": "111122223333"},
		"eventSource": "sts.amazonaws.com", "eventName": "GetCallerIdentity",
		"userAgent": "aws-cli/2.15.30", "sourceIPAddress": "198.51.100.44",
	}
}

// record builds a record satisfying each identifier in names (the first map
// of a list), and returns the fields it set. ok is false when a value
// cannot be made (a keyword list, an unknown modifier).
func record(r *evalRule, names []string, eventID string) (map[string]any, []string, bool) {
	rec := base(eventID)
	var fields []string
	for _, n := range names {
		var m map[string]any
		switch d := r.detection[n].(type) {
		case map[string]any:
			m = d
		case []any:
			if len(d) == 0 {
				return nil, nil, false
			}
			m, _ = d[0].(map[string]any)
		}
		if m == nil {
			return nil, nil, false
		}
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			parts := strings.Split(k, "|")
			field, mods := parts[0], map[string]bool{}
			for _, x := range parts[1:] {
				mods[x] = true
			}
			v, absent, ok := value(m[k], mods)
			if !ok {
				return nil, nil, false
			}
			if absent {
				drop(rec, field)
				continue
			}
			put(rec, field, v)
			fields = append(fields, field)
		}
	}
	return rec, fields, true
}

// value makes a string that the modifiers and value(s) accept; absent
// means the field must not be there.
func value(want any, mods map[string]bool) (v string, absent, ok bool) {
	wants, isList := want.([]any)
	if !isList {
		wants = []any{want}
	}
	if len(wants) == 0 {
		return "", false, false
	}
	if !mods["all"] {
		wants = wants[:1]
	}
	var parts []string
	for _, w := range wants {
		switch {
		case mods["exists"]:
			b, _ := w.(bool)
			return "present", !b, true
		case w == nil:
			return "", true, true
		case mods["fieldref"], mods["expand"]:
			return "", false, false
		case mods["re"]:
			s, err := fromRegexp(fmt.Sprint(w))
			if err != nil {
				return "", false, false
			}
			parts = append(parts, s)
		case mods["cidr"]:
			p, err := netip.ParsePrefix(fmt.Sprint(w))
			if err != nil {
				return "", false, false
			}
			parts = append(parts, p.Masked().Addr().Next().String())
		case mods["lt"], mods["lte"], mods["gt"], mods["gte"]:
			n, err := strconv.ParseFloat(fmt.Sprint(w), 64)
			if err != nil {
				return "", false, false
			}
			switch {
			case mods["lt"]:
				n--
			case mods["gt"]:
				n++
			}
			parts = append(parts, strconv.FormatFloat(n, 'f', -1, 64))
		default:
			parts = append(parts, literal(yamlText(w)))
		}
	}
	s := strings.Join(parts, " ")
	switch {
	case mods["contains"]:
		s = "x " + s + " x"
	case mods["startswith"]:
		s += "-x"
	case mods["endswith"]:
		s = "x-" + s
	}
	return s, false, true
}

// literal is a string a Sigma wildcard value matches: * and ? become one
// letter, escapes are undone.
func literal(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '\\' && i+1 < len(s) && strings.IndexByte(`*?\`, s[i+1]) >= 0 {
			b.WriteByte(s[i+1])
			i++
			continue
		}
		if c == '*' || c == '?' {
			b.WriteByte('x')
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// fromRegexp returns a short string the regular expression matches.
func fromRegexp(pat string) (string, error) {
	re, err := syntax.Parse(pat, syntax.Perl)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	var gen func(*syntax.Regexp) error
	gen = func(re *syntax.Regexp) error {
		switch re.Op {
		case syntax.OpLiteral:
			b.WriteString(string(re.Rune))
		case syntax.OpCharClass:
			if len(re.Rune) == 0 {
				return fmt.Errorf("empty class")
			}
			b.WriteRune(re.Rune[0])
		case syntax.OpAnyChar, syntax.OpAnyCharNotNL:
			b.WriteByte('x')
		case syntax.OpCapture:
			return gen(re.Sub[0])
		case syntax.OpConcat:
			for _, s := range re.Sub {
				if err := gen(s); err != nil {
					return err
				}
			}
		case syntax.OpAlternate:
			return gen(re.Sub[0])
		case syntax.OpPlus:
			return gen(re.Sub[0])
		case syntax.OpRepeat:
			for range re.Min {
				if err := gen(re.Sub[0]); err != nil {
					return err
				}
			}
		case syntax.OpStar, syntax.OpQuest, syntax.OpEmptyMatch, syntax.OpBeginLine, syntax.OpEndLine,
			syntax.OpBeginText, syntax.OpEndText, syntax.OpWordBoundary, syntax.OpNoWordBoundary:
		default:
			return fmt.Errorf("regular expression operator %v", re.Op)
		}
		return nil
	}
	err = gen(re)
	return b.String(), err
}

// oneOff lists v with one character replaced, each position in turn.
func oneOff(v string) []string {
	var out []string
	for i := range len(v) {
		c := byte('#')
		if v[i] == '#' {
			c = '%'
		}
		out = append(out, v[:i]+string(c)+v[i+1:])
	}
	return out
}

// put sets a dotted field, making the objects on the way.
func put(rec map[string]any, field string, v string) {
	segs := strings.Split(field, ".")
	cur := rec
	for _, s := range segs[:len(segs)-1] {
		next, ok := cur[s].(map[string]any)
		if !ok {
			next = map[string]any{}
			cur[s] = next
		}
		cur = next
	}
	cur[segs[len(segs)-1]] = v
}

func drop(rec map[string]any, field string) {
	segs := strings.Split(field, ".")
	cur := rec
	for _, s := range segs[:len(segs)-1] {
		next, ok := cur[s].(map[string]any)
		if !ok {
			return
		}
		cur = next
	}
	delete(cur, segs[len(segs)-1])
}

func lookup(rec map[string]any, field string) (string, bool) {
	vs, ok := fieldValues(rec, field)
	if !ok || len(vs) != 1 {
		return "", false
	}
	s, ok := vs[0].(string)
	return s, ok
}

func clone(rec map[string]any) map[string]any {
	out := make(map[string]any, len(rec))
	for k, v := range rec {
		if m, ok := v.(map[string]any); ok {
			v = clone(m)
		}
		out[k] = v
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
