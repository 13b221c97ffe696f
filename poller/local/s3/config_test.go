package s3

import (
	"context"
	"strings"
	"testing"
)

// TestEndpointURL: search.local.s3.endpoint_url follows the rules of every
// other backend URL: no user:password, and http:// only when
// allow_insecure_http opts in; New applies them to the SDK's environment
// variables too.
func TestEndpointURL(t *testing.T) {
	t.Setenv("AWS_ENDPOINT_URL", "")
	t.Setenv("AWS_ENDPOINT_URL_S3", "")
	tests := []struct {
		name, url string
		allowHTTP bool
		want      string // "" for no problem
	}{
		{"https", "https://s3.eu-west-1.amazonaws.com", false, ""},
		{"http", "http://127.0.0.1:5000", false, "is http://"},
		{"http opted in", "http://127.0.0.1:5000", true, ""},
		{"user:password", "https://AKIA:secret@s3.example.com", false, "must not carry a user name or password (https://REDACTED@s3.example.com)"},
		{"relative", "s3.example.com", false, "absolute URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := Defaults()
			cfg.EndpointURL, cfg.AllowInsecureHTTP = tt.url, tt.allowHTTP
			var got string
			for _, e := range cfg.Validate() {
				if e.Key == "endpoint_url" {
					got = e.Msg
				}
			}
			if (tt.want == "") != (got == "") || !strings.Contains(got, tt.want) || strings.Contains(got, "secret") {
				t.Errorf("endpoint_url %s: %q, want %q", tt.url, got, tt.want)
			}
		})
	}

	t.Setenv("AWS_ENDPOINT_URL_S3", "http://127.0.0.1:5000")
	_, err := New(context.Background(), Defaults(), []string{"s3://logs-bucket/"}, Options{Region: "us-east-1"})
	if err == nil || !strings.Contains(err.Error(), "search.local.s3: environment variable AWS_ENDPOINT_URL_S3 is http://") {
		t.Errorf("http:// from the environment: %v", err)
	}
}
