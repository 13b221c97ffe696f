package local

// route53Format reads Route 53 Resolver query logs: one JSON object per
// query, as delivered to S3 or CloudWatch Logs. _time is query_timestamp.
var route53Format = &format{
	name:       "route53_resolver",
	sourcetype: "aws:route53:resolver",
	props:      loadProps("aws_route53_resolver.props"),
	json:       true,
	claim:      func(first []byte) bool { return looksLike(first, "query_name") && looksLike(first, "query_timestamp") },
	time:       jsonTime("query_timestamp"),
}
