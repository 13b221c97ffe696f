// Package detections loads, validates and renders patrol's detections: TOML
// files that say what to search for, how often, how to group results into
// alerts, what ticket to write and which remediation to run. It also expands
// search macros. It is a leaf package: it imports nothing of patrol's.
package detections
