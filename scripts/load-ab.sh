#!/bin/sh
# load-ab.sh compares two commits under the load harness, the way the
# figures in docs/BENCHMARKS.md are compared: each commit's load test is
# built in a worktree of its own and run from that worktree's cmd/pagerd
# (the test builds the daemon it measures from the directory it runs in,
# so running both binaries from one checkout measures one daemon twice),
# and the runs alternate, A B A B ..., so that a slow spell of the machine
# falls on both. On a shared 2-core box one run of a closed loop ranges
# over a third of its mean: judge a change by the spread of several.
#
#   scripts/load-ab.sh A B [RUNS] [TEST]
#
# A and B are commits (B defaults to the working tree's HEAD); RUNS is how
# many runs of each (3); TEST is the -test.run pattern
# ('TestLoadIngest/embedded'). The harness's own variables pass through:
# PAGERD_LOAD_OVERLOAD (default here: none, the overload runs take a
# minute each), PAGERD_LOAD_STORM, PAGERD_LOAD_BRAKE, PAGERD_LOAD_INFLIGHT,
# PAGERD_LOAD_PIN, PAGERD_LOAD_PROFILE, PAGERD_LOAD_WINDOWS (every 100 ms
# window with an answer over 10 ms). It prints each run's summary lines
# and leaves the full logs in $TMPDIR/pagerd-load-ab.
set -eu

usage() {
	echo "usage: $0 A [B] [RUNS] [TEST]" >&2
	exit 2
}
[ $# -ge 1 ] || usage
repo=$(git rev-parse --show-toplevel)
a=$(git -C "$repo" rev-parse --verify "$1^{commit}")
b=$(git -C "$repo" rev-parse --verify "${2:-HEAD}^{commit}")
runs=${3:-3}
test=${4:-TestLoadIngest/embedded}
case $runs in '' | *[!0-9]*) usage ;; esac
export PAGERD_LOAD_OVERLOAD="${PAGERD_LOAD_OVERLOAD:-none}"

out=${TMPDIR:-/tmp}/pagerd-load-ab
mkdir -p "$out"
trees=""
cleanup() {
	for t in $trees; do
		git -C "$repo" worktree remove --force "$t" >/dev/null 2>&1 || true
	done
}
trap cleanup EXIT INT TERM

# build DIR COMMIT: a worktree of COMMIT at DIR with its load test built
# in it.
build() {
	git -C "$repo" worktree add -q --detach "$1" "$2"
	(cd "$1" && go test -c -tags load -o "$1/load.test" ./cmd/pagerd/)
}
ta=$(mktemp -d "$out/A.XXXXXX")
tb=$(mktemp -d "$out/B.XXXXXX")
rmdir "$ta" "$tb"
trees="$ta $tb"
build "$ta" "$a"
build "$tb" "$b"
echo "A $a"
echo "B $b"
echo "$runs runs each of $test, PAGERD_LOAD_OVERLOAD=$PAGERD_LOAD_OVERLOAD; logs in $out"

i=1
while [ "$i" -le "$runs" ]; do
	for side in A B; do
		if [ "$side" = A ]; then t=$ta; else t=$tb; fi
		log="$out/$side-$i.log"
		status=0
		(cd "$t/cmd/pagerd" && "$t/load.test" -test.run "$test" -test.v -test.timeout 30m) >"$log" 2>&1 || status=$?
		echo "== $side run $i (exit $status)"
		grep -E 'open loop 1,000/s|closed loop, 32|capacity \(|peak RSS|named|late p50' "$log" | sed 's/^ *load_[a-z_]*test.go:[0-9]*: /  /' | cut -c1-240 || true
	done
	i=$((i + 1))
done
