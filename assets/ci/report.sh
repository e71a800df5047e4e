#!/usr/bin/env bash
# Pipeline step: report a step of the deployment to the receiver, resending until it is stored.
#
#   report.sh KEY STEP STATUS [MESSAGE]      e.g. report.sh "$SHIPDECK_KEY" deploy started
#
# Environment: SHIPDECK_URL (http:// or https://), SHIPDECK_TOKEN, SHIPDECK_CA_CERT (optional),
# REPORT_TARGET (optional host), REPORT_ATTEMPTS (default 5). The event id is fixed for this
# job and step, so a resend after a timeout is stored once. A refused event (exit 2: bad input,
# or 1 with a reason from the receiver that is not "nothing listens") is not retried.
set -uo pipefail
key=${1:?usage: report.sh KEY STEP STATUS [MESSAGE]}
step=${2:?usage: report.sh KEY STEP STATUS [MESSAGE]}
status=${3:?usage: report.sh KEY STEP STATUS [MESSAGE]}
message=${4:-}
attempts=${REPORT_ATTEMPTS:-5}
id="pipeline-${CI_JOB_ID:-${GITHUB_RUN_ID:-local}}-${GITHUB_RUN_ATTEMPT:-1}-$key-${REPORT_TARGET:-all}-$step-$status"

delay=1
for attempt in $(seq 1 "$attempts"); do
    err=$(shipdeck emit --server "${SHIPDECK_URL:-http://127.0.0.1:7480}" --deployment "$key" \
        ${REPORT_TARGET:+--target "$REPORT_TARGET"} --step "$step" --status "$status" \
        ${message:+--message "$message"} --id "$id" 2>&1 >/dev/null)
    code=$?
    [ "$code" -eq 0 ] && exit 0
    echo "report.sh: attempt $attempt/$attempts: $err" >&2
    # Bad input, a refused event or a certificate that does not verify: resending cannot help.
    case $code:$err in
        2:*) exit 2 ;;
        1:*"nothing listens"*|1:*"cannot reach"*|1:*"(503"*) ;;
        *) exit "$code" ;;
    esac
    [ "$attempt" -lt "$attempts" ] && sleep "$delay"
    delay=$((delay * 2))
done
echo "report.sh: the receiver did not store $step $status for $key after $attempts attempts" >&2
exit 1
