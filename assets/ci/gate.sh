#!/usr/bin/env bash
# Pipeline step: block until a gate of the deployment is decided, and fail the job unless it
# was approved.
#
#   gate.sh KEY PHASE            e.g. gate.sh "$SHIPDECK_KEY" wave-1
#
# Environment: SHIPDECK_URL (the receiver, http:// or https://), SHIPDECK_TOKEN,
# SHIPDECK_CA_CERT (optional), GATE_TIMEOUT (default 4h). Progress goes to the job log.
# Exit codes: 0 approved (the next phase may start), 1 rejected or the deployment halted,
# 3 nobody decided within GATE_TIMEOUT, 2 a usage error (unknown deployment or phase).
set -uo pipefail
key=${1:?usage: gate.sh KEY PHASE}
phase=${2:?usage: gate.sh KEY PHASE}

shipdeck gate wait "$key" "$phase" --timeout "${GATE_TIMEOUT:-4h}" --server "${SHIPDECK_URL:-http://127.0.0.1:7480}"
code=$?
case $code in
    0) echo "gate.sh: $key $phase approved: go on" ;;
    1) echo "gate.sh: $key $phase was rejected or the deployment halted: stopping the pipeline" >&2 ;;
    3) echo "gate.sh: nobody decided $key $phase within ${GATE_TIMEOUT:-4h}: stopping the pipeline" >&2 ;;
    2) echo "gate.sh: shipdeck refused the request (see above): check the key, phase and URL" >&2 ;;
    *) echo "gate.sh: shipdeck gate wait ended with $code" >&2 ;;
esac
exit "$code"
