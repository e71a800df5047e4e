#!/usr/bin/env bash
# Pipeline step: plan a deployment in the shipdeck log and hand its key to the next steps.
#
# Runs where the log is (a runner on the deploy host): planning writes the log, it is not
# offered over HTTP. Environment: RELEASE (name@version), DEPLOY_ENV, MODEL, TARGETS (a file or
# a comma list), optional CHANGE (RFC id) and SHIPDECK_DB / SHIPDECK_CONFIG / SHIPDECK_OPERATOR.
# Writes `SHIPDECK_KEY=DEP-n` to the file named by $1 (GitHub: "$GITHUB_OUTPUT", GitLab: a
# dotenv report) and prints the key. Exit codes are shipdeck's: 2 for bad input, 1 refused.
set -euo pipefail
out=${1:?usage: plan.sh OUTPUT_FILE}
: "${RELEASE:?RELEASE=name@version is required}" "${DEPLOY_ENV:?DEPLOY_ENV is required}"
: "${MODEL:?MODEL is required}" "${TARGETS:?TARGETS is required}"

plan=$(shipdeck plan --release "$RELEASE" --env "$DEPLOY_ENV" --model "$MODEL" --targets "$TARGETS" \
    ${CHANGE:+--change "$CHANGE"})
printf '%s\n' "$plan" >&2
key=$(printf '%s\n' "$plan" | head -n 1)
case $key in
    DEP-[0-9]*) ;;
    *) echo "plan.sh: shipdeck plan printed no deployment key" >&2; exit 1 ;;
esac
echo "SHIPDECK_KEY=$key" >> "$out"
echo "$key"
