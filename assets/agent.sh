#!/usr/bin/env sh
# A minimal deployment agent for one host: runs each lifecycle step and reports it to the
# shipdeck receiver. Each event carries an id derived from the deployment, host, step and
# attempt, so a post that timed out can be sent again safely: the receiver stores it once.
#
#   SHIPDECK_URL=http://deploy-host:7480 SHIPDECK_TOKEN=... assets/agent.sh DEP-12 pay-prd-001
set -eu
deployment=$1
host=$2
url=${SHIPDECK_URL:-http://127.0.0.1:7480}

json() { printf '%s' "$1" | sed 's/\\/\\\\/g; s/"/\\"/g' | tr '\n\t' '  '; }

report() { # step status [message]
    id="$deployment-$host-$1-$2-${attempt:-1}"
    body=$(printf '{"id":"%s","deployment":"%s","target":"%s","step":"%s","status":"%s","message":"%s"}' \
        "$id" "$deployment" "$host" "$1" "$2" "$(json "${3:-}")")
    # Resend until the receiver has stored it: after a timeout or a 5xx, sending the same id
    # again is harmless. A 4xx means the event itself is wrong: say why and stop.
    while :; do
        code=$(curl -sS -o "${TMPDIR:-/tmp}/shipdeck-agent.$$" -w '%{http_code}' --max-time 10 \
            ${SHIPDECK_TOKEN:+-H "Authorization: Bearer $SHIPDECK_TOKEN"} \
            --data-binary "$body" "$url/v1/events" 2>/dev/null) || code=000
        case $code in
            200) rm -f "${TMPDIR:-/tmp}/shipdeck-agent.$$"; return 0 ;;
            000|5??) sleep 2 ;;
            *) echo "shipdeck refused the event ($code): $(cat "${TMPDIR:-/tmp}/shipdeck-agent.$$")" >&2; exit 2 ;;
        esac
    done
}

for step in ${AGENT_STEPS:-download install verify}; do
    attempt=1
    report "$step" started
    # Replace with the real work of the step; its failure is reported with its output.
    if output=$(${AGENT_STEP_COMMAND:-true} "$step" 2>&1); then
        report "$step" succeeded
    else
        report "$step" failed "$output"
        exit 1
    fi
done
