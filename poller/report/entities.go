package report

import (
	"context"
	"sort"
)

// topN is how many accounts, principals and addresses are listed.
const topN = 10

func entitiesSection(_ context.Context, d *data) (*Section, error) {
	s := &Section{ID: "entities", Title: "Top accounts, principals and source addresses",
		Intro: "What the span's alerts were about, read from each alert's first result: the affected AWS account, the principal that made the event (userIdentity.arn) and the caller's address. Each alert counts once."}
	for _, e := range []struct {
		name, title, col string
		value            func(alertRow) string
	}{
		{"top_accounts", "Accounts", "account", func(a alertRow) string { return a.Account }},
		{"top_sources", "Source addresses", "source", func(a alertRow) string { return a.Source }},
		{"top_principals", "Principals", "principal", func(a alertRow) string { return a.Principal }},
	} {
		s.Blocks = append(s.Blocks, Block{Table: topTable(d, e.name, e.title, e.col, e.value), Half: e.name != "top_principals"})
	}
	return s, nil
}

func topTable(d *data, name, title, col string, value func(alertRow) string) *Table {
	alerts := map[string]int{}
	dets := map[string]map[string]bool{}
	for _, a := range d.alerts {
		v := value(a)
		if v == "" {
			continue
		}
		alerts[v]++
		if dets[v] == nil {
			dets[v] = map[string]bool{}
		}
		dets[v][a.Detection] = true
	}
	vals := make([]string, 0, len(alerts))
	for v := range alerts {
		vals = append(vals, v)
	}
	sort.Slice(vals, func(i, j int) bool {
		if alerts[vals[i]] != alerts[vals[j]] {
			return alerts[vals[i]] > alerts[vals[j]]
		}
		return vals[i] < vals[j]
	})
	t := &Table{Name: name, Title: title, Columns: []Column{{Key: col, Title: titleCase(col)},
		{Key: "alerts", Title: "Alerts", Kind: Count}, {Key: "detections", Title: "Detections", Kind: Count}},
		Empty: "No alert named one.", VisualAfter: "alerts"}
	var bars [][]int
	for i, v := range vals {
		if i == topN {
			break
		}
		t.Rows = append(t.Rows, []any{v, alerts[v], len(dets[v])})
		bars = append(bars, []int{alerts[v]})
	}
	t.Visual = stackedBars(bars, []string{"c-bar"}, []string{"alerts"})
	return t
}
