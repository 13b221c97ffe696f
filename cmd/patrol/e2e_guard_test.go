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
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"

	"github.com/patrolsec/patrol/poller/aws/awstest"
)

// e2eKeyForOther disables an access key someone created for another user:
// the user the action changes is not the one who made the event.
const e2eKeyForOther = `id = "e2e-key-for-other"
title = "Access key created for another user"
severity = "high"
schedule = "@every 5m"
search = '''
` + "`cloudtrail`" + ` eventName=CreateAccessKey errorCode=success
| table _time recipientAccountId userIdentity.arn requestParameters.userName responseElements.accessKey.accessKeyId
'''
group_by = ["responseElements.accessKey.accessKeyId"]
[ticket]
summary = "Key {responseElements.accessKey.accessKeyId} created for {requestParameters.userName}"
[remediation]
action = "iam.disable_access_key"
mode = "approve"
params = { account = "{recipientAccountId}", user = "{requestParameters.userName}", key = "{responseElements.accessKey.accessKeyId}" }
`

// guardWorld is an account on the emulator with users, an events file and
// a config; aws is appended to the config's [aws] section.
type guardWorld struct {
	dir, conf string
	ic        *iam.Client
}

func newGuardWorld(t *testing.T, det string, records []map[string]any, aws string) guardWorld {
	t.Helper()
	return newGuardWorldIn(t, e2eAccount, det, records, aws)
}

func newGuardWorldIn(t *testing.T, account, det string, records []map[string]any, aws string) guardWorld {
	t.Helper()
	endpoint := awsEmulator(t)
	w := guardWorld{dir: detectionsDir(t, map[string]string{"det.toml": det}), ic: iam.NewFromConfig(awstest.Config(t, account))}
	writeRecords(t, w.dir, "ct.json", records...)
	w.conf = newTestConfig().localLogs().localTickets("alice").
		aws(endpoint).set("aws", aws).
		write(t, filepath.Join(w.dir, "config.toml"))
	return w
}

// user creates an IAM user at path with one access key and returns the key.
func (w guardWorld) user(t *testing.T, name, path string) string {
	t.Helper()
	ctx := context.Background()
	if _, err := w.ic.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String(name), Path: aws.String(path)}); err != nil {
		t.Fatal(err)
	}
	k, err := w.ic.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String(name)})
	if err != nil {
		t.Fatal(err)
	}
	return aws.ToString(k.AccessKey.AccessKeyId)
}

func createKeyRecord(account, id, by, forUser, key string) map[string]any {
	return map[string]any{
		"eventVersion": "1.09", "eventTime": "2026-11-01T09:07:30Z", "eventSource": "iam.amazonaws.com",
		"eventName": "CreateAccessKey", "awsRegion": "us-east-1", "sourceIPAddress": "192.0.2.66",
		"recipientAccountId": account, "eventID": id,
		"userIdentity": map[string]any{"type": "IAMUser", "arn": "arn:aws:iam::" + account + ":user/" + by,
			"accountId": account, "userName": by},
		"requestParameters": map[string]any{"userName": forUser},
		"responseElements":  map[string]any{"accessKey": map[string]any{"accessKeyId": key, "userName": forUser, "status": "Active"}},
	}
}

// TestEndToEndProtectedUserWithPath: a protected principal written with its
// IAM path, as the console shows it, protects that user after approval; a
// user of the same name at another path is not protected by it.
func TestEndToEndProtectedUserWithPath(t *testing.T) {
	runs++
	guarded, other := fmt.Sprintf("break-glass-%d", runs), fmt.Sprintf("ops-%d", runs)
	w := newGuardWorld(t, e2eKeyForOther, nil, `accounts = ["111122223333"]`)
	key := w.user(t, guarded, "/admins/")
	otherKey := w.user(t, other, "/dev/")
	b, _ := json.Marshal(map[string]any{"Records": []any{
		createKeyRecord(e2eAccount, "e1", "mallory", guarded, key),
		createKeyRecord(e2eAccount, "e2", "mallory", other, otherKey),
	}})
	os.WriteFile(filepath.Join(w.dir, "logs", "ct.json"), b, 0o644)
	conf, _ := os.ReadFile(w.conf)
	os.WriteFile(w.conf, append(conf, fmt.Sprintf("protected_principals = [%q, %q]\n",
		"arn:aws:iam::*:user/admins/"+guarded, "arn:aws:iam::*:user/admins/"+other)...), 0o644)

	if code, out, errOut := patrol(t, "once", "--config", w.conf); code != exitOK {
		t.Fatalf("once: exit %d\n%s\n%s", code, out, errOut)
	}
	for _, tk := range ticketsByKey(t, w.conf) {
		patrol(t, "approve", "--config", w.conf, "--as", "alice", tk)
	}
	patrol(t, "once", "--config", w.conf)
	if got := keyStatus(t, w.ic, guarded, key); got != "Active" {
		t.Errorf("protected user /admins/%s: key %s after approval", guarded, got)
	}
	if got := keyStatus(t, w.ic, other, otherKey); got != "Inactive" {
		t.Errorf("user /dev/%s (protected only at /admins/): key %s after approval", other, got)
	}
	show := ticketShowing(t, w.conf, guarded)
	if !strings.Contains(show, "protected") || !strings.Contains(show, "user/admins/"+guarded) {
		t.Errorf("ticket does not say the user is protected:\n%s", show)
	}
}

// ticketsByKey lists the keys of all tickets.
func ticketsByKey(t *testing.T, conf string) []string {
	t.Helper()
	_, out, _ := patrol(t, "tickets", "--config", conf, "--json")
	var keys []string
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var v ticketView
		if json.Unmarshal([]byte(line), &v) == nil && v.Key != "" {
			keys = append(keys, v.Key)
		}
	}
	return keys
}

// ticketShowing returns `patrol tickets KEY` of the ticket whose summary
// mentions s.
func ticketShowing(t *testing.T, conf, s string) string {
	t.Helper()
	for _, k := range ticketsByKey(t, conf) {
		_, show, _ := patrol(t, "tickets", "--config", conf, k)
		if strings.Contains(show, s) {
			return show
		}
	}
	t.Fatalf("no ticket mentions %s", s)
	return ""
}

// TestEndToEndOutsideTheOrganization: an event in an account that is not
// the organization's makes a ticket, but patrol assumes no role there,
// changes nothing, says why on the ticket, and takes no routing from the
// principal's own tags.
func TestEndToEndOutsideTheOrganization(t *testing.T) {
	const stranger = "999988887777"
	runs++
	victim := fmt.Sprintf("victim-%d", runs)
	w := newGuardWorldIn(t, stranger, e2eKeyForOther, nil, `accounts = ["111122223333"]`)
	key := w.user(t, victim, "/")
	by := fmt.Sprintf("insider-%d", runs)
	if _, err := w.ic.CreateUser(context.Background(), &iam.CreateUserInput{UserName: aws.String(by),
		Tags: []iamtypes.Tag{{Key: aws.String("team"), Value: aws.String("payments")}}}); err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(map[string]any{"Records": []any{createKeyRecord(stranger, "x1", by, victim, key)}})
	os.WriteFile(filepath.Join(w.dir, "logs", "ct.json"), b, 0o644)
	conf, _ := os.ReadFile(w.conf)
	os.WriteFile(w.conf, append(conf, "[enrich]\naws = true\n[[teams]]\nname = \"payments\"\naccounts = [\"111122223333\"]\nslack_channel = \"#payments-sec\"\n"...), 0o644)

	if code, out, errOut := patrol(t, "once", "--config", w.conf); code != exitOK {
		t.Fatalf("once: exit %d\n%s\n%s", code, out, errOut)
	}
	keys := ticketsByKey(t, w.conf)
	if len(keys) != 1 {
		t.Fatalf("tickets: %v", keys)
	}
	patrol(t, "approve", "--config", w.conf, "--as", "alice", keys[0])
	patrol(t, "once", "--config", w.conf)
	if got := keyStatus(t, w.ic, victim, key); got != "Active" {
		t.Errorf("key in account %s: %s", stranger, got)
	}
	_, show, _ := patrol(t, "tickets", "--config", w.conf, keys[0])
	for _, want := range []string{"Remediation refused", "account \"999988887777\" is not one of the organization's accounts",
		"its tags neither route the ticket"} {
		if !strings.Contains(show, want) {
			t.Errorf("ticket lacks %q:\n%s", want, show)
		}
	}
	if strings.Contains(show, "#payments-sec") || strings.Contains(show, "principal team") {
		t.Errorf("the outsider's own team tag routed the ticket:\n%s", show)
	}
}
