#!/usr/bin/env bash
# Builds the ffmpeg Lambda layer: bin/ffmpeg + bin/ffprobe (static builds) and
# fonts/DejaVuSans.ttf + fonts/LICENSE-DejaVu (for text watermarks), see README.md.
#
#   build.sh fetch ARCH              download the pinned archives into .cache/ and verify them
#   build.sh layer ARCH DEST         fetch, then write DEST/bin/{ffmpeg,ffprobe} and DEST/fonts/*
#   build.sh zip   ARCH SRC ZIPFILE  zip the layer files of SRC into ZIPFILE (deterministic)
#   build.sh check ARCH DIR [ZIP]    verify DIR/bin/*, DIR/fonts/* (and the zip, when given)
#
# ARCH is arm64 (Lambda's Graviton, the default of the Makefile) or x86_64.
# Sources are package registries only: PyPI (pip download) and npm (npm pack). Every archive
# must match its pinned sha256 in checksums.sha256, otherwise the build stops.
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
CACHE="${FFMPEG_LAYER_CACHE:-$HERE/.cache}"
CHECKSUMS="$HERE/checksums.sha256"

# Pinned versions. Changing one means updating checksums.sha256 (see README.md).
IMAGEIO_FFMPEG_VERSION="0.6.0"   # wheel with a static ffmpeg 7.0.2 (johnvansickle build)
FFMPEG_BINARY_VERSION="7.0.2"    # name of the binary inside that wheel
FFPROBE_NPM_VERSION="5.2.0"      # @ffprobe-installer/linux-{arm64,x64}
DEJAVU_NPM_VERSION="2.37.3"      # dejavu-fonts-ttf: DejaVu Sans for text watermarks (any ARCH)

FONT_PKG="dejavu-fonts-ttf"
FONT_TGZ="dejavu-fonts-ttf-$DEJAVU_NPM_VERSION.tgz"
FONT_MEMBER="package/ttf/DejaVuSans.ttf"
FONT_LICENSE_MEMBER="package/LICENSE"
# Files of the layer (paths under /opt once deployed) and their modes in the zip.
LAYER_FILES=(bin/ffmpeg bin/ffprobe fonts/DejaVuSans.ttf fonts/LICENSE-DejaVu)

PYTHON="${PYTHON:-python3}"
NPM="${NPM:-npm}"

die() { echo "build.sh: ERROR: $*" >&2; exit 1; }
TMP_DIRS=()
cleanup() { [ ${#TMP_DIRS[@]} -eq 0 ] || rm -rf "${TMP_DIRS[@]}"; }
trap cleanup EXIT
log() { echo "build.sh: $*" >&2; }

# ---------------------------------------------------------------------------------------------
# per-architecture names
set_arch() {
    case "${1:-}" in
        arm64 | aarch64)
            ARCH=arm64
            WHEEL_PLATFORM=manylinux2014_aarch64
            FFMPEG_MEMBER="imageio_ffmpeg/binaries/ffmpeg-linux-aarch64-v$FFMPEG_BINARY_VERSION"
            NPM_PKG="@ffprobe-installer/linux-arm64"
            NPM_TGZ="ffprobe-installer-linux-arm64-$FFPROBE_NPM_VERSION.tgz"
            ELF_MACHINE=183 # EM_AARCH64
            ELF_NAME=aarch64
            ;;
        x86_64 | amd64 | x64)
            ARCH=x86_64
            WHEEL_PLATFORM=manylinux2014_x86_64
            FFMPEG_MEMBER="imageio_ffmpeg/binaries/ffmpeg-linux-x86_64-v$FFMPEG_BINARY_VERSION"
            NPM_PKG="@ffprobe-installer/linux-x64"
            NPM_TGZ="ffprobe-installer-linux-x64-$FFPROBE_NPM_VERSION.tgz"
            ELF_MACHINE=62 # EM_X86_64
            ELF_NAME=x86-64
            ;;
        *) die "unknown ARCH '${1:-}' (use arm64 or x86_64)" ;;
    esac
    WHEEL="imageio_ffmpeg-$IMAGEIO_FFMPEG_VERSION-py3-none-$WHEEL_PLATFORM.whl"
}

host_arch() {
    case "$(uname -m)" in
        aarch64 | arm64) echo arm64 ;;
        x86_64 | amd64) echo x86_64 ;;
        *) uname -m ;;
    esac
}

sha256_of() {
    if command -v sha256sum >/dev/null 2>&1; then
        sha256sum "$1" | cut -d' ' -f1
    elif command -v shasum >/dev/null 2>&1; then
        shasum -a 256 "$1" | cut -d' ' -f1
    else
        "$PYTHON" -c 'import hashlib,sys; print(hashlib.sha256(open(sys.argv[1],"rb").read()).hexdigest())' "$1"
    fi
}

pinned_sha256() {
    awk -v n="$1" '$2 == n { print $1 }' "$CHECKSUMS"
}

# verify FILE NAME: the file's sha256 must equal the pin for NAME
verify() {
    local file="$1" name="$2" want got
    want="$(pinned_sha256 "$name")"
    got="$(sha256_of "$file")"
    if [ -z "$want" ]; then
        echo "build.sh: NO PINNED SHA256 for $name in $CHECKSUMS (this file's sha256: $got)" >&2
        return 1
    fi
    if [ "$got" != "$want" ]; then
        {
            echo "================================================================"
            echo "build.sh: CHECKSUM MISMATCH for $name"
            echo "  expected $want (checksums.sha256)"
            echo "  got      $got"
            echo "  file     $file"
            echo "================================================================"
        } >&2
        return 1
    fi
}

# ---------------------------------------------------------------------------------------------
# fetch: .cache/<archive>, downloaded through the registries' own clients, then verified
# fetch_one NAME pip | NAME npm PACKAGE VERSION
fetch_one() {
    local name="$1" how="$2" pkg="${3:-}" version="${4:-}" tmp
    if [ -f "$CACHE/$name" ]; then
        verify "$CACHE/$name" "$name" ||
            die "cached $CACHE/$name does not match its pin; delete it (or run 'make distclean') to download it again"
        log "ok (cached, sha256 verified): $name"
        return
    fi
    mkdir -p "$CACHE"
    tmp="$(mktemp -d "$CACHE/.download.XXXXXX")"
    TMP_DIRS+=("$tmp")
    case "$how" in
        pip)
            log "pip download imageio-ffmpeg==$IMAGEIO_FFMPEG_VERSION ($WHEEL_PLATFORM)"
            "$PYTHON" -m pip download --quiet --disable-pip-version-check --no-deps \
                --only-binary=:all: --platform "$WHEEL_PLATFORM" \
                --dest "$tmp" "imageio-ffmpeg==$IMAGEIO_FFMPEG_VERSION" >&2 ||
                die "pip download of imageio-ffmpeg==$IMAGEIO_FFMPEG_VERSION failed"
            ;;
        npm)
            command -v "$NPM" >/dev/null 2>&1 || die "npm is needed to download $pkg (install Node.js/npm)"
            log "npm pack $pkg@$version"
            (cd "$tmp" && "$NPM" pack --silent "$pkg@$version" >/dev/null) ||
                die "npm pack of $pkg@$version failed"
            ;;
    esac
    [ -f "$tmp/$name" ] || die "download did not produce $name (got: $(ls "$tmp"))"
    if ! verify "$tmp/$name" "$name"; then
        mv -f "$tmp/$name" "$CACHE/$name.rejected"
        die "refusing to use $name; the download is kept as $CACHE/$name.rejected"
    fi
    mv -f "$tmp/$name" "$CACHE/$name"
    rm -rf "$tmp"
    log "ok (downloaded, sha256 verified): $name"
}

cmd_fetch() {
    fetch_one "$WHEEL" pip
    fetch_one "$NPM_TGZ" npm "$NPM_PKG" "$FFPROBE_NPM_VERSION"
    fetch_one "$FONT_TGZ" npm "$FONT_PKG" "$DEJAVU_NPM_VERSION"
}

# ---------------------------------------------------------------------------------------------
# layer: DEST/bin/ffmpeg, DEST/bin/ffprobe, DEST/fonts/DejaVuSans.ttf, DEST/fonts/LICENSE-DejaVu
cmd_layer() {
    local dest="$1"
    cmd_fetch
    mkdir -p "$dest/bin" "$dest/fonts"
    rm -f "$dest/bin/.ffmpeg.tmp" "$dest/bin/.ffprobe.tmp" "$dest/fonts/.font.tmp" "$dest/fonts/.license.tmp"
    "$PYTHON" - "$CACHE/$WHEEL" "$FFMPEG_MEMBER" "$dest/bin/.ffmpeg.tmp" <<'PY'
import shutil, sys, zipfile
wheel, member, out = sys.argv[1:]
with zipfile.ZipFile(wheel) as z, z.open(member) as src, open(out, "wb") as dst:
    shutil.copyfileobj(src, dst, 1 << 20)
PY
    tar -xzf "$CACHE/$NPM_TGZ" -O package/ffprobe >"$dest/bin/.ffprobe.tmp"
    chmod 0755 "$dest/bin/.ffmpeg.tmp" "$dest/bin/.ffprobe.tmp"
    mv -f "$dest/bin/.ffmpeg.tmp" "$dest/bin/ffmpeg"
    mv -f "$dest/bin/.ffprobe.tmp" "$dest/bin/ffprobe"
    tar -xzf "$CACHE/$FONT_TGZ" -O "$FONT_MEMBER" >"$dest/fonts/.font.tmp"
    tar -xzf "$CACHE/$FONT_TGZ" -O "$FONT_LICENSE_MEMBER" >"$dest/fonts/.license.tmp"
    chmod 0644 "$dest/fonts/.font.tmp" "$dest/fonts/.license.tmp"
    mv -f "$dest/fonts/.font.tmp" "$dest/fonts/DejaVuSans.ttf"
    mv -f "$dest/fonts/.license.tmp" "$dest/fonts/LICENSE-DejaVu"
    log "layer ($ARCH) written to $dest: bin/ffmpeg, bin/ffprobe, fonts/DejaVuSans.ttf, fonts/LICENSE-DejaVu"
}

# ---------------------------------------------------------------------------------------------
# zip: deterministic archive (fixed timestamps and modes) of LAYER_FILES only:
# bin/* mode 0755, fonts/* mode 0644
cmd_zip() {
    local src="$1" out="$2"
    [ -x "$src/bin/ffmpeg" ] && [ -x "$src/bin/ffprobe" ] || die "$src/bin/ffmpeg or ffprobe missing (run the layer step first)"
    [ -f "$src/fonts/DejaVuSans.ttf" ] && [ -f "$src/fonts/LICENSE-DejaVu" ] || die "$src/fonts/* missing (run the layer step first)"
    mkdir -p "$(dirname "$out")"
    "$PYTHON" - "$src" "$out.tmp" "${LAYER_FILES[@]}" <<'PY'
import os, sys, zipfile
src, out, names = sys.argv[1], sys.argv[2], sys.argv[3:]
with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
    for name in names:
        mode = 0o755 if name.startswith("bin/") else 0o644
        info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
        info.compress_type = zipfile.ZIP_DEFLATED
        info.create_system = 3  # unix, so that the mode below is honoured
        info.external_attr = ((0o100000 | mode) & 0xFFFF) << 16
        with open(os.path.join(src, name), "rb") as f, z.open(info, "w", force_zip64=True) as dst:
            while chunk := f.read(1 << 20):
                dst.write(chunk)
PY
    mv -f "$out.tmp" "$out"
    log "zip ($ARCH): $out ($(du -h "$out" | cut -f1))"
}

# ---------------------------------------------------------------------------------------------
# check: ELF header (machine, 64-bit, static) for both; run the binaries when ARCH is the host's
elf_check() {
    local file="$1"
    if command -v "$PYTHON" >/dev/null 2>&1; then
        "$PYTHON" - "$file" "$ELF_MACHINE" "$ELF_NAME" <<'PY'
import struct, sys
path, want_machine, want_name = sys.argv[1], int(sys.argv[2]), sys.argv[3]
with open(path, "rb") as f:
    data = f.read(1 << 16)
def fail(msg):
    sys.exit(f"build.sh: ERROR: {path}: {msg}")
if data[:4] != b"\x7fELF":
    fail("not an ELF file")
if data[4] != 2 or data[5] != 1:
    fail("not a 64-bit little-endian ELF")
e_type, e_machine = struct.unpack_from("<HH", data, 16)
if e_machine != want_machine:
    fail(f"ELF machine {e_machine}, expected {want_machine} ({want_name})")
if e_type not in (2, 3):
    fail(f"ELF type {e_type} is not an executable")
e_phoff, = struct.unpack_from("<Q", data, 32)
e_phentsize, e_phnum = struct.unpack_from("<HH", data, 54)
if e_phoff + e_phnum * e_phentsize > len(data):
    with open(path, "rb") as f:
        data = f.read(e_phoff + e_phnum * e_phentsize)
types = [struct.unpack_from("<I", data, e_phoff + i * e_phentsize)[0] for i in range(e_phnum)]
if 3 in types:  # PT_INTERP
    fail("dynamically linked (has a PT_INTERP program header)")
if 2 in types:  # PT_DYNAMIC
    fail("has a PT_DYNAMIC program header: not fully static")
print(f"build.sh: {path}: ELF 64-bit LSB, {want_name}, statically linked", file=sys.stderr)
PY
    elif command -v readelf >/dev/null 2>&1; then
        local machine
        machine="$(readelf -h "$file" | awk -F: '/Machine:/ { gsub(/^ +/, "", $2); print $2 }')"
        case "$ELF_NAME:$machine" in
            aarch64:AArch64 | x86-64:"Advanced Micro Devices X86-64") ;;
            *) die "$file: ELF machine '$machine', expected $ELF_NAME" ;;
        esac
        readelf -h "$file" | grep -q 'Class:.*ELF64' || die "$file: not ELF64"
        if readelf -l "$file" | grep -Eq '^ +(INTERP|DYNAMIC) '; then die "$file: not statically linked"; fi
        log "$file: ELF 64-bit, $ELF_NAME, statically linked (readelf)"
    else
        die "need python3 or readelf to check $file"
    fi
}

# font_check FILE: a TrueType font (sfnt version 00 01 00 00) with the tables text rendering needs
font_check() {
    local file="$1" magic
    [ -f "$file" ] || die "$file missing"
    [ -s "$file" ] || die "$file is empty"
    magic="$(od -An -tx1 -N4 "$file" | tr -d ' \n')"
    [ "$magic" = "00010000" ] || die "$file is not a TrueType font (starts with '$magic', expected 00010000)"
    "$PYTHON" - "$file" <<'PY'
import struct, sys
path = sys.argv[1]
with open(path, "rb") as f:
    data = f.read()
def fail(msg):
    sys.exit(f"build.sh: ERROR: {path}: {msg}")
num_tables, = struct.unpack_from(">H", data, 4)
if not 0 < num_tables < 100 or 12 + 16 * num_tables > len(data):
    fail(f"bad table directory ({num_tables} tables)")
tables = {}
for i in range(num_tables):
    tag, _, off, length = struct.unpack_from(">4sIII", data, 12 + 16 * i)
    if off + length > len(data):
        fail(f"table {tag!r} runs past the end of the file")
    tables[tag.decode("latin-1")] = (off, length)
missing = [t for t in ("cmap", "glyf", "head", "hhea", "hmtx", "loca", "maxp", "name") if t not in tables]
if missing:
    fail(f"TrueType tables missing: {missing}")
print(f"build.sh: {path}: TrueType font, {num_tables} tables, {len(data)} bytes", file=sys.stderr)
PY
}

# run_check BINDIR [EMULATOR]: -version of both, encode a clip with ffmpeg and probe it, then
# overlay a PNG on a clip as the watermark tasks do (mediaflow draws text watermarks into PNGs
# itself, so the build needs no drawtext filter)
run_check() {
    local bin="$1" emu="${2:-}" tmp out
    log "running ffmpeg -version and ffprobe -version from $bin${emu:+ under $emu}"
    out="$(env -i $emu "$bin/ffmpeg" -version)" || die "$bin/ffmpeg -version failed"
    printf '%s\n' "${out%%$'\n'*}"
    if grep -q -- '--enable-gpl' <<<"$out"; then log "note: this ffmpeg is a GPL build (--enable-gpl), see README.md"; fi
    out="$(env -i $emu "$bin/ffprobe" -version)" || die "$bin/ffprobe -version failed"
    printf '%s\n' "${out%%$'\n'*}"
    # a tiny end-to-end run: encode one second of test pattern with libx264, probe it back
    tmp="$(mktemp -d)"
    TMP_DIRS+=("$tmp")
    env -i $emu "$bin/ffmpeg" -nostdin -hide_banner -loglevel error -f lavfi -i testsrc=size=128x72:rate=10 \
        -t 1 -c:v libx264 -pix_fmt yuv420p "$tmp/t.mp4" || die "ffmpeg could not encode a test clip"
    out="$(env -i $emu "$bin/ffprobe" -v error -select_streams v:0 -show_entries stream=codec_name,width,height \
        -of csv=p=0 "$tmp/t.mp4")" || die "ffprobe could not read the test clip"
    [ "$out" = "h264,128,72" ] || die "unexpected ffprobe output for the test clip: '$out'"
    log "encode/probe round trip ok ($out)"
    env -i $emu "$bin/ffmpeg" -nostdin -hide_banner -loglevel error -f lavfi -i color=c=white@0.5:size=16x16,format=rgba \
        -frames:v 1 -f image2 -update 1 "$tmp/mark.png" || die "ffmpeg could not write a PNG"
    env -i $emu "$bin/ffmpeg" -nostdin -hide_banner -loglevel error -protocol_whitelist file \
        -format_whitelist mov,mp4,m4a,3gp,3g2,mj2 -i "file:$tmp/t.mp4" \
        -protocol_whitelist file -f png_pipe -i "file:$tmp/mark.png" \
        -filter_complex "[1:v]format=rgba[m];[0:v:0][m]overlay=x=main_w-overlay_w-4:y=4,format=yuv420p[v]" \
        -map "[v]" -c:v libx264 "$tmp/w.mp4" || die "ffmpeg could not overlay a PNG watermark"
    log "PNG watermark overlay ok"
    # MPEG-TS, with the one variable the worker sets: without GCONV_PATH, static glibc loads the
    # host's iconv modules while reading a TS service table, and crashes
    env -i GCONV_PATH=/dev/null/gconv $emu "$bin/ffmpeg" -nostdin -hide_banner -loglevel error \
        -f lavfi -i testsrc=size=128x72:rate=10 -t 1 -c:v libx264 -f mpegts "$tmp/t.ts" \
        || die "ffmpeg could not write MPEG-TS"
    out="$(env -i GCONV_PATH=/dev/null/gconv $emu "$bin/ffprobe" -v error -show_entries format=format_name \
        -of csv=p=0 "$tmp/t.ts")" || die "ffprobe could not read MPEG-TS"
    [ "$out" = "mpegts" ] || die "unexpected ffprobe output for the MPEG-TS clip: '$out'"
    log "MPEG-TS round trip ok"
}

zip_check() {
    local dir="$1" zipfile="$2"
    "$PYTHON" - "$dir" "$zipfile" "${LAYER_FILES[@]}" <<'PY'
import os, sys, zipfile
d, path, names = sys.argv[1], sys.argv[2], sys.argv[3:]
def fail(msg):
    sys.exit(f"build.sh: ERROR: {path}: {msg}")
with zipfile.ZipFile(path) as z:
    infos = {i.filename: i for i in z.infolist()}
    if sorted(infos) != sorted(names):
        fail(f"unexpected entries {sorted(infos)}, expected {sorted(names)}")
    for name, i in infos.items():
        want = 0o755 if name.startswith("bin/") else 0o644
        if (i.external_attr >> 16) & 0o777 != want:
            fail(f"{name} is not mode {want:04o}")
        if i.file_size != os.path.getsize(os.path.join(d, name)):
            fail(f"{name} size differs from {d}/{name}")
    bad = z.testzip()
    if bad:
        fail(f"CRC error in {bad}")
print(f"build.sh: {path}: bin/* (0755), fonts/* (0644), CRCs ok", file=sys.stderr)
PY
}

cmd_check() {
    local dir="$1" zipfile="${2:-}" f emu
    for f in ffmpeg ffprobe; do
        [ -f "$dir/bin/$f" ] || die "$dir/bin/$f missing"
        [ -x "$dir/bin/$f" ] || die "$dir/bin/$f is not executable"
        elf_check "$dir/bin/$f"
    done
    font_check "$dir/fonts/DejaVuSans.ttf"
    [ -s "$dir/fonts/LICENSE-DejaVu" ] || die "$dir/fonts/LICENSE-DejaVu missing or empty"
    grep -q 'Bitstream Vera' "$dir/fonts/LICENSE-DejaVu" || die "$dir/fonts/LICENSE-DejaVu is not the DejaVu licence"
    if [ "$ARCH" = "$(host_arch)" ]; then
        run_check "$dir/bin" ""
    elif [ "$ARCH" = arm64 ] && emu="$(command -v qemu-aarch64-static || command -v qemu-aarch64)"; then
        # optional extra: Debian's qemu-user-static is installed
        run_check "$dir/bin" "$emu"
    else
        log "host is $(host_arch), layer is $ARCH: checked the ELF headers only, binaries not run"
    fi
    if [ -n "$zipfile" ]; then
        zip_check "$dir" "$zipfile"
    fi
    log "check ($ARCH) passed"
}

# ---------------------------------------------------------------------------------------------
[ $# -ge 2 ] || die "usage: build.sh fetch|layer|zip|check ARCH [args...]"
cmd="$1"
set_arch "$2"
shift 2
case "$cmd" in
    fetch) cmd_fetch ;;
    layer) [ $# -eq 1 ] || die "usage: build.sh layer ARCH DEST"; cmd_layer "$1" ;;
    zip) [ $# -eq 2 ] || die "usage: build.sh zip ARCH SRC ZIPFILE"; cmd_zip "$1" "$2" ;;
    check) [ $# -ge 1 ] || die "usage: build.sh check ARCH DIR [ZIPFILE]"; cmd_check "$@" ;;
    *) die "unknown command '$cmd'" ;;
esac
