#!/usr/bin/env bash
# Power-cut test of a store-box image in QEMU (software emulation):
#
#   images/test-powercut.sh IMAGE [N]
#
# N times (default 5): boot, wait for health, start a stream of acknowledged writes (print jobs
# posted to the LAN API; a 202 with a job id is the acknowledgement, recorded on the host at
# once), kill QEMU with SIGKILL at a random moment 2-10 s into the stream, then run
# `edge-daemon verify` on the data partition from the host. Every boot first checks that each
# write acknowledged so far is present (GET /v1/print-jobs/ID answers 200). A last boot checks
# them all and powers off cleanly. Exit 0 only if no acknowledged write is missing and every
# verify passes.
#
# SIGKILL of QEMU loses what the guest had not yet handed to the virtual disk; what QEMU had
# written stays in the host's page cache, so this is a guest power cut, not a host one.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=testlib.sh
. "$here/testlib.sh"

[ $# -ge 1 ] && [ $# -le 2 ] || die "usage: images/test-powercut.sh IMAGE [N]"
image=$1
rounds=${2:-5}
[ -f "$image" ] || die "no image at $image"
test_init
boot_timeout=${BOOT_TIMEOUT:-420}
store=powercut-test

cat >"$work/provision.toml" <<EOF
store_id = "$store"

[devices]
simulate = false

# Nothing listens there: jobs stay queued and retry, which is all this test needs.
[[devices.list]]
kind = "receipt_printer"
name = "receipt-1"
address = "10.0.2.2:9"
EOF
provision_copy "$image" "$store" "$work/provision.toml"
: >"$work/acked.txt"

# check_acked: every acknowledged job id is present.
check_acked() {
    python3 - "$api_port" "$token" "$work/acked.txt" <<'PY'
import sys, urllib.request, urllib.error
port, token, path = sys.argv[1], sys.argv[2], sys.argv[3]
ids = [l.strip() for l in open(path) if l.strip()]
missing = []
for i in ids:
    req = urllib.request.Request(f"http://127.0.0.1:{port}/v1/print-jobs/{i}",
                                 headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            if r.status != 200:
                missing.append(i)
    except urllib.error.HTTPError:
        missing.append(i)
print(f"{len(ids) - len(missing)} of {len(ids)} acknowledged writes present")
if missing:
    print("missing: " + " ".join(missing[:10]))
    sys.exit(1)
PY
}

# writer: posts print jobs until killed, appending each acknowledged job id (flushed) to
# acked.txt.
writer() {
    python3 - "$api_port" "$token" "$work/acked.txt" "$1" <<'PY'
import json, os, sys, urllib.request
port, token, path, round_ = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
out = open(path, "a")
n = 0
while True:
    n += 1
    body = json.dumps({"blocks": [{"type": "text", "text": f"power cut {round_} #{n}"}]})
    req = urllib.request.Request(
        f"http://127.0.0.1:{port}/v1/devices/receipt-1/print", data=body.encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json",
                 "Idempotency-Key": f"pc-{round_}-{n}"}, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            if r.status == 202:
                out.write(json.load(r)["job_id"] + "\n")
                out.flush()
                os.fsync(out.fileno())
    except Exception:
        pass
PY
}

for round in $(seq 1 "$rounds"); do
    c="$work/console-$round.log"
    start_vm "$c" -no-reboot
    wait_health "$boot_timeout"
    result=$(check_acked) || die "round $round: $result"
    say "round $round/$rounds: healthy; $result"
    before=$(wc -l <"$work/acked.txt")
    writer "$round" &
    writer_pid=$!
    cut_after=$((2 + RANDOM % 9))
    sleep "$cut_after"
    kill -KILL "$qemu_pid"
    wait "$qemu_pid" 2>/dev/null || true
    qemu_pid=""
    kill "$writer_pid" 2>/dev/null || true
    wait "$writer_pid" 2>/dev/null || true
    say "round $round/$rounds: VM killed ${cut_after}s into the stream;" \
        "$(($(wc -l <"$work/acked.txt") - before)) writes acknowledged this round"
    mount_part "$work/disk.img" 5 "$work/data"
    if ! out=$("$daemon_bin" --data "$work/data/edge" --store-id "$store" verify 2>&1); then
        die "round $round: edge-daemon verify failed: $out"
    fi
    unmount_part
    say "round $round/$rounds: $(tail -n 1 <<<"$out")"
done

c="$work/console-final.log"
start_vm "$c" -no-reboot
wait_health "$boot_timeout"
result=$(check_acked) || die "after $rounds power cuts: $result"
say "after $rounds power cuts: $result"
power_off "$c"
check_data_clean
say "PASS: $rounds power cuts, every acknowledged write present, verify passed each time;" \
    "total $(($(date +%s) - t0))s"
