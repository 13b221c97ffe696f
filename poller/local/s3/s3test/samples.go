// Package s3test fills an S3 bucket the way AWS delivers logs to it, from
// the shipped sample logs (detections/samples), for tests and benchmarks
// that read them back through the real S3 client (against moto_server).
//
// The bucket holds two accounts and two regions in every layout the reader
// knows:
//
//	org-trail/AWSLogs/o-a1b2c3d4e5/111122223333/CloudTrail/REGION/YYYY/MM/DD/   an organization trail, with a key prefix
//	AWSLogs/444455556666/CloudTrail/REGION/YYYY/MM/DD/                          an account trail
//	AWSLogs/aws-account-id=111122223333/aws-service=vpcflowlogs/aws-region=us-east-1/year=YYYY/month=MM/day=DD/hour=HH/
//	                                                                            flow logs, hive-compatible and hourly
//	AWSLogs/444455556666/vpcflowlogs/us-east-1/YYYY/MM/DD/                      flow logs, daily
//	AWSLogs/444455556666/vpcdnsquerylogs/VPCID/YYYY/MM/DD/                      Route 53 resolver query logs
//
// CloudTrail files are split by awsRegion as AWS delivers them (one file
// per region), and every object is gzipped and named as AWS names it. Two
// objects that must never be read sit beside them: a CloudTrail digest and
// a file outside AWSLogs/.
package s3test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// Org is the organization id of the organization trail.
const Org = "o-a1b2c3d4e5"

// URLs are the search.local.paths entries that read the whole bucket: the
// organization trail's prefix and the bucket's root.
func URLs(bucket string) []string {
	return []string{"s3://" + bucket + "/org-trail/", "s3://" + bucket + "/"}
}

// Object is one object to upload.
type Object struct {
	Key  string
	Body []byte
}

// Samples builds the bucket's objects from the sample folder (with
// cloudtrail/, vpcflow/ and route53/ in it), as delivered at the given time
// (UTC; the date folders and file names follow it; later files of one
// source are delivered five minutes apart, the last at `at`).
func Samples(dir string, at time.Time) ([]Object, error) {
	at = at.UTC()
	var out []Object
	for _, sub := range []string{"cloudtrail", "vpcflow", "route53"} {
		files, err := filepath.Glob(filepath.Join(dir, sub, "*"))
		if err != nil {
			return nil, err
		}
		sort.Strings(files)
		for i, f := range files {
			b, err := readMaybeGzip(f)
			if err != nil {
				return nil, err
			}
			name := filepath.Base(f)
			account := name[:12]
			when := at.Add(-time.Duration(len(files)-1-i) * 5 * time.Minute)
			switch sub {
			case "cloudtrail":
				objs, err := cloudTrail(account, name, b, when)
				if err != nil {
					return nil, fmt.Errorf("%s: %w", f, err)
				}
				out = append(out, objs...)
			case "vpcflow":
				out = append(out, Object{Key: flowKey(account, "us-east-1", flowLogID(name), when, unique(name, 8)), Body: Gzip(b)})
			case "route53":
				vpc := "vpc-" + strings.SplitN(name[strings.Index(name, "vpc-")+4:], "_", 2)[0]
				key := fmt.Sprintf("AWSLogs/%s/vpcdnsquerylogs/%s/%s/%s_vpcdnsquerylogs_%s_%s_%s.log.gz",
					account, vpc, when.Format("2006/01/02"), vpc, account, when.Format("20060102T1504Z"), unique(name, 8))
				out = append(out, Object{Key: key, Body: Gzip(b)})
			}
		}
	}
	digest := fmt.Sprintf("AWSLogs/444455556666/CloudTrail-Digest/us-east-1/%s/444455556666_CloudTrail-Digest_us-east-1_main_us-east-1_%s.json.gz",
		at.Format("2006/01/02"), at.Format("20060102T150405Z"))
	out = append(out,
		Object{Key: digest, Body: Gzip([]byte(`{"awsAccountId":"444455556666","digestStartTime":"` + at.Format(time.RFC3339) + `","logFiles":[]}`))},
		Object{Key: "other-data/readme.txt", Body: []byte("not a log\n")})
	return out, nil
}

// cloudTrail splits one sample CloudTrail file into the files AWS would
// deliver: one per region, each under that region's folder.
func cloudTrail(account, name string, b []byte, at time.Time) ([]Object, error) {
	var doc struct{ Records []json.RawMessage }
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, err
	}
	byRegion := map[string][]json.RawMessage{}
	var regions []string
	for _, r := range doc.Records {
		var rec struct{ AWSRegion string }
		if err := json.Unmarshal(r, &rec); err != nil {
			return nil, err
		}
		if byRegion[rec.AWSRegion] == nil {
			regions = append(regions, rec.AWSRegion)
		}
		byRegion[rec.AWSRegion] = append(byRegion[rec.AWSRegion], r)
	}
	var out []Object
	for _, region := range regions {
		// The records byte for byte, as delivered.
		body := append([]byte(`{"Records":[`), bytes.Join(asBytes(byRegion[region]), []byte(","))...)
		body = append(body, "]}\n"...)
		out = append(out, Object{Key: CloudTrailKey(account, region, at, unique(name+region, 16)), Body: Gzip(body)})
	}
	return out, nil
}

func asBytes(rs []json.RawMessage) [][]byte {
	out := make([][]byte, len(rs))
	for i, r := range rs {
		out[i] = r
	}
	return out
}

// CloudTrailKey is where a CloudTrail file of account and region delivered
// at `at` lives: 111122223333 through the organization trail, other
// accounts through their own trail.
func CloudTrailKey(account, region string, at time.Time, unique string) string {
	folder := "AWSLogs/" + account
	if account == "111122223333" {
		folder = "org-trail/AWSLogs/" + Org + "/" + account
	}
	return fmt.Sprintf("%s/CloudTrail/%s/%s/%s_CloudTrail_%s_%s_%s.json.gz",
		folder, region, at.Format("2006/01/02"), account, region, at.Format("20060102T1504Z"), unique)
}

// flowKey is where a flow log file lives: hive-compatible and hourly for
// 111122223333, plain and daily for other accounts.
func flowKey(account, region, id string, at time.Time, unique string) string {
	name := fmt.Sprintf("%s_vpcflowlogs_%s_%s_%s_%s.log.gz", account, region, id, at.Format("20060102T1504Z"), unique)
	if account == "111122223333" {
		return fmt.Sprintf("AWSLogs/aws-account-id=%s/aws-service=vpcflowlogs/aws-region=%s/year=%s/month=%s/day=%s/hour=%s/%s",
			account, region, at.Format("2006"), at.Format("01"), at.Format("02"), at.Format("15"), name)
	}
	return fmt.Sprintf("AWSLogs/%s/vpcflowlogs/%s/%s/%s", account, region, at.Format("2006/01/02"), name)
}

func flowLogID(name string) string {
	i := strings.Index(name, "fl-")
	return strings.SplitN(name[i:], "_", 2)[0]
}

// unique is a stable stand-in for the random part of AWS's file names.
func unique(seed string, n int) string {
	h := fnv.New64a()
	h.Write([]byte(seed))
	return fmt.Sprintf("%016x", h.Sum64())[:n]
}

// Upload puts objs into bucket (which must exist).
func Upload(ctx context.Context, c *s3.Client, bucket string, objs []Object) error {
	for _, o := range objs {
		if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(o.Key), Body: bytes.NewReader(o.Body)}); err != nil {
			return fmt.Errorf("put %s: %w", o.Key, err)
		}
	}
	return nil
}

// UploadAfter puts o into bucket until its LastModified (whole seconds on
// S3) is after `after`, and returns it: an arrival that follows a window
// ending at `after`. It waits on the server's clock, polling, at most
// about a second past `after`.
func UploadAfter(ctx context.Context, c *s3.Client, bucket string, o Object, after time.Time) (time.Time, error) {
	for {
		if err := Upload(ctx, c, bucket, []Object{o}); err != nil {
			return time.Time{}, err
		}
		h, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(o.Key)})
		if err != nil {
			return time.Time{}, err
		}
		if lm := aws.ToTime(h.LastModified).UTC(); lm.After(after) {
			return lm, nil
		}
		select {
		case <-ctx.Done():
			return time.Time{}, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// TrailFile is a CloudTrail file of account in us-east-1 with one
// successful StopLogging of trail at eventTime, delivered at `at`.
func TrailFile(account, trail string, eventTime, at time.Time) Object {
	rec := fmt.Sprintf(`{"eventVersion":"1.09","eventTime":%q,"eventSource":"cloudtrail.amazonaws.com","eventName":"StopLogging","awsRegion":"us-east-1","sourceIPAddress":"198.51.100.9","userAgent":"aws-cli/2.15.0","recipientAccountId":%q,"eventID":"ev-%s","userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::%s:user/mallory","accountId":%q,"userName":"mallory"},"requestParameters":{"name":%q}}`,
		eventTime.UTC().Format(time.RFC3339), account, trail, account, account, trail)
	return Object{Key: CloudTrailKey(account, "us-east-1", at, unique(trail, 16)), Body: Gzip([]byte(`{"Records":[` + rec + `]}`))}
}

// LastArrival is the latest LastModified in bucket: the time by which every
// object had arrived.
func LastArrival(ctx context.Context, c *s3.Client, bucket string) (time.Time, error) {
	var last time.Time
	p := s3.NewListObjectsV2Paginator(c, &s3.ListObjectsV2Input{Bucket: aws.String(bucket)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return last, err
		}
		for _, o := range page.Contents {
			if t := aws.ToTime(o.LastModified); t.After(last) {
				last = t
			}
		}
	}
	return last.UTC(), nil
}

// Gzip compresses b, as AWS delivers every log file.
func Gzip(b []byte) []byte {
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

func readMaybeGzip(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil || len(b) < 2 || b[0] != 0x1f || b[1] != 0x8b {
		return b, err
	}
	r, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	return io.ReadAll(r)
}
