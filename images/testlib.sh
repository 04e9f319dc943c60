# shellcheck shell=bash
# Variables this file sets for its callers (token, watchdog, health, api_port...) and those the
# callers set for it (here) are checked where the callers source it.
# shellcheck disable=SC2034,SC2154
# Shared by test-boot.sh and test-update.sh (sourced, not run): preparing a provisioned copy of
# an image, running it in QEMU under software emulation, and cleaning up on every exit path.
# The caller sets `set -euo pipefail` and `here` (the images/ directory).

t0=$(date +%s)
die() { echo "${0##*/}: FAIL: $*" >&2; exit 1; }
say() { printf '%s: [%4ds] %s\n' "${0##*/}" "$(($(date +%s) - t0))" "$*"; }

# Checks root, tools and binaries; sets repo, target, daemon_bin, agent_bin, sim_bin, work.
test_init() {
    [ "$(id -u)" -eq 0 ] || die "must run as root (the data partition is set up via a loop mount)"
    local tool b
    for tool in qemu-system-x86_64 curl losetup mount e2fsck python3 sfdisk; do
        command -v "$tool" >/dev/null || die "$tool not found"
    done
    repo=$(cd "$here/.." && pwd)
    target=${CARGO_TARGET_DIR:-$repo/target}
    daemon_bin=${DAEMON_BIN:-$target/release/edge-daemon}
    agent_bin=${IMAGE_TOOL_BIN:-$target/release/edge-image}
    sim_bin=${SIM_PRINTER_BIN:-$target/release/examples/sim_printer}
    ensure_built "$sim_bin" -p edge-image --example sim_printer
    for b in "$daemon_bin" "$agent_bin"; do [ -x "$b" ] || die "no binary $b"; done
    work=$(mktemp -d /tmp/edge-test.XXXXXX)
    trap test_cleanup EXIT
    trap 'exit 130' INT TERM
}

# ensure_built BIN CARGO_ARGS...: builds BIN with `cargo build --release CARGO_ARGS` in the
# repository when it is not there yet.
ensure_built() {
    local bin=$1
    shift
    [ -x "$bin" ] || (cd "$repo" && CARGO_TARGET_DIR=$target cargo build --release "$@")
    [ -x "$bin" ] || die "no binary $bin"
}

loopdev=""
mounted=""
qemu_pid=""
sim_pid=""
host_pid=""
extra_cleanup=""  # a function of the caller's, run on every exit path
test_cleanup() {
    local rc=$?
    set +e
    [ -n "$qemu_pid" ] && kill "$qemu_pid" 2>/dev/null && wait "$qemu_pid" 2>/dev/null
    [ -n "$sim_pid" ] && kill "$sim_pid" 2>/dev/null && wait "$sim_pid" 2>/dev/null
    [ -n "$host_pid" ] && kill "$host_pid" 2>/dev/null && wait "$host_pid" 2>/dev/null
    [ -n "$extra_cleanup" ] && "$extra_cleanup"
    [ -n "$mounted" ] && umount "$mounted"
    [ -n "$loopdev" ] && losetup -d "$loopdev"
    if [ "${KEEP_WORK:-0}" = 1 ] || [ $rc -ne 0 ]; then
        rm -f "$work"/*.img "$work"/*.ext4
        rm -rf "$work"/bundle-*
        echo "${0##*/}: logs kept in $work"
    else
        rm -rf "$work"
    fi
    exit $rc
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

# mount_part IMAGE N DIR: mounts partition N of IMAGE through a plain loop device at its
# offset (partition scanning is not available everywhere).
mount_part() {
    local start size
    read -r start size < <("$here/part-offset.sh" "$1" "$2") || die "no partition $2 in $1"
    loopdev=$(losetup -f --show --offset "$start" --sizelimit "$size" "$1")
    mkdir -p "$3"
    mount "$loopdev" "$3"
    mounted=$3
}

unmount_part() {
    umount "$mounted"
    mounted=""
    losetup -d "$loopdev"
    loopdev=""
}

# provision_copy IMAGE STORE PROVISION_FILE: copies IMAGE to $work/disk.img, provisions its data
# partition with edge-image and issues a technician token into $token. The store is created by
# running the daemon once on the host against the mounted partition; the token is issued through
# its admin socket, as a technician would on the box. Extra files: put them in $work/data-extra/
# (copied into the data partition's config/).
provision_copy() {
    local image=$1 store=$2 file=$3 host_port issued
    say "copying $image"
    cp --sparse=always "$image" "$work/disk.img"
    mount_part "$work/disk.img" 5 "$work/data"
    "$agent_bin" provision --file "$file" --data-dir "$work/data" | sed 's/^/    /'
    if [ -d "$work/data-extra" ]; then cp -r "$work/data-extra/." "$work/data/config/"; fi
    host_port=$(free_port)
    EDGE_DEVICES__SIMULATE=false "$daemon_bin" --data "$work/data/edge" --store-id "$store" \
        --listen "127.0.0.1:$host_port" --log-format text run >"$work/host-daemon.log" 2>&1 &
    host_pid=$!
    for _ in $(seq 1 100); do [ -S "$work/data/edge/admin.sock" ] && break; sleep 0.2; done
    [ -S "$work/data/edge/admin.sock" ] \
        || die "the daemon did not start on the host: $(cat "$work/host-daemon.log")"
    issued=$("$daemon_bin" --data "$work/data/edge" --store-id "$store" token issue \
        --role technician --label "${0##*/}" 2>"$work/token.err") \
        || die "cannot issue a token: $(cat "$work/token.err")"
    token=$(python3 -c 'import json, sys; print(json.loads(sys.argv[1])["token"])' "$issued") \
        || die "unexpected token issue output: $issued"
    kill -TERM "$host_pid"
    wait "$host_pid" || die "the host daemon did not stop cleanly: $(cat "$work/host-daemon.log")"
    host_pid=""
    chown -R 990:990 "$work/data/edge"
    unmount_part
}

# start_vm CONSOLE_LOG [QEMU ARGS...]: boots $work/disk.img (BIOS, tcg) with the daemon's port
# forwarded to 127.0.0.1:$api_port (chosen here) and an i6300ESB watchdog, which systemd drives.
start_vm() {
    local console=$1
    shift
    api_port=$(free_port)
    qemu-system-x86_64 -accel tcg -machine q35 -m 1024 -smp 2 \
        -drive "file=$work/disk.img,format=raw,if=none,id=disk0" \
        -device virtio-blk-pci,drive=disk0,bootindex=0 \
        -netdev "user,id=net0,hostfwd=tcp:127.0.0.1:$api_port-:8080" \
        -device virtio-net-pci,netdev=net0 -device i6300esb \
        -display none -serial "file:$console" \
        -monitor "unix:$work/monitor.sock,server,nowait" "$@" &
    qemu_pid=$!
    say "QEMU started (tcg), API forwarded to 127.0.0.1:$api_port"
}

# wait_health SECONDS: waits for GET /v1/health = 200 "ok"; sets $health.
wait_health() {
    local until=$(($(date +%s) + $1))
    while :; do
        kill -0 "$qemu_pid" 2>/dev/null || { qemu_pid=""; die "QEMU exited during boot"; }
        if health=$(curl -sf --max-time 5 "http://127.0.0.1:$api_port/v1/health" 2>/dev/null)
        then
            grep -q '"status":"ok"' <<<"$health" || die "health is not ok: $health"
            return 0
        fi
        [ "$(date +%s)" -lt "$until" ] || die "no healthy /v1/health within $1 s"
        sleep 3
    done
}

# wait_console FILE PATTERN SECONDS: waits for an extended regular expression in the console
# log; prints the matching line.
wait_console() {
    local until=$(($(date +%s) + $3))
    while :; do
        if grep -aEm1 "$2" "$1" 2>/dev/null | tr -d '\r'; then return 0; fi
        kill -0 "$qemu_pid" 2>/dev/null || { qemu_pid=""; die "QEMU exited waiting for $2"; }
        [ "$(date +%s)" -lt "$until" ] || die "no console line matching $2 within $3 s"
        sleep 2
    done
}

# monitor COMMAND: runs one command on the running VM's QEMU monitor; prints what it answered.
monitor() {
    python3 - "$work/monitor.sock" "$1" <<'PY'
import socket, sys, time
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.settimeout(1)
def until_prompt():
    out, end = b"", time.time() + 10
    while b"(qemu)" not in out and time.time() < end:
        try:
            out += s.recv(65536)
        except socket.timeout:
            pass
    return out.decode(errors="replace")
until_prompt()
s.sendall(sys.argv[2].encode() + b"\n")
print(until_prompt().replace("\r", ""))
s.close()
PY
}

# power_off CONSOLE_LOG: ACPI power button; checks systemd powered off, QEMU exited 0 and the
# data file system was left clean.
power_off() {
    monitor system_powerdown >/dev/null
    for _ in $(seq 1 120); do kill -0 "$qemu_pid" 2>/dev/null || break; sleep 1; done
    kill -0 "$qemu_pid" 2>/dev/null && die "VM still running 120 s after the power-off request"
    wait "$qemu_pid" || { qemu_pid=""; die "QEMU exited with an error"; }
    qemu_pid=""
    grep -aq 'reboot: Power down' "$1" \
        || die "no clean power-down on the console: $(tail -n 20 "$1")"
    check_data_clean
}

# disk_written: bytes the running VM has written to its disk so far (QEMU's block statistics),
# whether or not the disk file grows.
disk_written() {
    local n
    n=$(monitor "info blockstats" | sed -nE 's/^disk0: .*wr_bytes=([0-9]+).*/\1/p')
    [ -n "$n" ] || die "no block statistics for disk0 from the QEMU monitor"
    echo "$n"
}

# check_data_clean: the data file system was unmounted cleanly.
check_data_clean() {
    local start size out
    read -r start size < <("$here/part-offset.sh" "$work/disk.img" 5)
    loopdev=$(losetup -f --show --offset "$start" --sizelimit "$size" "$work/disk.img")
    out=$(e2fsck -n "$loopdev" 2>&1) || die "data file system not clean: $out"
    losetup -d "$loopdev"
    loopdev=""
    grep -q 'clean' <<<"$out" || die "data file system was not unmounted cleanly: $out"
}

# check_watchdog: after a power-off, the box's journal on the data partition shows that systemd
# drove the hardware watchdog during the last boot; sets $watchdog to the line.
check_watchdog() {
    local journal
    mount_part "$work/disk.img" 5 "$work/data"
    journal=$(journalctl --directory="$work/data/journal" -b 0 -o cat 2>&1) || journal=""
    unmount_part
    watchdog=$(grep -aiE 'using hardware watchdog' <<<"$journal") \
        || die "systemd did not use the hardware watchdog (not in the box's journal)"
}
