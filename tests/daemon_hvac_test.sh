#!/usr/bin/env bash
# sealflowd against hvac, the Python Vault client, used unchanged: keys,
# encrypt/decrypt (single, batch, empty plaintext), rewrap, datakeys,
# rotation, min_decryption_version, deletion and authentication.
source "$(dirname "$0")/daemon_common.sh"

if ! have_hvac; then
    echo "SKIP: $PYTHON with the hvac package is not available"
    exit 0
fi
start_dev || exit 1
if SFD_ADDR="$ADDR" SFD_TOKEN="$TOKEN" "$PYTHON" \
        "$(dirname "$0")/hvac_transit.py"; then
    pass "hvac_transit.py"
else
    fail "hvac_transit.py"
fi
stop_daemon
check "daemon exits cleanly on SIGTERM" 0 "$DAEMON_STATUS"
finish
