#!/usr/bin/env bash
# Boots a store-box image in QEMU (software emulation) and checks it end to end:
#
#   images/test-boot.sh IMAGE
#
# 1. copies IMAGE (the original is not changed) and provisions the copy's data partition with
#    `edge-image provision` (store "boot-test", a receipt printer at 10.0.2.2:PORT, which is
#    the host seen from QEMU's user network) and issues an API token;
# 2. starts a simulated ESC/POS printer on the host (edge-image/examples/sim_printer.rs);
# 3. boots the copy with BIOS GRUB under `-accel tcg`, the daemon's port forwarded to the host;
# 4. waits for GET /v1/health = 200, then POSTs a receipt to the daemon and waits for it to
#    arrive at the simulated printer;
# 5. checks the update agent ran (boot-check reports the running slot);
# 6. powers the VM off through ACPI and checks that it shut down cleanly (systemd reached
#    poweroff, QEMU exited 0, the data file system is clean) and that systemd drove the
#    VM's hardware watchdog (an i6300ESB) during the boot (the box's journal).
# Exit status 0 only if all of that happened. Needs root (loop mount for step 1).
#
# Environment: DAEMON_BIN, IMAGE_TOOL_BIN, SIM_PRINTER_BIN (default: cargo-built release
# binaries in CARGO_TARGET_DIR), BOOT_TIMEOUT (seconds until healthy, default 420),
# KEEP_WORK=1 keeps the logs.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=testlib.sh
. "$here/testlib.sh"

[ $# -eq 1 ] || die "usage: images/test-boot.sh IMAGE"
image=$1
[ -f "$image" ] || die "no image at $image (build one with images/build.sh OUTPUT_DIR)"
test_init
boot_timeout=${BOOT_TIMEOUT:-420}
printer_port=$(free_port)
marker="BOOT-TEST-$$-$(date +%s)"
console="$work/console.log"

# ------------------------------------------------------------------ 1. provision a copy
cat >"$work/provision.toml" <<EOF
store_id = "boot-test"

[devices]
simulate = false

[[devices.list]]
kind = "receipt_printer"
name = "receipt-1"
address = "10.0.2.2:$printer_port"
EOF
provision_copy "$image" boot-test "$work/provision.toml"
say "provisioned store boot-test, printer at 10.0.2.2:$printer_port, token issued"

# ------------------------------------------------------------------ 2. simulated printer
"$sim_bin" "127.0.0.1:$printer_port" "$marker" "$((boot_timeout + 300))" \
    >"$work/printer.log" 2>&1 &
sim_pid=$!
sleep 0.5
kill -0 "$sim_pid" 2>/dev/null || die "simulated printer did not start: $(cat "$work/printer.log")"
say "simulated printer on 127.0.0.1:$printer_port"

# ------------------------------------------------------------------ 3. boot
start_vm "$console" -no-reboot

# ------------------------------------------------------------------ 4. health, then a receipt
wait_health "$boot_timeout"
t_healthy=$(($(date +%s) - t0))
say "health: $health"
grep -q '"store_id":"boot-test"' <<<"$health" || die "provisioned store id not in use: $health"

body=$(printf '{"blocks":[%s,%s]}' \
    '{"type":"text","text":"edge box boot test","bold":true}' \
    "{\"type\":\"text\",\"text\":\"$marker\"}")
reply=$(curl -s --max-time 30 -w '\n%{http_code}' -X POST \
    -H "Authorization: Bearer $token" -H "Idempotency-Key: $marker" \
    -H 'Content-Type: application/json' -d "$body" \
    "http://127.0.0.1:$api_port/v1/devices/receipt-1/print")
code=${reply##*$'\n'}
[ "$code" = 202 ] || die "print request answered $code: ${reply%$'\n'*}"
say "print job accepted: ${reply%$'\n'*}"
for _ in $(seq 1 120); do
    kill -0 "$sim_pid" 2>/dev/null || break
    sleep 1
done
sim_rc=0
wait "$sim_pid" || sim_rc=$?
sim_pid=""
[ "$sim_rc" -eq 0 ] || die "receipt not printed: $(cat "$work/printer.log")"
sed 's/^/    /' "$work/printer.log"
say "receipt arrived at the simulated printer"

# ------------------------------------------------------------------ 5. update agent
agent_line=$(wait_console "$console" 'edge-update: ' 120)
grep -q '"state":"running","slot":"a"' <<<"$agent_line" \
    || die "unexpected boot-check report: $agent_line"
say "update agent: ${agent_line#*edge-update: }"

# ------------------------------------------------------------------ 6. clean shutdown
say "ACPI power-off"
power_off "$console"
say "powered off cleanly; data file system clean"
check_watchdog
say "watchdog: $watchdog"
say "PASS: healthy after ${t_healthy}s, receipt printed, watchdog driven, clean shutdown;" \
    "total $(($(date +%s) - t0))s"
