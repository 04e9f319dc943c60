#!/usr/bin/env bash
# Boots a store-box image in QEMU (software emulation) and checks it end to end:
#
#   images/test-boot.sh IMAGE
#
# 1. copies IMAGE (the original is not changed) and provisions the copy's data partition with
#    `edge-image provision` (store "boot-test", a receipt printer at 10.0.2.2:PORT, which is
#    the host seen from QEMU's user network) and issues an API token with `edge-daemon token`;
# 2. starts a simulated ESC/POS printer on the host (examples/sim_printer.rs);
# 3. boots the copy with BIOS GRUB under `-accel tcg`, the daemon's port forwarded to the host;
# 4. waits for GET /v1/health = 200, then POSTs a receipt to the daemon and waits for it to
#    arrive at the simulated printer;
# 5. checks the update agent ran (boot-check reports the running slot);
# 6. powers the VM off through ACPI and checks that it shut down cleanly (systemd reached
#    poweroff, QEMU exited 0, the data file system is clean).
# Exit status 0 only if all of that happened. Needs root (loop devices and mount for step 1).
#
# Environment: DAEMON_BIN, IMAGE_TOOL_BIN, SIM_PRINTER_BIN (default: cargo-built release
# binaries in CARGO_TARGET_DIR), BOOT_TIMEOUT (seconds until healthy, default 420),
# KEEP_WORK=1 keeps the work directory (console log, disk copy).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
die() { echo "test-boot: FAIL: $*" >&2; exit 1; }
say() { printf 'test-boot: [%3ds] %s\n' "$(($(date +%s) - t0))" "$*"; }
t0=$(date +%s)

[ $# -eq 1 ] || die "usage: images/test-boot.sh IMAGE"
image=$1
[ -f "$image" ] || die "no image at $image (build one with images/build.sh OUTPUT_DIR)"
[ "$(id -u)" -eq 0 ] || die "must run as root (the data partition is provisioned via a loop mount)"
for tool in qemu-system-x86_64 curl losetup mount e2fsck python3; do
    command -v "$tool" >/dev/null || die "$tool not found"
done

target=${CARGO_TARGET_DIR:-$repo/target}
daemon_bin=${DAEMON_BIN:-$target/release/edge-daemon}
agent_bin=${IMAGE_TOOL_BIN:-$target/release/edge-image}
sim_bin=${SIM_PRINTER_BIN:-$target/release/examples/sim_printer}
if [ ! -x "$sim_bin" ]; then
    (cd "$repo" && CARGO_TARGET_DIR=$target cargo build --release -p edge-image \
        --example sim_printer)
fi
for b in "$daemon_bin" "$agent_bin" "$sim_bin"; do [ -x "$b" ] || die "no binary $b"; done
boot_timeout=${BOOT_TIMEOUT:-420}

work=$(mktemp -d /tmp/edge-test-boot.XXXXXX)
loopdev=""
mounted=""
qemu_pid=""
sim_pid=""
host_pid=""
cleanup() {
    local rc=$?
    set +e
    [ -n "$host_pid" ] && kill "$host_pid" 2>/dev/null && wait "$host_pid" 2>/dev/null
    [ -n "$qemu_pid" ] && kill "$qemu_pid" 2>/dev/null && wait "$qemu_pid" 2>/dev/null
    [ -n "$sim_pid" ] && kill "$sim_pid" 2>/dev/null && wait "$sim_pid" 2>/dev/null
    [ -n "$mounted" ] && umount "$mounted"
    [ -n "$loopdev" ] && losetup -d "$loopdev"
    if [ "${KEEP_WORK:-0}" = 1 ] || [ $rc -ne 0 ]; then
        rm -f "$work/disk.img"
        echo "test-boot: logs kept in $work (console.log, printer.log)"
    else
        rm -rf "$work"
    fi
    exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}
api_port=$(free_port)
printer_port=$(free_port)
marker="BOOT-TEST-$$-$(date +%s)"

# ------------------------------------------------------------------ 1. provision a copy
say "copying $image"
cp --sparse=always "$image" "$work/disk.img"
read -r data_start data_size < <("$here/part-offset.sh" "$work/disk.img" 5) \
    || die "no data partition (5) in $image"
# A loop device over the data partition alone (partition scanning is not available everywhere).
data_loop() {
    losetup -f --show --offset "$data_start" --sizelimit "$data_size" "$work/disk.img"
}
loopdev=$(data_loop)
mkdir -p "$work/data"
mount "$loopdev" "$work/data"
mounted="$work/data"
cat >"$work/provision.toml" <<EOF
store_id = "boot-test"

[devices]
simulate = false

[[devices.list]]
kind = "receipt_printer"
name = "receipt-1"
address = "10.0.2.2:$printer_port"
EOF
"$agent_bin" provision --file "$work/provision.toml" --data-dir "$work/data" | sed 's/^/    /'
# The store is created by running the daemon once on the host against the mounted partition;
# the token is issued through its admin socket, as a technician would on the box.
host_port=$(free_port)
EDGE_DEVICES__SIMULATE=false "$daemon_bin" --data "$work/data/edge" --store-id boot-test \
    --listen "127.0.0.1:$host_port" --log-format text run >"$work/host-daemon.log" 2>&1 &
host_pid=$!
for _ in $(seq 1 100); do [ -S "$work/data/edge/admin.sock" ] && break; sleep 0.2; done
[ -S "$work/data/edge/admin.sock" ] \
    || die "the daemon did not start on the host: $(cat "$work/host-daemon.log")"
issued=$("$daemon_bin" --data "$work/data/edge" --store-id boot-test token issue \
    --role technician --label test-boot 2>"$work/token.err") \
    || die "cannot issue a token: $(cat "$work/token.err")"
token=$(python3 -c 'import json, sys; print(json.loads(sys.argv[1])["token"])' "$issued") \
    || die "unexpected token issue output: $issued"
kill -TERM "$host_pid"
wait "$host_pid" || die "the host daemon did not stop cleanly: $(cat "$work/host-daemon.log")"
host_pid=""
chown -R 990:990 "$work/data/edge"
umount "$work/data"
mounted=""
losetup -d "$loopdev"
loopdev=""
say "provisioned store boot-test, printer at 10.0.2.2:$printer_port, token issued"

# ------------------------------------------------------------------ 2. simulated printer
"$sim_bin" "127.0.0.1:$printer_port" "$marker" "$((boot_timeout + 300))" \
    >"$work/printer.log" 2>&1 &
sim_pid=$!
sleep 0.5
kill -0 "$sim_pid" 2>/dev/null || die "simulated printer did not start: $(cat "$work/printer.log")"
say "simulated printer on 127.0.0.1:$printer_port"

# ------------------------------------------------------------------ 3. boot
qemu-system-x86_64 -accel tcg -machine q35 -m 1024 -smp 2 \
    -drive "file=$work/disk.img,format=raw,if=virtio" \
    -netdev "user,id=net0,hostfwd=tcp:127.0.0.1:$api_port-:8080" \
    -device virtio-net-pci,netdev=net0 \
    -display none -serial "file:$work/console.log" \
    -monitor "unix:$work/monitor.sock,server,nowait" \
    -no-reboot &
qemu_pid=$!
say "QEMU started (tcg), API forwarded to 127.0.0.1:$api_port"

# ------------------------------------------------------------------ 4. health, then a receipt
health=""
while :; do
    kill -0 "$qemu_pid" 2>/dev/null || { qemu_pid=""; die "QEMU exited during boot"; }
    if health=$(curl -sf --max-time 5 "http://127.0.0.1:$api_port/v1/health" 2>/dev/null); then
        break
    fi
    [ $(($(date +%s) - t0)) -lt "$boot_timeout" ] \
        || die "no healthy /v1/health within ${boot_timeout}s; console:
$(tail -n 20 "$work/console.log")"
    sleep 3
done
say "health: $health"
t_healthy=$(($(date +%s) - t0))
grep -q '"status":"ok"' <<<"$health" || die "health is not ok: $health"
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
for _ in $(seq 1 60); do
    grep -q 'edge-update: ' "$work/console.log" && break
    sleep 2
done
agent_line=$(grep -a -m1 'edge-update: ' "$work/console.log" | tr -d '\r') \
    || die "the update agent's boot check did not report"
grep -q '"state":"running","slot":"a"' <<<"$agent_line" \
    || die "unexpected boot-check report: $agent_line"
say "update agent: ${agent_line#*edge-update: }"

# ------------------------------------------------------------------ 6. clean shutdown
say "ACPI power-off"
python3 - "$work/monitor.sock" <<'EOF'
import socket, sys, time
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
time.sleep(0.3)
s.sendall(b"system_powerdown\n")
time.sleep(0.5)
s.close()
EOF
for _ in $(seq 1 120); do kill -0 "$qemu_pid" 2>/dev/null || break; sleep 1; done
kill -0 "$qemu_pid" 2>/dev/null && die "VM still running 120 s after the power-off request"
wait "$qemu_pid" || { qemu_pid=""; die "QEMU exited with an error"; }
qemu_pid=""
grep -aq 'reboot: Power down' "$work/console.log" \
    || die "no clean power-down on the console: $(tail -n 20 "$work/console.log")"
loopdev=$(data_loop)
fsck_out=$(e2fsck -n "$loopdev" 2>&1) || die "data file system not clean: $fsck_out"
grep -q 'clean' <<<"$fsck_out" || die "data file system was not unmounted cleanly: $fsck_out"
losetup -d "$loopdev"
loopdev=""
say "powered off cleanly; data file system clean"
say "PASS: healthy after ${t_healthy}s, receipt printed, clean shutdown;" \
    "total $(($(date +%s) - t0))s"
