package detections

// OrgAccountsLookup is the lookup table of the organization's own accounts
// that the shipped detections consult (column OrgAccountsColumn): a VPC
// endpoint owned by one of them is inside, a share with one of them is not
// external. With the local engine patrol adds the aws.accounts ids to it,
// and is the whole table when [search.lookups] names no file for it; on
// Splunk the table is Splunk's, and `patrol validate --remote` names the
// aws.accounts ids it lacks.
const OrgAccountsLookup = "org_accounts"

// OrgAccountsColumn is OrgAccountsLookup's column of account ids.
const OrgAccountsColumn = "account_id"
