package s3

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// The delivery layouts AWS writes logs to S3 in, below a bucket and an
// optional prefix (the trail's or flow log's S3 key prefix, any folders):
//
//	CloudTrail            AWSLogs/[o-ORGID/]ACCOUNT/CloudTrail/REGION/YYYY/MM/DD/
//	                      ACCOUNT_CloudTrail_REGION_YYYYMMDDTHHmmZ_UNIQUE.json.gz
//	VPC Flow Logs         AWSLogs/ACCOUNT/vpcflowlogs/REGION/YYYY/MM/DD/[HH/]
//	  hive-compatible     AWSLogs/aws-account-id=ACCOUNT/aws-service=vpcflowlogs/aws-region=REGION/
//	                        year=YYYY/month=MM/day=DD/[hour=HH/]
//	                      ACCOUNT_vpcflowlogs_REGION_FLOWLOGID_YYYYMMDDTHHmmZ_HASH.log.gz
//	Route 53 resolver     AWSLogs/ACCOUNT/vpcdnsquerylogs/VPCID/YYYY/MM/DD/
//	  query logs          VPCID_vpcdnsquerylogs_ACCOUNT_YYYYMMDDTHHmmZ_HASH.log.gz
//
// The date (and hour) folders are the file's delivery time in UTC, a little
// before the object's LastModified (the upload). Organization trails add
// the organization id above the accounts. Other folders (CloudTrail-Digest,
// CloudTrail-Insight, other services) are not read.

// kind is where a folder sits in the layout.
type kind uint8

const (
	kPrefix      kind = iota // above AWSLogs/: the delivery prefix
	kAWSLogs                 // AWSLogs/: organizations, accounts, hive accounts
	kOrg                     // AWSLogs/o-ORGID/: accounts
	kAccount                 // .../ACCOUNT/: services
	kHiveAccount             // AWSLogs/aws-account-id=ACCOUNT/: aws-service=vpcflowlogs
	kRegions                 // .../CloudTrail/ and .../vpcflowlogs/: regions
	kVPCs                    // .../vpcdnsquerylogs/: VPC ids
	kHiveRegions             // .../aws-service=vpcflowlogs/: aws-region=REGION
	kDate                    // .../REGION/ or .../VPCID/ and below: year, month, day, hour
)

// The sourcetypes the layout's services deliver, as the local engine
// names them.
const (
	stCloudTrail = "aws:cloudtrail"
	stFlow       = "aws:cloudwatchlogs:vpcflow"
	stResolver   = "aws:route53:resolver"
)

// folder is one folder of the layout.
type folder struct {
	prefix     string // the key prefix, ending in "/" (or empty: the bucket)
	kind       kind
	sourcetype string // below a service's folder
	hive       bool   // hive-compatible names (year=2026/...)
	date       []int  // kDate: the year, month, day and hour fixed so far
}

var (
	accountRE = regexp.MustCompile(`^[0-9]{12}$`)
	orgRE     = regexp.MustCompile(`^o-[a-z0-9]{10,32}$`)
	vpcRE     = regexp.MustCompile(`^vpc-[0-9a-f]{8,17}$`)
)

// child returns the folder name seg below f, and whether the layout knows
// it (folders it does not know are not read).
func (f folder) child(seg string) (folder, bool) {
	c := folder{prefix: f.prefix + seg + "/", sourcetype: f.sourcetype, hive: f.hive}
	switch f.kind {
	case kPrefix:
		c.kind = kPrefix
		if seg == "AWSLogs" {
			c.kind = kAWSLogs
		}
		return c, true
	case kAWSLogs:
		switch {
		case orgRE.MatchString(seg):
			c.kind = kOrg
		case accountRE.MatchString(seg):
			c.kind = kAccount
		case strings.HasPrefix(seg, "aws-account-id=") && accountRE.MatchString(strings.TrimPrefix(seg, "aws-account-id=")):
			c.kind, c.hive = kHiveAccount, true
		default:
			return c, false
		}
	case kOrg:
		c.kind = kAccount
		return c, accountRE.MatchString(seg)
	case kAccount:
		switch seg {
		case "CloudTrail":
			c.kind, c.sourcetype = kRegions, stCloudTrail
		case "vpcflowlogs":
			c.kind, c.sourcetype = kRegions, stFlow
		case "vpcdnsquerylogs":
			c.kind, c.sourcetype = kVPCs, stResolver
		default:
			return c, false
		}
	case kHiveAccount:
		c.kind, c.sourcetype = kHiveRegions, stFlow
		return c, seg == "aws-service=vpcflowlogs"
	case kRegions:
		c.kind = kDate
		return c, regionRE.MatchString(seg)
	case kVPCs:
		c.kind = kDate
		return c, vpcRE.MatchString(seg)
	case kHiveRegions:
		c.kind = kDate
		return c, strings.HasPrefix(seg, "aws-region=") && regionRE.MatchString(strings.TrimPrefix(seg, "aws-region="))
	case kDate:
		c.kind = kDate
		n, ok := f.datePart(seg)
		if !ok {
			return c, false
		}
		c.date = append(append([]int(nil), f.date...), n)
		return c, true
	}
	return c, true
}

// dateNames are the date folders' names in the hive-compatible layout.
var dateNames = []string{"year", "month", "day", "hour"}

// datePart reads the next date folder name below f: 2026, 11, 01, 23 (or
// year=2026, ...).
func (f folder) datePart(seg string) (int, bool) {
	i := len(f.date)
	if i >= len(dateNames) {
		return 0, false
	}
	if f.hive {
		v, ok := strings.CutPrefix(seg, dateNames[i]+"=")
		if !ok {
			return 0, false
		}
		seg = v
	}
	width := 2
	if i == 0 {
		width = 4
	}
	n, err := strconv.Atoi(seg)
	if len(seg) != width || err != nil {
		return 0, false
	}
	lo, hi := [...]int{1970, 1, 1, 0}[i], [...]int{9999, 12, 31, 23}[i]
	return n, n >= lo && n <= hi
}

// dateChild is the date folder below f for the next part of t.
func (f folder) dateChild(t time.Time) folder {
	i := len(f.date)
	n := [...]int{t.Year(), int(t.Month()), t.Day(), t.Hour()}[i]
	name := fmt.Sprintf("%02d", n)
	if i == 0 {
		name = fmt.Sprintf("%04d", n)
	}
	if f.hive {
		name = dateNames[i] + "=" + name
	}
	c, _ := f.child(name)
	return c
}

// period is the span of delivery times a date folder holds: [from, to).
// Folders above the dates hold all time.
func (f folder) period() (from, to time.Time, bounded bool) {
	if f.kind != kDate || len(f.date) == 0 {
		return time.Time{}, time.Time{}, false
	}
	d := [4]int{0, 1, 1, 0}
	copy(d[:], f.date)
	from = time.Date(d[0], time.Month(d[1]), d[2], d[3], 0, 0, 0, time.UTC)
	switch len(f.date) {
	case 1:
		to = from.AddDate(1, 0, 0)
	case 2:
		to = from.AddDate(0, 1, 0)
	case 3:
		to = from.AddDate(0, 0, 1)
	default:
		to = from.Add(time.Hour)
	}
	return from, to, true
}

// overlaps reports whether the folder can hold files delivered in sp.
func (f folder) overlaps(sp span) bool {
	from, to, ok := f.period()
	if !ok {
		return true
	}
	return (sp.to.IsZero() || !from.After(sp.to)) && (sp.from.IsZero() || to.After(sp.from))
}

// parsePrefix places a configured prefix in the layout.
func parsePrefix(prefix string) (folder, error) {
	f := folder{}
	for _, seg := range strings.Split(strings.TrimSuffix(prefix, "/"), "/") {
		if seg == "" {
			continue
		}
		c, ok := f.child(seg)
		if !ok {
			return f, fmt.Errorf("%q is not a folder of the AWS log delivery layout here (%s): "+
				"give the prefix logs are delivered under, or a folder of AWSLogs/[o-ORGID/]ACCOUNT/CloudTrail|vpcflowlogs|vpcdnsquerylogs/... below it",
				seg, f.prefix+seg+"/")
		}
		f = c
	}
	return f, nil
}

// span is the range of delivery times whose date folders a listing reads:
// from and to inclusive, a zero bound open.
type span struct{ from, to time.Time }
