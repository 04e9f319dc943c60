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
# 4. kill: the VM is killed while a bundle of its own version (4.0.0-kill, so that it is
#    installed whichever slot and version the box runs after the earlier phases) is being
#    written to the inactive slot; the next boot comes up on the old slot, healthy, with
#    nothing armed.
# Every boot ends with an ACPI power-off that must be clean. Exit 0 only if all of it happened.
# Needs root; phases 1-3 took 20 minutes (1183 s) on a 2-core machine shared with other builds.
# PHASES="tampered good bad kill" (the default) selects phases.
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
phases=${PHASES:-tampered good bad kill}
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

# ------------------------------------------------------------------ the box
cat >"$work/provision.toml" <<EOF
store_id = "update-test"

[devices]
simulate = false
EOF
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
check_data_clean
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
check_data_clean
say "good update written to slot b, booted once, committed, healthy, clean power-off"
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
line=$(wait_console "$c" 'restored from the snapshot' 5) || die "the snapshot was not restored"
say "after the reboot: ${line#*edge-update: }"
wait_health "$boot_timeout"
say "health on slot b again: $health"
line=$(wait_console "$c" 'rolled back on this box before' 300)
say "media still attached: ${line#*edge-update: }"
line=$(wait_journal rolled_back 3.0.0-bad 120) \
    || die "no update_reported rolled_back event for 3.0.0-bad in the daemon's journal"
say "daemon journal: $line"
power_off "$c"
check_data_clean
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

# ------------------------------------------------------------------ 4. killed while writing
# The VM is killed (SIGKILL) while the kill bundle is being written to the inactive slot; the
# write is seen from the host as the sparse disk file growing. The next boot, without the
# media, must come up on the slot that was running, healthy, with nothing armed.
phase_kill() {
c="$work/console-4-kill.log"
# shellcheck disable=SC2046
start_vm "$c" $(media kill)
wait_health "$boot_timeout"
line=$(wait_console "$c" '"state":"(running|committed)"' 300)
slot=$(sed -E 's/.*"slot":"([ab])".*/\1/' <<<"$line")
used=$(du -k "$work/disk.img" | cut -f1)
# Writing a 1 GiB slot takes about 2.5 minutes under emulation; 200 MiB well within 900 s.
deadline=$(($(date +%s) + ${KILL_WRITE_TIMEOUT:-900}))
until [ $(($(du -k "$work/disk.img" | cut -f1) - used)) -gt 204800 ]; do
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
c="$work/console-4-after.log"
start_vm "$c" -no-reboot
wait_health "$boot_timeout"
line=$(wait_console "$c" 'edge-update: ' 300)
grep -q "\"state\":\"running\",\"slot\":\"$slot\"" <<<"$line" \
    || die "after the cut: $line"
say "after the cut: ${line#*edge-update: }"
power_off "$c"
check_data_clean
say "VM killed during the write: the box stays on slot $slot, healthy, nothing armed"
}

for phase in $phases; do
    say "phase $phase"
    "phase_$phase"
done
say "PASS: phases $phases; total $(($(date +%s) - t0))s"
