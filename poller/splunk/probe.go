package splunk

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
)

// Probe asks splunkd who it is (GET server/info) once, without retries,
// with the configured credentials: a quick answer to "can patrol reach and
// log in to Splunk?" before any search runs. It returns the version.
func (s *Searcher) Probe(ctx context.Context) (string, error) {
	if err := s.auth.load(); err != nil {
		return "", err
	}
	resp, _, err := s.once(ctx, call{op: "server info", method: http.MethodGet, path: "server/info", global: true})
	if err != nil {
		return "", err
	}
	defer drain(resp)
	var info struct {
		Entry []struct {
			Content struct {
				Version string `json:"version"`
			} `json:"content"`
		} `json:"entry"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&info); err != nil || len(info.Entry) == 0 {
		return "", fmt.Errorf("splunk server info: %s does not answer as splunkd's management port does (is url the port 8089?)", s.base)
	}
	return info.Entry[0].Content.Version, nil
}

// URL is the management API the Searcher talks to.
func (s *Searcher) URL() string { return s.base }

// LookupExists asks whether the lookup definition name is visible in the
// configured namespace (GET data/transforms/lookups/{name}), once: the
// pack's | lookup commands fail at search time without it.
func (s *Searcher) LookupExists(ctx context.Context, name string) (bool, error) {
	if err := s.auth.load(); err != nil {
		return false, err
	}
	resp, _, err := s.once(ctx, call{op: "lookup " + name, method: http.MethodGet, path: "data/transforms/lookups/" + url.PathEscape(name)})
	var se *Error
	if errors.As(err, &se) && se.Status == http.StatusNotFound {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	drain(resp)
	return true, nil
}
