#!/usr/bin/env bash
# Benchmarks the local search engine on generated CloudTrail (plain and
# gzipped) against jq on the same filter, and prints events/s, MB/s and
# peak memory. Data goes to a temporary folder that is removed afterwards.
#
#   bash poller/local/bench.sh            # 256 MB of CloudTrail
#   BENCH_MB=512 bash poller/local/bench.sh
set -euo pipefail

cd "$(dirname "$0")/../.."
# Real CloudTrail from shared/testdata (beside the repository) when it is there.
export PATROL_SHARED=${PATROL_SHARED:-$(cd .. && pwd)/shared}
MB=${BENCH_MB:-256}
JQ=${JQ:-$(command -v jq || true)}
TIME=/usr/bin/time
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

echo "building the benchmark harness..."
go test -c -o "$tmp/local.test" ./poller/local

echo "generating ${MB} MB of CloudTrail in $tmp ..."
gen=$(PATROL_BENCH_GENERATE="$tmp/ct.json" PATROL_BENCH_MB=$MB "$tmp/local.test" -test.run '^TestBenchGenerate$' | grep generated)
echo "$gen"
events=$(echo "$gen" | sed -E 's/.*: ([0-9]+) records/\1/')
gzip -c "$tmp/ct.json" > "$tmp/ct.json.gz"
raw=$(stat -c %s "$tmp/ct.json")
gzsize=$(stat -c %s "$tmp/ct.json.gz")
echo "plain $((raw / 1048576)) MB, gzipped $((gzsize / 1048576)) MB, $events records"
echo

run() { # file spl
	PATROL_BENCH_FILE="$1" PATROL_BENCH_SPL="$2" PATROL_BENCH_RAW_BYTES=$raw PATROL_BENCH_EVENTS=$events \
		"$tmp/local.test" -test.run '^TestBenchRun$' | grep -v '^PASS$'
}

filter='sourcetype=aws:cloudtrail eventName=StopLogging'
stats='sourcetype=aws:cloudtrail | stats count by eventName'
echo "patrol local engine (MB/s of uncompressed CloudTrail):"
start=$(date +%s.%N)
run "$tmp/ct.json" "$filter"
end=$(date +%s.%N)
ours=$(echo "$end - $start" | bc -l)
run "$tmp/ct.json" "$stats"
run "$tmp/ct.json.gz" "$filter"
run "$tmp/ct.json.gz" "$stats"
echo

if [ -z "$JQ" ]; then
	echo "jq not found: skipping the comparison"
	exit 0
fi
echo "jq on the same filter: $JQ -c '.Records[] | select(.eventName==\"StopLogging\")'"
$TIME -f '%e %M' -o "$tmp/jq.time" "$JQ" -c '.Records[] | select(.eventName=="StopLogging")' "$tmp/ct.json" > "$tmp/jq.out"
read -r jqsecs jqrss < "$tmp/jq.time"
printf "jq: %.2fs %10.0f events/s %8.1f MB/s  results=%d  max RSS %d MB\n" \
	"$jqsecs" "$(echo "$events / $jqsecs" | bc -l)" "$(echo "$raw / 1000000 / $jqsecs" | bc -l)" "$(wc -l < "$tmp/jq.out")" $((jqrss / 1024))
printf "patrol filter (wall clock incl. process start) %.2fs: %.1fx jq\n" "$ours" "$(echo "$jqsecs / $ours" | bc -l)"
