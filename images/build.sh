#!/usr/bin/env bash
# Builds the x86-64 store-box disk image from the recipe in images/recipe/.
#
#   images/build.sh OUTPUT_DIR
#
# Writes OUTPUT_DIR/edge-box.img (raw GPT disk: BIOS GRUB, boot, root-a, root-b, data),
# OUTPUT_DIR/rootfs.ext4 (the root slot image that update bundles carry) and SHA256SUMS.
# Needs root (debootstrap, chroot, a loop mount), about 3.5 GiB free in OUTPUT_DIR (sparse
# files: about 2 GiB used) and 3-7 minutes. See images/README.md.
#
# Environment:
#   DAEMON_BIN       edge-daemon binary to install (default: build it with cargo --release)
#   IMAGE_TOOL_BIN   edge-image binary (update agent) to install (default: build it)
#   CARGO_TARGET_DIR where cargo builds (default: the workspace's target/)
#   WORK_DIR         scratch directory (default: OUTPUT_DIR/work); the debootstrap result is
#                    cached there by package list, so a rebuild skips the download
#   EXTRA_CMDLINE    appended to the kernel command line (default: "quiet")
#   UPDATE_PUBKEY    ed25519 public key file (edge-image keygen) the box trusts for updates
#   IMAGE_VERSION    version written to /etc/edge/image-version (default: git describe)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
recipe="$here/recipe"

die() { echo "build.sh: error: $*" >&2; exit 1; }

[ $# -eq 1 ] || die "usage: images/build.sh OUTPUT_DIR"
[ "$(id -u)" -eq 0 ] || die "must run as root (debootstrap, chroot, a loop mount)"
for tool in debootstrap sfdisk mkfs.ext4 e2fsck chroot sha256sum tar losetup mount; do
    command -v "$tool" >/dev/null \
        || die "$tool not found; install Debian's debootstrap fdisk mount e2fsprogs coreutils"
done

out=$(mkdir -p "$1" && cd "$1" && pwd)
work=${WORK_DIR:-$out/work}
mkdir -p "$work"
# shellcheck source=recipe/layout.env
. "$recipe/layout.env"
cmdline_extra=${EXTRA_CMDLINE-quiet}

# ---------------------------------------------------------------- progress display
steps=9
step=0
t0=$(date +%s)
progress() {
    step=$((step + 1))
    printf '\n[%d/%d] %s  (%ds elapsed)\n' "$step" "$steps" "$*" "$(($(date +%s) - t0))"
}

# ---------------------------------------------------------------- cleanup on every exit path
# Only step 7 mounts (the boot partition, through a loop device); a failed build leaves no
# mount, no loop device and no half-made image behind.
loopdev=""
mounted=""
cleanup() {
    local rc=$?
    set +e
    if [ -n "$mounted" ]; then umount "$mounted" || umount -l "$mounted"; fi
    if [ -n "$loopdev" ]; then losetup -d "$loopdev"; fi
    if [ $rc -ne 0 ]; then
        rm -f "$out/edge-box.img.tmp"
        echo "build.sh: FAILED at step $step/$steps (exit $rc)" >&2
    fi
    exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- 1. debootstrap (cached)
progress "debootstrap Debian bookworm (minbase + recipe/packages*.txt)"
# The mirror is the one this machine's apt uses; no mirror is written into the recipe.
mirror=${DEBIAN_MIRROR:-}
if [ -z "$mirror" ]; then
    mirror=$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null \
        | awk '/^URIs:/ {print $2}' | grep -v -- '-security' | head -n1 || true)
fi
if [ -z "$mirror" ]; then
    mirror=$(grep -hE '^deb ' /etc/apt/sources.list 2>/dev/null \
        | awk '{print $2}' | grep -v -- '-security' | head -n1 || true)
fi
[ -n "$mirror" ] || die "cannot find a Debian mirror in /etc/apt/sources*; set DEBIAN_MIRROR"
packages=$(cat "$recipe/packages.txt" "$recipe/packages-amd64.txt" | sed 's/#.*//' \
    | tr -s ' \n' '\n' | grep -v '^$' | sort -u | paste -sd, -)
key=$(echo "$packages" | sha256sum | cut -c1-12)
base_tar="$work/base-bookworm-amd64-$key.tar"
if [ -f "$base_tar" ]; then
    echo "using cached base $base_tar"
else
    rm -rf "$work/debootstrap"
    echo "mirror from apt sources; packages: $packages"
    debootstrap --arch=amd64 --variant=minbase --include="$packages" bookworm \
        "$work/debootstrap" "$mirror" >"$work/debootstrap.log" 2>&1 \
        || die "debootstrap failed; see $work/debootstrap.log"
    tar -C "$work/debootstrap" -cf "$base_tar.tmp" .
    mv "$base_tar.tmp" "$base_tar"
    rm -rf "$work/debootstrap"
fi

# ---------------------------------------------------------------- 2. binaries
progress "binaries: edge-daemon and edge-image (update agent, flashing, provisioning)"
target=${CARGO_TARGET_DIR:-$repo/target}
daemon_bin=${DAEMON_BIN:-$target/release/edge-daemon}
agent_bin=${IMAGE_TOOL_BIN:-$target/release/edge-image}
for pkg in edge-daemon edge-image; do
    bin=$daemon_bin
    [ "$pkg" = edge-image ] && bin=$agent_bin
    if [ ! -x "$bin" ]; then
        echo "building $pkg with cargo (release) into $target"
        (cd "$repo" && CARGO_TARGET_DIR=$target cargo build --release -p "$pkg")
    fi
done
[ -x "$daemon_bin" ] || die "no edge-daemon binary at $daemon_bin"
[ -x "$agent_bin" ] || die "no edge-image binary at $agent_bin"

# ---------------------------------------------------------------- 3. configure the root fs
progress "configure the root file system (overlay, users, services)"
rootfs="$work/rootfs"
rm -rf "$rootfs"
mkdir -p "$rootfs"
tar -C "$rootfs" -xf "$base_tar"
cp -a "$recipe/overlay/." "$rootfs/"
install -m 0755 "$daemon_bin" "$rootfs/usr/bin/edge-daemon"
install -m 0755 "$agent_bin" "$rootfs/usr/bin/edge-image"
mkdir -p "$rootfs/usr/share/doc/edge" "$rootfs/data" "$rootfs/boot/shared" \
    "$rootfs/var/log/journal"
cp "$here/README.md" "$rootfs/usr/share/doc/edge/README.md"
# Provisioned configuration is on the data partition.
rm -rf "$rootfs/etc/edge/edge.toml.d"
ln -s /data/config/edge.toml.d "$rootfs/etc/edge/edge.toml.d"
ln -sf ../run/systemd/resolve/stub-resolv.conf "$rootfs/etc/resolv.conf"
# An empty machine-id: systemd generates one per boot on the read-only root.
: >"$rootfs/etc/machine-id"
rm -f "$rootfs/var/lib/dbus/machine-id"
version=${IMAGE_VERSION:-$(cd "$repo" && git describe --always --dirty 2>/dev/null || echo unknown)}
echo "$version" >"$rootfs/etc/edge/image-version"
if [ -n "${UPDATE_PUBKEY:-}" ]; then
    install -m 0644 "$UPDATE_PUBKEY" "$rootfs/etc/edge/update.pub"
elif [ ! -f "$rootfs/etc/edge/update.pub" ]; then
    echo "WARNING: no UPDATE_PUBKEY and no recipe/overlay/etc/edge/update.pub:" \
        "this image refuses every update bundle"
fi
chroot "$rootfs" /bin/sh -euc '
    groupadd --system --gid 990 edge
    useradd --system --uid 990 --gid edge --home-dir /data/edge --no-create-home \
        --shell /usr/sbin/nologin edge
    # No remote shell is installed, and no local login either: root has no password.
    passwd --lock root >/dev/null
    systemctl enable systemd-networkd systemd-resolved systemd-timesyncd \
        edge-provision edge-update-data edge-daemon edge-update-check edge-update-media \
        >/dev/null 2>&1
    systemctl mask getty@tty1.service serial-getty@ttyS0.service >/dev/null 2>&1
    update-initramfs -u -k all >/dev/null
'
[ -e "$rootfs/vmlinuz" ] && [ -e "$rootfs/initrd.img" ] \
    || die "the kernel or initrd link is missing in the root file system"
# /var/lib/systemd is bind-mounted from the data partition; its build-time contents seed it.
cp -a "$rootfs/var/lib/systemd" "$work/seed-systemd"
rm -rf "$rootfs/var/cache/apt/archives"/*.deb "$rootfs/var/lib/apt/lists"/*

# ---------------------------------------------------------------- 4. partition the disk
# No loop device partitions are used (some kernels, this CI's among them, do not scan them):
# each file system is made in a file and copied to its partition's offset, and GRUB is set up
# on the image file itself.
progress "partition the disk image (GPT: bios, boot, root-a, root-b, data)"
img="$out/edge-box.img.tmp"
rm -f "$img"
total=$((1 + BIOS_MIB + BOOT_MIB + 2 * ROOT_MIB + DATA_MIB + 1))
truncate -s "${total}M" "$img"
sfdisk --quiet --label gpt "$img" <<EOF
size=${BIOS_MIB}MiB, type=21686148-6449-6E6F-744E-656564454649, name=bios
size=${BOOT_MIB}MiB, type=0FC63DAF-8483-4772-8E3D-7D4D8E3D3E9E, name=boot
size=${ROOT_MIB}MiB, type=4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709, name=root-a, uuid=$PARTUUID_ROOT_A
size=${ROOT_MIB}MiB, type=4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709, name=root-b, uuid=$PARTUUID_ROOT_B
size=${DATA_MIB}MiB, type=0FC63DAF-8483-4772-8E3D-7D4D8E3D3E9E, name=data
EOF
# put_fs FILE N: copies a file system image into partition N, checking that it fits.
put_fs() {
    local file=$1 n=$2 start size
    read -r start size < <("$here/part-offset.sh" "$img" "$n")
    [ "$(stat -c %s "$file")" -le "$size" ] || die "$file does not fit partition $n"
    dd if="$file" of="$img" bs=1M seek="$start" oflag=seek_bytes conv=notrunc,sparse \
        status=none
}

# ---------------------------------------------------------------- 5. root slot image
progress "root slot image rootfs.ext4 ($ROOT_MIB MiB, read-only at run time)"
rm -f "$out/rootfs.ext4"
mkfs.ext4 -q -F -L root -d "$rootfs" "$out/rootfs.ext4" "${ROOT_MIB}M"
echo "writing it into root-a and root-b"
put_fs "$out/rootfs.ext4" 3
put_fs "$out/rootfs.ext4" 4

# ---------------------------------------------------------------- 6. data partition
progress "data partition (sled, configuration, journal, systemd state)"
seed="$work/data-seed"
rm -rf "$seed"
mkdir -p "$seed/edge" "$seed/config/edge.toml.d" "$seed/config/certs" "$seed/journal" \
    "$seed/update"
cp -a "$work/seed-systemd" "$seed/systemd"
chown -R 990:990 "$seed/edge"
rm -f "$work/data.ext4"
mkfs.ext4 -q -F -L data -d "$seed" "$work/data.ext4" "${DATA_MIB}M"
put_fs "$work/data.ext4" 5

# ---------------------------------------------------------------- 7. boot loader
progress "boot partition and GRUB (BIOS, i386-pc) with the A/B environment"
bootseed="$work/boot-seed"
rm -rf "$bootseed"
mkdir -p "$bootseed/grub/i386-pc"
grubdir="$rootfs/usr/lib/grub/i386-pc"
cp "$grubdir"/*.mod "$grubdir"/*.lst "$bootseed/grub/i386-pc/"
sed -e "s/@PARTUUID_ROOT_A@/$PARTUUID_ROOT_A/" -e "s/@PARTUUID_ROOT_B@/$PARTUUID_ROOT_B/" \
    -e "s/@EXTRA_CMDLINE@/$cmdline_extra/" "$recipe/grub.cfg" >"$bootseed/grub/grub.cfg"
"$rootfs/usr/bin/grub-editenv" "$bootseed/grub/grubenv" create
"$rootfs/usr/bin/grub-editenv" "$bootseed/grub/grubenv" set active_slot=a pending_slot= \
    boot_tries=0
# The core image finds its modules, grub.cfg and grubenv on partition 2 of the first disk.
"$rootfs/usr/bin/grub-mkimage" -O i386-pc -d "$grubdir" -p "(hd0,gpt2)/grub" \
    -o "$work/core.img" biosdisk part_gpt ext2 loadenv normal configfile linux search test \
    echo serial terminal
cp "$work/core.img" "$grubdir/boot.img" "$bootseed/grub/i386-pc/"
rm -f "$work/boot.ext4"
# GRUB's save_env rewrites grubenv's blocks in place; no metadata checksums get in the way.
mkfs.ext4 -q -F -L boot -O ^metadata_csum -d "$bootseed" "$work/boot.ext4" "${BOOT_MIB}M"
put_fs "$work/boot.ext4" 2
# grub-bios-setup writes boot.img into the MBR and core.img into the BIOS boot partition. It
# insists on finding the file system of its -d directory in the device map, so the boot
# partition is loop-mounted (a plain loop device at the partition's offset) and listed as hd1.
read -r boot_start boot_size < <("$here/part-offset.sh" "$img" 2)
loopdev=$(losetup -f --show --offset "$boot_start" --sizelimit "$boot_size" "$img")
mkdir -p "$work/boot-mnt"
mount "$loopdev" "$work/boot-mnt"
mounted="$work/boot-mnt"
printf '(hd0) %s\n(hd1) %s\n' "$img" "$loopdev" >"$work/device.map"
"$grubdir/grub-bios-setup" -d "$work/boot-mnt/grub/i386-pc" -m "$work/device.map" -s "$img" \
    >"$work/grub-setup.log" 2>&1 || die "grub-bios-setup failed; see $work/grub-setup.log"
umount "$work/boot-mnt"
mounted=""
losetup -d "$loopdev"
loopdev=""

# ---------------------------------------------------------------- 8. check
progress "check the file systems"
for f in "$work/boot.ext4" "$out/rootfs.ext4" "$work/data.ext4"; do
    e2fsck -fn "$f" >/dev/null || die "e2fsck found errors in $f"
done
mv "$img" "$out/edge-box.img"
rm -f "$work/boot.ext4" "$work/data.ext4"

# ---------------------------------------------------------------- 9. checksums
progress "checksums"
(cd "$out" && sha256sum edge-box.img rootfs.ext4 >SHA256SUMS)
echo "$version" >"$out/VERSION"
rm -rf "$rootfs"
printf '\ndone in %ds: %s (%s)\n' "$(($(date +%s) - t0))" "$out/edge-box.img" "$version"
