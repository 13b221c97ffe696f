package poller

import (
	"context"
	"errors"
	"strings"
	"testing"
)

func TestProtectedPrincipalPaths(t *testing.T) {
	// IAM, as a resolver: the real paths of the account's principals.
	iam := map[string]string{
		"arn:aws:iam::111122223333:user/break-glass": "arn:aws:iam::111122223333:user/admins/break-glass",
		"arn:aws:iam::111122223333:user/ops":         "arn:aws:iam::111122223333:user/dev/ops",
		"arn:aws:iam::111122223333:role/Admin":       "arn:aws:iam::111122223333:role/org/Admin",
	}
	resolve := func(_ context.Context, arn string) (string, error) {
		if full, ok := iam[arn]; ok {
			return full, nil
		}
		return "", errors.New("NoSuchEntity")
	}
	tests := []struct {
		name, pattern, arn string
		pathKnown          bool
		want               bool
		wantARN            string
	}{
		{"no path in the pattern: any path", "arn:aws:iam::*:user/break-glass", "arn:aws:iam::111122223333:user/admins/break-glass", true, true, ""},
		{"path in the pattern and the ARN", "arn:aws:iam::*:user/admins/break-glass", "arn:aws:iam::111122223333:user/admins/break-glass", true, true, ""},
		{"path in the pattern, another path in the ARN", "arn:aws:iam::*:user/admins/break-glass", "arn:aws:iam::111122223333:user/dev/break-glass", true, false, ""},
		{"path in the pattern, root path in an event ARN", "arn:aws:iam::*:user/admins/break-glass", "arn:aws:iam::111122223333:user/break-glass", true, false, ""},
		{"path read from IAM: matches", "arn:aws:iam::*:user/admins/break-glass", "arn:aws:iam::111122223333:user/break-glass", false, true, "arn:aws:iam::111122223333:user/admins/break-glass"},
		{"path read from IAM: another path", "arn:aws:iam::*:user/admins/ops", "arn:aws:iam::111122223333:user/ops", false, false, ""},
		{"path cannot be read: protected", "arn:aws:iam::*:user/admins/ghost", "arn:aws:iam::111122223333:user/ghost", false, true, ""},
		{"path wildcard", "arn:aws:iam::*:user/admins/*", "arn:aws:iam::111122223333:user/admins/x/y", true, true, ""},
		{"role path read for an assumed-role session", "arn:aws:iam::*:role/org/Admin", "arn:aws:sts::111122223333:assumed-role/Admin/s1", true, true, "arn:aws:iam::111122223333:role/org/Admin"},
		{"other partitions", "arn:aws:iam::*:role/Admin", "arn:aws-us-gov:iam::111122223333:role/Admin", true, true, ""},
		{"china, session", "arn:aws:iam::111122223333:role/Admin", "arn:aws-cn:sts::111122223333:assumed-role/Admin/x", true, true, ""},
		{"a user pattern does not match a role", "arn:aws:iam::*:user/Admin", "arn:aws:iam::111122223333:role/Admin", true, false, ""},
		{"case does not matter", "arn:aws:iam::*:user/Break-Glass", "arn:aws:iam::111122223333:user/break-glass", true, true, ""},
		{"prefix is not a match", "arn:aws:iam::*:user/break-glass", "arn:aws:iam::111122223333:user/break-glass-2", true, false, ""},
		{"account", "arn:aws:iam::444455556666:user/*", "arn:aws:iam::111122223333:user/x", true, false, ""},
		{"? is one character", "arn:aws:iam::*:role/admin-?", "arn:aws:iam::1:role/admin-1", true, true, ""},
		{". is literal", "arn:aws:iam::*:role/a.b", "arn:aws:iam::1:role/aXb", true, false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, got := ProtectedBy(context.Background(), []string{tt.pattern}, tt.arn, tt.pathKnown, resolve)
			if got != tt.want {
				t.Fatalf("protected = %v (%v), want %v", got, m, tt.want)
			}
			if tt.wantARN != "" && m.ARN != tt.wantARN {
				t.Errorf("matched as %s, want %s", m.ARN, tt.wantARN)
			}
		})
	}
}

func TestPrincipalPatternValidation(t *testing.T) {
	for _, ok := range []string{"arn:aws:iam::*:user/break-glass", "arn:aws:iam::111122223333:role/admins/Org*", "arn:aws-cn:iam::*:user/*", "arn:*:iam::1?????????11:role/x"} {
		if _, err := ParsePrincipalPattern(ok); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
	for _, bad := range []string{"break-glass", "arn:aws:s3:::bucket", "arn:aws:iam::*:group/admins", "arn:aws:iam::*:root",
		"arn:aws:iam::*:user/", "arn:aws:iam::*:user/admins/", "arn:aws:iam::acct:user/x", "arn:aws:sts::*:assumed-role/x/y", "arn:aws:iam:us-east-1:*:user/x"} {
		if _, err := ParsePrincipalPattern(bad); err == nil || !strings.Contains(err.Error(), "not an IAM user or role ARN pattern") {
			t.Errorf("%s accepted (%v)", bad, err)
		}
	}
}

func TestGuardAccounts(t *testing.T) {
	g := Guard{InAccounts: func(a string) bool { return a == "111122223333" }}
	if why := g.refusal(context.Background(), Plan{Account: "999999999999"}, nil); !strings.Contains(why, "not one of the organization's accounts") {
		t.Errorf("outside account: %q", why)
	}
	if why := g.refusal(context.Background(), Plan{Account: "111122223333"}, nil); why != "" {
		t.Errorf("own account refused: %q", why)
	}
}

func TestCheckURL(t *testing.T) {
	for raw, want := range map[string]string{
		"https://splunk.example.com:8089":         "",
		"http://127.0.0.1:8089":                   "clear text",
		"https://admin:changeme@splunk:8089":      "must not carry a user name or password (https://REDACTED@splunk:8089)",
		"splunk:8089":                             "absolute URL",
		"ftp://splunk":                            "absolute URL",
		"https://token@example.atlassian.net/x?y": "must not carry",
	} {
		got := CheckURL(raw, false)
		if (want == "") != (got == "") || !strings.Contains(got, want) || strings.Contains(got, "changeme") {
			t.Errorf("CheckURL(%s) = %q, want %q", raw, got, want)
		}
	}
	if got := CheckURL("http://127.0.0.1:8089", true); got != "" {
		t.Errorf("allowed http: %q", got)
	}
}

// TestCheckAWSEndpoints: an AWS endpoint, from the config or from the
// variables the SDK reads by itself, follows CheckURL's rules.
func TestCheckAWSEndpoints(t *testing.T) {
	for _, k := range []string{"AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL_STS"} {
		t.Setenv(k, "")
	}
	tests := []struct {
		name, endpoint string
		env            map[string]string
		allowHTTP      bool
		want           string // "" for no problem
	}{
		{"none", "", nil, false, ""},
		{"https", "https://s3.vpce.example.com", nil, false, ""},
		{"http", "http://127.0.0.1:5000", nil, false, "endpoint_url is http://"},
		{"http opted in", "http://127.0.0.1:5000", nil, true, ""},
		{"user:password", "https://key:secret@s3.example.com", nil, true, "endpoint_url must not carry a user name or password (https://REDACTED@s3.example.com)"},
		{"http in the environment", "", map[string]string{"AWS_ENDPOINT_URL_STS": "http://sts.example.com"}, false, "environment variable AWS_ENDPOINT_URL_STS is http://"},
		{"environment opted in", "https://x.example.com", map[string]string{"AWS_ENDPOINT_URL": "http://127.0.0.1:5000"}, true, ""},
		{"user:password in the environment", "", map[string]string{"AWS_ENDPOINT_URL_S3": "https://a:secret@s3.example.com"}, true, "environment variable AWS_ENDPOINT_URL_S3 must not carry"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			err := CheckAWSEndpoints(tt.endpoint, tt.allowHTTP)
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("unexpected: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("got %v, want %q", err, tt.want)
			case err != nil && strings.Contains(err.Error(), "secret"):
				t.Errorf("a password was printed: %v", err)
			}
		})
	}
}
