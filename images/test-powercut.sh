#!/usr/bin/env bash
# Power-cut test of a store-box image in QEMU (software emulation):
#
#   images/test-powercut.sh IMAGE [N]
#
# Loads the daemon's sample catalog once, then N times (default 5): boot, wait for health,
# start a stream of acknowledged writes (card sales through the LAN API: open, line, tender,
# complete, each request with its own Idempotency-Key; the 200 "completed" answer is the
# acknowledgement, recorded on the host at once), kill QEMU with SIGKILL at a random moment
# 2-10 s into the stream, then run `edge-daemon verify` on the data partition from the host.
# Every boot first checks that each sale acknowledged so far is present and completed
# (GET /v1/pos/sales/ID). A last boot checks them all and powers off cleanly. Exit 0 only if no
# acknowledged write is missing and every verify passes. The image must carry a daemon with the
# /v1/pos API (an image built from this tree does).
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

# The client side in Python, written once: `check` asks for every acknowledged sale, `sell`
# runs sales until killed, appending each acknowledged sale id (flushed, fsynced) to acked.txt,
# `catalog` loads the sample catalog.
cat >"$work/pos.py" <<'PY'
import json, os, sys, urllib.error, urllib.request, uuid
cmd, port, token, path = sys.argv[1:5]
base = f"http://127.0.0.1:{port}"

def call(method, url, body=None):
    headers = {"Authorization": f"Bearer {token}"}
    data = None
    if method == "POST":
        headers["Idempotency-Key"] = uuid.uuid4().hex
        headers["Content-Type"] = "application/json"
        data = json.dumps(body).encode()
    req = urllib.request.Request(base + url, data=data, headers=headers, method=method)
    with urllib.request.urlopen(req, timeout=30) as r:
        return r.status, json.load(r)

if cmd == "catalog":
    status, v = call("POST", "/v1/pos/catalog",
                     {"kind": "snapshot", "json": open(path).read()})
    print(f"catalog version {v['version']}, {v['products']} products")
elif cmd == "check":
    ids = [l.strip() for l in open(path) if l.strip()]
    missing = []
    for i in ids:
        try:
            status, v = call("GET", f"/v1/pos/sales/{i}")
            if status != 200 or v.get("state") != "completed":
                missing.append(i)
        except urllib.error.HTTPError:
            missing.append(i)
    print(f"{len(ids) - len(missing)} of {len(ids)} acknowledged sales present")
    if missing:
        print("missing: " + " ".join(missing[:10]))
        sys.exit(1)
elif cmd == "sell":
    out = open(path, "a")
    while True:
        try:
            _, sale = call("POST", "/v1/pos/sales", {"till": None})
            s = f"/v1/pos/sales/{sale['id']}"
            _, cart = call("POST", s + "/lines", {"sku": "MUG-1"})
            card = {"kind": "card", "amount": cart["total"], "reference": "AUTH"}
            call("POST", s + "/tenders", card)
            _, done = call("POST", s + "/complete", None)
            if done.get("state") == "completed":
                out.write(sale["id"] + "\n")
                out.flush()
                os.fsync(out.fileno())
        except Exception:
            pass
PY
pos() { python3 "$work/pos.py" "$1" "$api_port" "$token" "$2"; }
check_acked() { pos check "$work/acked.txt"; }

for round in $(seq 1 "$rounds"); do
    c="$work/console-$round.log"
    start_vm "$c" -no-reboot
    wait_health "$boot_timeout"
    if [ "$round" = 1 ]; then
        loaded=$(pos catalog "$here/../edge-daemon/sample/catalog.json" 2>&1) \
            || die "cannot load the sample catalog (does the image's daemon have /v1/pos?):" \
                "$loaded"
        say "$loaded"
    fi
    result=$(check_acked) || die "round $round: $result"
    say "round $round/$rounds: healthy; $result"
    before=$(wc -l <"$work/acked.txt")
    # python3 itself is the background job (not a shell function's subshell), so the kill
    # below stops the writer.
    python3 "$work/pos.py" sell "$api_port" "$token" "$work/acked.txt" &
    writer_pid=$!
    cut_after=$((2 + RANDOM % 9))
    sleep "$cut_after"
    kill -KILL "$qemu_pid"
    wait "$qemu_pid" 2>/dev/null || true
    qemu_pid=""
    kill "$writer_pid" 2>/dev/null || true
    wait "$writer_pid" 2>/dev/null || true
    say "round $round/$rounds: VM killed ${cut_after}s into the stream;" \
        "$(($(wc -l <"$work/acked.txt") - before)) sales acknowledged this round"
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
say "PASS: $rounds power cuts, every acknowledged write present, verify passed each time;" \
    "total $(($(date +%s) - t0))s"
