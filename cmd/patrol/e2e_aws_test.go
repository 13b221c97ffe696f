package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/patrolsec/patrol/poller/aws/awstest"
)

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		// Re-executed by a test as a patrol process (one that can be killed).
		os.Exit(run(os.Args[1:]))
	}
	// Benchmarks run patrol in a child process (this binary) to measure
	// its own peak memory: PATROL_BENCH_ARGS holds the arguments.
	if args := os.Getenv(benchArgsEnv); args != "" {
		os.Exit(dispatch(context.Background(), strings.Split(args, "\x1f"), os.Stdout, os.Stderr))
	}
	awstest.IsolateEnv()
	code := m.Run()
	awstest.Stop()
	if built.dir != "" {
		os.RemoveAll(built.dir)
	}
	os.Exit(code)
}

const e2eAccount = "111122223333"

// runs counts TestEndToEndAWS runs in this binary (go test -count).
var runs int

// e2eDetections are a StopLogging detection (auto) and an external API use
// detection (approve), written for this test so it does not depend on the
// shipped pack.
const e2eStop = `id = "e2e-stop-logging"
title = "CloudTrail logging stopped"
severity = "critical"
schedule = "@every 5m"
search = '''
` + "`cloudtrail`" + ` eventName=StopLogging errorCode=success
| table _time eventName recipientAccountId awsRegion userIdentity.arn sourceIPAddress requestParameters.name
'''
group_by = ["recipientAccountId", "requestParameters.name"]
[ticket]
summary = "CloudTrail {eventName} on {requestParameters.name}"
[remediation]
action = "cloudtrail.start_logging"
mode = "auto"
params = { account = "{recipientAccountId}", region = "{awsRegion}", trail = "{requestParameters.name}" }
`

const e2eKey = `id = "e2e-external-key"
title = "Access key used from outside the organization"
severity = "high"
schedule = "@every 5m"
search = '''
` + "`cloudtrail`" + ` userIdentity.type=IAMUser errorCode=success
| where NOT ` + "`org_networks(sourceIPAddress)`" + `
| table _time eventName recipientAccountId userIdentity.arn userIdentity.userName userIdentity.accessKeyId sourceIPAddress
'''
group_by = ["userIdentity.accessKeyId"]
[ticket]
summary = "Key {userIdentity.accessKeyId} of {userIdentity.userName} used from {sourceIPAddress}"
[remediation]
action = "iam.disable_access_key"
mode = "approve"
params = { account = "{recipientAccountId}", user = "{userIdentity.userName}", key = "{userIdentity.accessKeyId}" }
`

func record(name, user, key, ip string, params map[string]any) map[string]any {
	return map[string]any{
		"eventVersion": "1.09", "eventTime": "2026-11-01T09:07:30Z", "eventSource": "cloudtrail.amazonaws.com",
		"eventName": name, "awsRegion": "us-east-1", "sourceIPAddress": ip, "recipientAccountId": e2eAccount,
		"eventID": "e2e-" + name, "userAgent": "aws-cli/2",
		"userIdentity": map[string]any{"type": "IAMUser", "arn": "arn:aws:iam::" + e2eAccount + ":user/" + user,
			"accountId": e2eAccount, "userName": user, "accessKeyId": key},
		"requestParameters": params,
	}
}

func TestEndToEndAWS(t *testing.T) {
	endpoint := awsEmulator(t)
	ctx := context.Background()
	// The emulator lives as long as the test binary: names are unique per run.
	runs++
	user, trail, bucket := fmt.Sprintf("mallory%d", runs), fmt.Sprintf("org-trail-%d", runs), fmt.Sprintf("e2e-trail-logs-%d", runs)
	cfg := awstest.Config(t, e2eAccount)

	// The affected account: a trail whose logging was stopped, and a user whose key leaked.
	s3c := s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true })
	if _, err := s3c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatal(err)
	}
	ct := cloudtrail.NewFromConfig(cfg)
	if _, err := ct.CreateTrail(ctx, &cloudtrail.CreateTrailInput{Name: aws.String(trail), S3BucketName: aws.String(bucket)}); err != nil {
		t.Fatal(err)
	}
	ic := iam.NewFromConfig(cfg)
	if _, err := ic.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String(user)}); err != nil {
		t.Fatal(err)
	}
	key, err := ic.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String(user)})
	if err != nil {
		t.Fatal(err)
	}
	keyID := aws.ToString(key.AccessKey.AccessKeyId)

	dir := detectionsDir(t, map[string]string{"a_stop.toml": e2eStop, "b_key.toml": e2eKey})
	writeRecords(t, dir, "ct.json", record("StopLogging", user, keyID, "192.0.2.66", map[string]any{"name": trail}))
	conf := newTestConfig().localLogs().localTickets("alice").
		aws(endpoint, e2eAccount).set("aws", `protected_principals = ["arn:aws:iam::*:user/break-glass"]`).
		orgCIDRs().set("enrich", "aws = true").
		write(t, filepath.Join(dir, "config.toml"))

	code, out, errOut := patrol(t, "once", "--config", conf)
	if code != exitOK {
		t.Fatalf("once: exit %d\n%s\n%s", code, out, errOut)
	}
	status, err := ct.GetTrailStatus(ctx, &cloudtrail.GetTrailStatusInput{Name: aws.String(trail)})
	if err != nil || !aws.ToBool(status.IsLogging) {
		t.Fatalf("trail not logging after remediation: %v %v", status, err)
	}
	tickets := ticketsJSON(t, conf)
	stopT, keyT := tickets["e2e-stop-logging"], tickets["e2e-external-key"]
	if stopT.Status != "Done" || stopT.Stage != "done" || strings.Join(phases(stopT), ",") != "cloudtrail.start_logging:planned,cloudtrail.start_logging:started,cloudtrail.start_logging:succeeded" {
		t.Errorf("stop-logging ticket: %+v", stopT)
	}
	_, show, _ := patrol(t, "tickets", "--config", conf, stopT.Key)
	for _, want := range []string{"== Enrichment", "sourceIPAddress: 192.0.2.66: external", "done and verified", "IsLogging"} {
		if !strings.Contains(show, want) {
			t.Errorf("ticket %s lacks %q:\n%s", stopT.Key, want, show)
		}
	}

	// The key detection waits for approval; a non-approver's label does nothing.
	if keyT.Stage != "approval" || keyStatus(t, ic, user, keyID) != "Active" {
		t.Fatalf("key ticket before approval: %+v", keyT)
	}
	patrol(t, "approve", "--config", conf, "--as", "mallory", keyT.Key)
	patrol(t, "once", "--config", conf)
	if keyStatus(t, ic, user, keyID) != "Active" {
		t.Fatal("a non-approver's label disabled the key")
	}
	patrol(t, "approve", "--config", conf, "--as", "alice", keyT.Key)
	if code, out, errOut := patrol(t, "once", "--config", conf); code != exitOK {
		t.Fatalf("once after approval: exit %d\n%s\n%s", code, out, errOut)
	}
	if got := keyStatus(t, ic, user, keyID); got != "Inactive" {
		t.Fatalf("key %s after approval", got)
	}
	if kt := ticketsJSON(t, conf)["e2e-external-key"]; kt.Status != "Done" || kt.Stage != "done" {
		t.Errorf("key ticket after approval: %+v", kt)
	}
	// Nothing runs twice: another pass changes nothing.
	patrol(t, "once", "--config", conf)
	if got := phases(ticketsJSON(t, conf)["e2e-external-key"]); len(got) != 3 {
		t.Errorf("actions after a further pass: %v", got)
	}

	// Undo restores the snapshot, once; StartLogging has no undo.
	code, out, errOut = patrol(t, "undo", "#6", "--config", conf, "--as", "alice") // ids are shown as #N
	if code != exitOK || keyStatus(t, ic, user, keyID) != "Active" {
		t.Fatalf("undo: exit %d %s %s; key %s", code, out, errOut, keyStatus(t, ic, user, keyID))
	}
	if code, _, errOut := patrol(t, "undo", "--config", conf, "6"); code != exitFailed || !strings.Contains(errOut, "already undone") {
		t.Errorf("second undo: exit %d %s", code, errOut)
	}
	if code, _, errOut := patrol(t, "undo", "--config", conf, "3"); code != exitFailed || !strings.Contains(errOut, "cannot be undone") {
		t.Errorf("undo of start_logging: exit %d %s", code, errOut)
	}
	if got := phases(ticketsJSON(t, conf)["e2e-external-key"]); strings.Join(got[3:], ",") != "iam.disable_access_key:revert_started,iam.disable_access_key:reverted" {
		t.Errorf("ledger after undo: %v", got)
	}
}

func keyStatus(t *testing.T, ic *iam.Client, user, id string) string {
	t.Helper()
	out, err := ic.ListAccessKeys(context.Background(), &iam.ListAccessKeysInput{UserName: aws.String(user)})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range out.AccessKeyMetadata {
		if aws.ToString(k.AccessKeyId) == id {
			return string(k.Status)
		}
	}
	return "missing"
}

// ticketsJSON returns `patrol tickets --json` keyed by detection.
func ticketsJSON(t *testing.T, conf string) map[string]ticketView {
	t.Helper()
	code, out, errOut := patrol(t, "tickets", "--config", conf, "--json")
	if code != exitOK {
		t.Fatalf("tickets: %d %s", code, errOut)
	}
	views := map[string]ticketView{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var v ticketView
		if err := json.Unmarshal([]byte(line), &v); err != nil {
			t.Fatalf("%v: %q", err, line)
		}
		views[v.Detection] = v
	}
	return views
}

// phases lists a ticket's action rows as action:phase.
func phases(v ticketView) []string {
	var out []string
	for _, a := range v.Actions {
		out = append(out, a.Action+":"+a.Phase)
	}
	return out
}
