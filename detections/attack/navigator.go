package attack

import (
	"fmt"
	"strings"
)

// Navigator layer format 4.5 (ATT&CK Navigator 4.9.0 and later).
const (
	LayerVersion     = "4.5"
	NavigatorVersion = "5.2.0"
)

// Layer is an ATT&CK Navigator layer.
type Layer struct {
	Name                          string           `json:"name"`
	Versions                      LayerVersions    `json:"versions"`
	Domain                        string           `json:"domain"`
	Description                   string           `json:"description"`
	Sorting                       int              `json:"sorting"`
	Layout                        LayerLayout      `json:"layout"`
	HideDisabled                  bool             `json:"hideDisabled"`
	Techniques                    []LayerTechnique `json:"techniques"`
	Gradient                      Gradient         `json:"gradient"`
	LegendItems                   []LegendItem     `json:"legendItems"`
	Metadata                      []Metadata       `json:"metadata"`
	ShowTacticRowBackground       bool             `json:"showTacticRowBackground"`
	TacticRowBackground           string           `json:"tacticRowBackground"`
	SelectTechniquesAcrossTactics bool             `json:"selectTechniquesAcrossTactics"`
	SelectSubtechniquesWithParent bool             `json:"selectSubtechniquesWithParent"`
	SelectVisibleTechniques       bool             `json:"selectVisibleTechniques"`
}

// LayerVersions are the ATT&CK, Navigator and layer format versions.
type LayerVersions struct {
	Attack    string `json:"attack"`
	Navigator string `json:"navigator"`
	Layer     string `json:"layer"`
}

// LayerLayout is how the Navigator draws the matrix.
type LayerLayout struct {
	Layout                string `json:"layout"`
	AggregateFunction     string `json:"aggregateFunction"`
	ShowID                bool   `json:"showID"`
	ShowName              bool   `json:"showName"`
	ShowAggregateScores   bool   `json:"showAggregateScores"`
	CountUnscored         bool   `json:"countUnscored"`
	ExpandedSubtechniques string `json:"expandedSubtechniques"`
}

// LayerTechnique annotates one technique (under every tactic it has).
type LayerTechnique struct {
	TechniqueID       string     `json:"techniqueID"`
	Score             *int       `json:"score,omitempty"` // nil: unscored
	Comment           string     `json:"comment,omitempty"`
	Enabled           bool       `json:"enabled"`
	Metadata          []Metadata `json:"metadata,omitempty"`
	ShowSubtechniques bool       `json:"showSubtechniques"`
}

// Gradient maps scores to colours.
type Gradient struct {
	Colors   []string `json:"colors"`
	MinValue int      `json:"minValue"`
	MaxValue int      `json:"maxValue"`
}

// LegendItem is one entry of the layer's legend.
type LegendItem struct {
	Label string `json:"label"`
	Color string `json:"color"`
}

// Metadata is a name/value note.
type Metadata struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Layer renders the report as a Navigator layer: every covered technique
// scored by the number of live detections that cover it (a technique only
// shadow detections cover scores 0), the detections listed in its comment
// and metadata, and the parents of covered sub-techniques expanded.
func (r *Report) Layer(name string) Layer {
	l := Layer{
		Name:     name,
		Versions: LayerVersions{Attack: r.AttackVersion, Navigator: NavigatorVersion, Layer: LayerVersion},
		Domain:   "enterprise-attack",
		Sorting:  3, // by score, descending
		Layout: LayerLayout{Layout: "side", AggregateFunction: "max", ShowName: true,
			ShowAggregateScores: true, ExpandedSubtechniques: "annotated"},
		Techniques:                    []LayerTechnique{},
		TacticRowBackground:           "#dddddd",
		SelectTechniquesAcrossTactics: true,
		LegendItems: []LegendItem{
			{Label: "covered only by shadow detections (score 0)", Color: "#fff3c4"},
			{Label: "covered by live detections (score = how many)", Color: "#31a354"},
		},
		Metadata: []Metadata{{Name: "detections", Value: fmt.Sprint(r.Detections)}},
	}
	maxScore := 1
	index := map[string]int{}
	for _, t := range r.covered {
		score := t.Live()
		if score > maxScore {
			maxScore = score
		}
		lt := LayerTechnique{TechniqueID: t.ID, Score: &score, Enabled: true, Comment: "patrol: " + names(t.Detections)}
		for _, d := range t.Detections {
			lt.Metadata = append(lt.Metadata, Metadata{Name: d.Stage, Value: d.ID})
		}
		index[t.ID] = len(l.Techniques)
		l.Techniques = append(l.Techniques, lt)
	}
	for _, t := range r.covered {
		parent := t.ID
		if i := strings.IndexByte(parent, '.'); i > 0 {
			parent = parent[:i]
		} else {
			continue
		}
		if i, ok := index[parent]; ok {
			l.Techniques[i].ShowSubtechniques = true
			continue
		}
		index[parent] = len(l.Techniques)
		l.Techniques = append(l.Techniques, LayerTechnique{TechniqueID: parent, Enabled: true, ShowSubtechniques: true})
	}
	l.Gradient = Gradient{Colors: []string{"#fff3c4", "#31a354"}, MinValue: 0, MaxValue: maxScore}
	var desc strings.Builder
	fmt.Fprintf(&desc, "ATT&CK coverage of %d patrol detection(s): each technique is scored by the number of live detections that cover it.", r.Detections)
	if len(r.Unknown) > 0 {
		ids := make([]string, len(r.Unknown))
		for i, t := range r.Unknown {
			ids[i] = t.ID + " (" + names(t.Detections) + ")"
		}
		fmt.Fprintf(&desc, " Tagged but not in ATT&CK v%s, so not shown: %s.", r.AttackVersion, strings.Join(ids, "; "))
	}
	l.Description = desc.String()
	return l
}
