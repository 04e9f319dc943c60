#!/usr/bin/env bash
# QEMU test of signed A/B updates on a store-box image, in successive boots of one disk:
#
#   images/test-update.sh IMAGE ROOTFS SECRET_KEY
#
# IMAGE and ROOTFS are build.sh's edge-box.img and rootfs.ext4, built with
# UPDATE_PUBKEY=<the public key of SECRET_KEY>. Bundles reach the box on a second disk labelled
# edge-update (as a USB stick would); edge-update-media.service installs them.
#
# 1. tampered: a bundle whose root image was changed after signing is refused before anything
#    is written; the box stays on slot a and healthy;
# 2. good: version 2.0.0-good is written to slot b, booted once, found healthy and committed;
#    the daemon is healthy on slot b;
# 3. bad: version 3.0.0-bad (its daemon exits at once) is written to slot a and booted once;
#    the daemon is never healthy, the agent gives up after the deadline (90 s here) and reboots;
#    GRUB boots slot b again and the agent reports the rollback and its reason; the bad version
#    is not installed a second time although the media is still attached. The data snapshot
#    taken before the trial is restored (console lines, the report's trial_data, the data
#    partition after the power-off: trial-data-3.0.0-bad kept, no snapshot left, the version in
#    rejected-versions) and the daemon on slot b journals the report as an update_reported
#    event (GET /v1/journal with the technician token).
# 4. panic: version 5.0.0-panic (its kernel crashes during the trial boot, after the data
#    snapshot and before the daemon starts) is written to the inactive slot; the kernel reboots
#    itself (panic=10), GRUB finds the pending slot already tried and boots the old one, and the
#    agent reports the rollback with GRUB's reason; not installed a second time.
# 5. kill: the VM is killed while a bundle of its own version (4.0.0-kill, so that it is
#    installed whichever slot and version the box runs after the earlier phases) is being
#    written to the inactive slot; the next boot comes up on the old slot, healthy, with
#    nothing armed.
# Every boot ends with an ACPI power-off that must be clean. Exit 0 only if all of it happened.
# Needs root; all five phases took 716 s on a quiet 2-core machine.
# PHASES="tampered good bad panic kill" (the default) selects phases.
#
# The cloud link: with MQTT=1 (the default when mosquitto is installed) the test runs a
# Mosquitto broker and the cloud-bridge consumer (`cloud-bridge run`, file sink) on the host,
# provisions the box with mqtt://10.0.2.2:PORT (the host as QEMU's user network shows it), and
# the bad and panic phases also wait for the rolled_back report to arrive at the sink over
# MQTT. CLOUD_BRIDGE_BIN names a prebuilt cloud-bridge (default: a cargo-built release binary).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=testlib.sh
. "$here/testlib.sh"

[ $# -eq 3 ] || die "usage: images/test-update.sh IMAGE ROOTFS SECRET_KEY"
image=$1 rootfs=$2 key=$3
for f in "$image" "$rootfs" "$key"; do [ -f "$f" ] || die "no file $f"; done
test_init
boot_timeout=${BOOT_TIMEOUT:-420}

# ------------------------------------------------------------------ bundles and their media
# make_rootfs NAME VERSION [broken]: a copy of ROOTFS with its image-version set.
make_rootfs() {
    cp --sparse=always "$rootfs" "$work/$1.ext4"
    loopdev=$(losetup -f --show "$work/$1.ext4")
    mkdir -p "$work/mnt"
    mount "$loopdev" "$work/mnt"
    mounted="$work/mnt"
    echo "$2" >"$work/mnt/etc/edge/image-version"
    if [ "${3:-}" = broken ]; then
        printf '#!/bin/sh\necho "broken daemon for the rollback test" >&2\nexit 1\n' \
            >"$work/mnt/usr/bin/edge-daemon"
    fi
    if [ "${3:-}" = panic ]; then
        # Crashes the kernel (sysrq c) once the data snapshot is taken, before the daemon.
        cat >"$work/mnt/etc/systemd/system/edge-test-panic.service" <<'UNIT'
[Unit]
Description=Kernel crash for the update test (panic phase)
DefaultDependencies=no
After=edge-update-data.service
Before=edge-daemon.service edge-provision.service

[Service]
Type=oneshot
ExecStart=/bin/sh -c 'echo c >/proc/sysrq-trigger'

[Install]
WantedBy=multi-user.target
UNIT
        ln -s /etc/systemd/system/edge-test-panic.service \
            "$work/mnt/etc/systemd/system/multi-user.target.wants/edge-test-panic.service"
    fi
    unmount_part
}

# make_media NAME: a file system labelled edge-update holding bundle-NAME as bundle/.
make_media() {
    mkdir -p "$work/media-$1"
    mv "$work/bundle-$1" "$work/media-$1/bundle"
    mkfs.ext4 -q -F -L edge-update -d "$work/media-$1" "$work/media-$1.img" 1200M
    rm -rf "$work/media-$1"
}

say "making bundles"
make_rootfs good 2.0.0-good
"$agent_bin" bundle --rootfs "$work/good.ext4" --version 2.0.0-good --key "$key" \
    --out "$work/bundle-good" | sed 's/^/    /'
make_rootfs bad 3.0.0-bad broken
"$agent_bin" bundle --rootfs "$work/bad.ext4" --version 3.0.0-bad --key "$key" \
    --out "$work/bundle-bad" | sed 's/^/    /'
phases=${PHASES:-tampered good bad panic kill}
if grep -qw panic <<<"$phases"; then
    make_rootfs panic 5.0.0-panic panic
    "$agent_bin" bundle --rootfs "$work/panic.ext4" --version 5.0.0-panic --key "$key" \
        --out "$work/bundle-panic" | sed 's/^/    /'
    rm -f "$work/panic.ext4"
    make_media panic
fi
if grep -qw kill <<<"$phases"; then
    make_rootfs kill 4.0.0-kill
    "$agent_bin" bundle --rootfs "$work/kill.ext4" --version 4.0.0-kill --key "$key" \
        --out "$work/bundle-kill" | sed 's/^/    /'
    rm -f "$work/kill.ext4"
    make_media kill
fi
rm -f "$work/good.ext4" "$work/bad.ext4"
cp -r --sparse=always "$work/bundle-good" "$work/bundle-tampered"
printf 'X' | dd of="$work/bundle-tampered/rootfs.ext4" bs=1 seek=$((300 * 1024 * 1024)) \
    conv=notrunc status=none
for m in tampered good bad; do make_media "$m"; done

# ------------------------------------------------------------------ the cloud end
mqtt_port=""
broker_pid=""
bridge_pid=""
# start_cloud: a Mosquitto broker on 127.0.0.1:$mqtt_port and `cloud-bridge run` writing every
# store event it receives to $work/sink.jsonl; both stopped on exit.
start_cloud() {
    command -v mosquitto >/dev/null || die "MQTT=1 needs mosquitto (apt-get install mosquitto)"
    local bridge_bin=${CLOUD_BRIDGE_BIN:-$target/release/cloud-bridge}
    ensure_built "$bridge_bin" -p cloud-bridge
    mqtt_port=$(free_port)
    printf 'listener %s 127.0.0.1\nallow_anonymous true\npersistence false\n' "$mqtt_port" \
        >"$work/mosquitto.conf"
    mosquitto -c "$work/mosquitto.conf" >"$work/mosquitto.log" 2>&1 &
    broker_pid=$!
    sleep 1
    kill -0 "$broker_pid" 2>/dev/null || die "mosquitto did not start: $(cat "$work/mosquitto.log")"
    "$bridge_bin" run --mqtt "mqtt://127.0.0.1:$mqtt_port" --sink "file:$work/sink.jsonl" \
        --state "$work/bridge-state.json" >"$work/cloud-bridge.log" 2>&1 &
    bridge_pid=$!
    say "cloud end: mosquitto on 127.0.0.1:$mqtt_port (10.0.2.2 in the VM), cloud-bridge run"
}
stop_cloud() {
    [ -n "$bridge_pid" ] && kill "$bridge_pid" 2>/dev/null && wait "$bridge_pid" 2>/dev/null
    [ -n "$broker_pid" ] && kill "$broker_pid" 2>/dev/null && wait "$broker_pid" 2>/dev/null
    return 0
}
extra_cleanup=stop_cloud

# wait_sink STATE TEXT SECONDS: waits for an update_reported event of STATE containing TEXT at
# the cloud end's sink (it crossed MQTT); prints it. Returns 0 at once when MQTT is off.
wait_sink() {
    [ -n "$mqtt_port" ] || { echo "(MQTT off)"; return 0; }
    local until=$(($(date +%s) + $3)) found
    while :; do
        if found=$(python3 - "$work/sink.jsonl" "$1" "$2" <<'PY'
import json, sys
path, state, text = sys.argv[1:]
try:
    lines = open(path).read().splitlines()
except FileNotFoundError:
    sys.exit(1)
for line in lines:
    e = json.loads(line)
    body = json.dumps(e["event"])
    if e["kind"] == "update_reported" and state in body and text in body:
        print(f"store {e['store']} seq {e['seq']}: {body}")
        sys.exit(0)
sys.exit(1)
PY
        ); then echo "$found"; return 0; fi
        [ "$(date +%s)" -lt "$until" ] || return 1
        sleep 3
    done
}

# ------------------------------------------------------------------ the box
cat >"$work/provision.toml" <<EOF
store_id = "update-test"

[devices]
simulate = false
EOF
if [ "${MQTT:-$(command -v mosquitto >/dev/null && echo 1 || echo 0)}" = 1 ]; then
    start_cloud
    printf '\n[mqtt]\nurl = "mqtt://10.0.2.2:%s"\n' "$mqtt_port" >>"$work/provision.toml"
fi
mkdir -p "$work/data-extra"
echo "EDGE_UPDATE_DEADLINE_SECS=90" >"$work/data-extra/update.env"
provision_copy "$image" update-test "$work/provision.toml"

media() {
    echo -drive "file=$work/media-$1.img,format=raw,if=none,id=media,readonly=on" \
        -device virtio-blk-pci,drive=media
}

# ------------------------------------------------------------------ 1. tampered
phase_tampered() {
c="$work/console-1-tampered.log"
# shellcheck disable=SC2046
start_vm "$c" $(media tampered)
wait_health "$boot_timeout"
line=$(wait_console "$c" '"state":"refused"' 600)
grep -q 'SHA-256' <<<"$line" || die "refused for another reason: $line"
say "tampered bundle: ${line#*edge-update: }"
grep -aq '"state":"armed"' "$c" && die "the tampered bundle was armed"
wait_console "$c" '"state":"running","slot":"a"' 5 >/dev/null
power_off "$c"
say "tampered bundle refused, nothing armed, box on slot a, clean power-off"
}

# ------------------------------------------------------------------ 2. good
phase_good() {
c="$work/console-2-good.log"
# shellcheck disable=SC2046
start_vm "$c" $(media good)
line=$(wait_console "$c" '"state":"armed"' 900)
say "good bundle: ${line#*edge-update: }"
line=$(wait_console "$c" '"state":"committed"' 900)
grep -q '"slot":"b","version":"2.0.0-good"' <<<"$line" || die "unexpected commit: $line"
say "good bundle: ${line#*edge-update: }"
wait_health "$boot_timeout"
say "health on slot b: $health"
line=$(wait_console "$c" 'already running' 300)
say "media still attached: ${line#*edge-update: }"
power_off "$c"
check_watchdog
say "slot b: $watchdog"
say "good update written to slot b, booted once, committed, healthy, clean power-off"
}

# after_rollback VERSION: on the old slot after VERSION was rolled back (console $c): the
# data snapshot was put back, the daemon is healthy, the still-attached media is refused, and
# (with MQTT) the rolled_back report reached the cloud end.
after_rollback() {
    line=$(wait_console "$c" "restored from the snapshot taken before version $1" 5) \
        || die "the data snapshot was not restored after the rollback of $1"
    say "after the reboot: ${line#*edge-update: }"
    wait_health "$boot_timeout"
    say "health on the old slot: $health"
    line=$(wait_console "$c" 'rolled back on this box before' 300)
    say "media still attached: ${line#*edge-update: }"
    line=$(wait_sink rolled_back "$1" 180) \
        || die "the rolled_back report for $1 did not reach the cloud end over MQTT"
    say "cloud end (MQTT): $line"
}

# ------------------------------------------------------------------ 3. bad
phase_bad() {
c="$work/console-3-bad.log"
# shellcheck disable=SC2046
start_vm "$c" $(media bad)
line=$(wait_console "$c" '"state":"armed","slot":"a"' 900)
say "bad bundle: ${line#*edge-update: }"
line=$(wait_console "$c" '"state":"rolling_back"' 900)
say "bad bundle: ${line#*edge-update: }"
line=$(wait_console "$c" '"state":"rolled_back"' 900)
grep -q '"slot":"b","version":"3.0.0-bad"' <<<"$line" || die "unexpected rollback: $line"
say "after the reboot: ${line#*edge-update: }"
grep -q '"trial_data": *"/data/update/trial-data-3.0.0-bad"' <<<"$line" \
    || die "the rollback report names no restored trial data: $line"
line=$(wait_console "$c" 'data snapshot of .* taken before the trial' 5) \
    || die "no data snapshot was taken before the trial"
say "trial boot: ${line#*edge-update: }"
after_rollback 3.0.0-bad
line=$(wait_journal rolled_back 3.0.0-bad 120) \
    || die "no update_reported rolled_back event for 3.0.0-bad in the daemon's journal"
say "daemon journal: $line"
power_off "$c"
mount_part "$work/disk.img" 5 "$work/data"
[ -d "$work/data/update/trial-data-3.0.0-bad" ] \
    || die "no trial-data-3.0.0-bad on the data partition"
[ -e "$work/data/update/data-snapshot" ] && die "the data snapshot is still there after the restore"
grep -qx '3.0.0-bad' "$work/data/update/rejected-versions" \
    || die "3.0.0-bad is not in rejected-versions: $(cat "$work/data/update/rejected-versions")"
say "data partition: $(ls "$work/data/update" | tr '\n' ' ')"
unmount_part
say "bad update booted once, rolled back with its reason, data restored, reported to the" \
    "daemon's journal, not retried, clean power-off"
}

# ------------------------------------------------------------------ 4. kernel panic
phase_panic() {
c="$work/console-4-panic.log"
# shellcheck disable=SC2046
start_vm "$c" $(media panic)
line=$(wait_console "$c" '"state":"armed"' 900)
say "panic bundle: ${line#*edge-update: }"
line=$(wait_console "$c" 'Kernel panic' 900)
say "trial boot: $line"
line=$(wait_console "$c" '"state":"rolled_back"' 900)
grep -q '"version":"5.0.0-panic"' <<<"$line" || die "unexpected rollback: $line"
grep -q 'booted once and never committed' <<<"$line" \
    || die "the rollback report does not give GRUB's reason: $line"
say "after the reboot: ${line#*edge-update: }"
after_rollback 5.0.0-panic
power_off "$c"
say "kernel panic on the trial boot: rebooted by itself, rolled back by GRUB, reported," \
    "not retried, clean power-off"
}

# wait_journal STATE TEXT SECONDS: waits for an update_reported event of STATE whose record
# contains TEXT in the daemon's journal (GET /v1/journal with the technician token); prints it.
wait_journal() {
    local until=$(($(date +%s) + $3)) found
    while :; do
        if found=$(python3 - "$api_port" "$token" "$1" "$2" <<'PY'
import json, sys, urllib.request
port, token, state, text = sys.argv[1:]
after = 0
while True:
    req = urllib.request.Request(f"http://127.0.0.1:{port}/v1/journal?after={after}&limit=1000",
                                 headers={"Authorization": f"Bearer {token}"})
    page = json.load(urllib.request.urlopen(req, timeout=10))
    for e in page["events"]:
        ev = e["event"]
        fields = next(iter(ev.values()), {}) if "state" not in ev else ev
        if e["kind"] == "update_reported" and isinstance(fields, dict) \
                and fields.get("state") == state and text in json.dumps(ev):
            print(f"seq {e['seq']} {e['kind']}: {json.dumps(ev)}")
            sys.exit(0)
        after = e["seq"]
    if not page["events"] or after >= page["last_seq"]:
        sys.exit(1)
PY
        ); then echo "$found"; return 0; fi
        [ "$(date +%s)" -lt "$until" ] || return 1
        sleep 5
    done
}

# ------------------------------------------------------------------ 5. killed while writing
# The VM is killed (SIGKILL) while the kill bundle is being written to the inactive slot; the
# write is seen in QEMU's block statistics (bytes written to the disk). The next boot, without
# the media, must come up on the slot that was running, healthy, with nothing armed.
phase_kill() {
c="$work/console-5-kill.log"
# shellcheck disable=SC2046
start_vm "$c" $(media kill)
wait_health "$boot_timeout"
line=$(wait_console "$c" '"state":"(running|committed)"' 300)
slot=$(sed -E 's/.*"slot":"([ab])".*/\1/' <<<"$line")
used=$(disk_written)
# Writing a 1 GiB slot takes 1 to 2.5 minutes under emulation; 200 MiB well within 900 s.
# QEMU's own count of written bytes, since an earlier phase may have filled the slot's part of
# the sparse disk file already.
deadline=$(($(date +%s) + ${KILL_WRITE_TIMEOUT:-900}))
until [ $(($(disk_written) - used)) -gt $((200 * 1024 * 1024)) ]; do
    kill -0 "$qemu_pid" 2>/dev/null || die "QEMU exited before the slot was written"
    if line=$(grep -aEm1 '"state":"refused"' "$c"); then
        die "the kill bundle was refused, nothing is being written: ${line#*edge-update: }"
    fi
    grep -aq '"state":"armed"' "$c" && die "the write ended before the VM could be killed"
    [ "$(date +%s)" -lt "$deadline" ] \
        || die "the disk did not grow by 200 MiB within ${KILL_WRITE_TIMEOUT:-900} s"
    sleep 1
done
kill -KILL "$qemu_pid"
wait "$qemu_pid" 2>/dev/null || true
qemu_pid=""
grep -aq '"state":"armed"' "$c" && die "armed although the write was cut"
say "VM killed while writing the slot that is not $slot (200 MiB written)"
c="$work/console-5-after.log"
start_vm "$c" -no-reboot
wait_health "$boot_timeout"
line=$(wait_console "$c" 'edge-update: ' 300)
grep -q "\"state\":\"running\",\"slot\":\"$slot\"" <<<"$line" \
    || die "after the cut: $line"
say "after the cut: ${line#*edge-update: }"
power_off "$c"
say "VM killed during the write: the box stays on slot $slot, healthy, nothing armed"
}

for phase in $phases; do
    say "phase $phase"
    "phase_$phase"
done
say "PASS: phases $phases; total $(($(date +%s) - t0))s"
