// Package attack holds the MITRE ATT&CK Enterprise tactics and techniques
// (embedded tables, see README.md) and computes what a set of detections
// covers: a tactic x technique table and an ATT&CK Navigator layer.
package attack

import (
	"bytes"
	_ "embed"
	"encoding/csv"
	"fmt"
	"strconv"
	"strings"
	"sync"
)

// Version is the ATT&CK release of the embedded tables.
const Version = "18"

//go:embed enterprise-tactics.csv
var tacticsCSV []byte

//go:embed enterprise-techniques.csv
var techniquesCSV []byte

// Tactic is a column of the matrix.
type Tactic struct {
	Order     int
	ID        string // TA0005
	ShortName string // defense-evasion
	Name      string // Defense Evasion
}

// Technique is a technique or sub-technique.
type Technique struct {
	ID        string   // T1562 or T1562.008
	Name      string   // Disable or Modify Cloud Logs
	Tactics   []string // tactic short names
	Platforms []string
}

// Parent returns the id of a sub-technique's technique ("" for a technique).
func (t Technique) Parent() string {
	if i := strings.IndexByte(t.ID, '.'); i > 0 {
		return t.ID[:i]
	}
	return ""
}

// Matrix is the Enterprise matrix.
type Matrix struct {
	Tactics    []Tactic // in matrix order
	techniques map[string]Technique
}

// Technique looks a technique up by id.
func (m *Matrix) Technique(id string) (Technique, bool) {
	t, ok := m.techniques[id]
	return t, ok
}

// Len is the number of techniques and sub-techniques.
func (m *Matrix) Len() int { return len(m.techniques) }

var (
	enterprise     *Matrix
	enterpriseErr  error
	enterpriseOnce sync.Once
)

// Enterprise returns the embedded Enterprise matrix.
func Enterprise() (*Matrix, error) {
	enterpriseOnce.Do(func() { enterprise, enterpriseErr = parse(tacticsCSV, techniquesCSV) })
	return enterprise, enterpriseErr
}

func parse(tactics, techniques []byte) (*Matrix, error) {
	m := &Matrix{techniques: map[string]Technique{}}
	rows, err := readCSV("enterprise-tactics.csv", tactics, []string{"order", "id", "shortname", "name"})
	if err != nil {
		return nil, err
	}
	known := map[string]bool{}
	for i, r := range rows {
		order, err := strconv.Atoi(r[0])
		if err != nil {
			return nil, fmt.Errorf("enterprise-tactics.csv:%d: order %q is not a number", i+2, r[0])
		}
		m.Tactics = append(m.Tactics, Tactic{Order: order, ID: r[1], ShortName: r[2], Name: r[3]})
		known[r[2]] = true
	}
	rows, err = readCSV("enterprise-techniques.csv", techniques, []string{"id", "name", "tactics", "platforms", "version"})
	if err != nil {
		return nil, err
	}
	for i, r := range rows {
		t := Technique{ID: r[0], Name: r[1], Tactics: split(r[2]), Platforms: split(r[3])}
		for _, tac := range t.Tactics {
			if !known[tac] {
				return nil, fmt.Errorf("enterprise-techniques.csv:%d: %s names unknown tactic %q", i+2, t.ID, tac)
			}
		}
		m.techniques[t.ID] = t
	}
	return m, nil
}

func readCSV(name string, b []byte, header []string) ([][]string, error) {
	rd := csv.NewReader(bytes.NewReader(b))
	rd.FieldsPerRecord = len(header)
	rows, err := rd.ReadAll()
	if err != nil {
		return nil, fmt.Errorf("%s: %v", name, err)
	}
	if len(rows) == 0 || strings.Join(rows[0], ",") != strings.Join(header, ",") {
		return nil, fmt.Errorf("%s: want the header %s", name, strings.Join(header, ","))
	}
	return rows[1:], nil
}

func split(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ";") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
