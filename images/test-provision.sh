#!/usr/bin/env bash
# QEMU test of provisioning as a technician meets it, in three boots of one copy of an image:
#
#   images/test-provision.sh IMAGE
#
# 1. not provisioned: the box is switched on before anyone provisioned it. The console says
#    NOT PROVISIONED and how to provision; the daemon still serves, as the placeholder store,
#    and GET /v1/health carries the same message (`provisioning.ok` false).
# 2. provisioned wrongly: a drop-in with a misspelt key (`mqtt.ulr`). The console and the health
#    endpoint say PROVISIONING INVALID, name the file and the key; the drop-in is set aside and
#    the daemon runs offline as the store the drop-in names.
# 3. provisioned again, correctly, with `edge-image provision`: healthy as that store,
#    `provisioning.ok` true; the placeholder's data is still in /data/edge/unprovisioned.
# Every boot ends with a clean ACPI power-off. Exit 0 only if all of it happened. Needs root.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=testlib.sh
. "$here/testlib.sh"

[ $# -eq 1 ] || die "usage: images/test-provision.sh IMAGE"
image=$1
[ -f "$image" ] || die "no image at $image (build one with images/build.sh OUTPUT_DIR)"
test_init
boot_timeout=${BOOT_TIMEOUT:-420}
cp --sparse=always "$image" "$work/disk.img"

# boot N: boots the disk, waits for health and the provision-check line; sets $health, $line.
boot() {
    local c="$work/console-$1.log"
    start_vm "$c" -no-reboot
    wait_health "$boot_timeout"
    line=$(wait_console "$c" 'edge-provision: ' 60)
    line=${line#*edge-provision: }
}

# ------------------------------------------------------------------ 1. not provisioned
boot 1
say "console: $line"
grep -q '^NOT PROVISIONED: .*edge-image provision' <<<"$line" || die "console: $line"
grep -q '"store_id":"unprovisioned"' <<<"$health" || die "health: $health"
grep -q '"ok":false,"state":"not_provisioned"' <<<"$health" || die "health: $health"
grep -q 'NOT PROVISIONED' <<<"$health" || die "no message on the health endpoint: $health"
say "health: $health"
power_off "$work/console-1.log"

# ------------------------------------------------------------------ 2. provisioned wrongly
mount_part "$work/disk.img" 5 "$work/data"
mkdir -p "$work/data/config/edge.toml.d"
printf 'store_id = "store-0042"\n\n[mqtt]\nulr = "mqtt://10.0.2.2:1883"\n' \
    >"$work/data/config/edge.toml.d/50-provision.toml"
unmount_part
boot 2
say "console: $line"
grep -q '^PROVISIONING INVALID: .*50-provision.toml.*mqtt.ulr' <<<"$line" || die "console: $line"
grep -q 'starts offline as store store-0042' <<<"$line" || die "console: $line"
grep -q '"store_id":"store-0042"' <<<"$health" || die "health: $health"
grep -q '"ok":false,"state":"invalid"' <<<"$health" || die "health: $health"
grep -q 'mqtt.ulr' <<<"$health" || die "the key is not named on the health endpoint: $health"
say "health: $health"
power_off "$work/console-2.log"

# ------------------------------------------------------------------ 3. provisioned correctly
cat >"$work/provision.toml" <<EOF
store_id = "store-0042"

[devices]
simulate = false
EOF
mount_part "$work/disk.img" 5 "$work/data"
"$agent_bin" provision --file "$work/provision.toml" --data-dir "$work/data" | sed 's/^/    /'
unmount_part
boot 3
say "console: $line"
[ "$line" = "provisioned: store store-0042" ] || die "console: $line"
grep -q '"store_id":"store-0042"' <<<"$health" || die "health: $health"
grep -q '"ok":true,"state":"provisioned"' <<<"$health" || die "health: $health"
say "health: $health"
power_off "$work/console-3.log"
mount_part "$work/disk.img" 5 "$work/data"
[ -d "$work/data/edge/unprovisioned/sled" ] \
    || die "the placeholder store's data is not in /data/edge/unprovisioned"
[ ! -e "$work/data/config/edge.toml.d/20-unprovisioned-data.toml" ] \
    || die "the unprovisioned drop-in is still there"
unmount_part
say "PASS: not provisioned, provisioned wrongly and provisioned: each said on the console and" \
    "on /v1/health; healthy as the store once provisioned; total $(($(date +%s) - t0))s"
