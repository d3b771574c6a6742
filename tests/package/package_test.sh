#!/usr/bin/env bash
# package_test (ctest label package): builds the DEB and TGZ with cpack from a
# finished build tree and checks them the way a user's machine meets them:
#   - control fields (name, version, architecture, maintainer, description,
#     Depends from dpkg-shlibdeps plus the run-time QML modules);
#   - the file list follows the FHS (/usr/bin, /usr/share/...), owned by root,
#     with sane modes, and holds the desktop entry, icon, metainfo, man pages;
#   - the desktop entry and metainfo validate (desktop-file-validate,
#     appstreamcli) and agree with each other and with the app;
#   - extracted into a scratch root: every library the binaries link comes
#     from a package the .deb depends on; tokamak-cli runs (--version, info on
#     a real GGUF checked against llama.cpp's gguf reader); the Qt app starts
#     offscreen with the demo model and writes a screenshot, and every QML
#     module and Qt plugin it loads comes from a package the .deb depends on;
#     on Xvfb its window's WM_CLASS is the desktop entry's StartupWMClass and
#     it carries the icon;
#   - the TGZ holds the same files and its tokamak-cli runs.
# Usage: package_test.sh --cpack CPACK --build DIR --scratch DIR --version V
#          --app-id ID --data SHARED_DATA --runtime-depends "pkg;pkg;..."
set -euo pipefail

fail() { echo "FAIL: $*" >&2; exit 1; }
step() { echo "== $*"; }

while [ $# -gt 0 ]; do
  case "$1" in
    --cpack) cpack=$2 ;;
    --build) build=$2 ;;
    --scratch) scratch=$2 ;;
    --version) version=$2 ;;
    --app-id) app_id=$2 ;;
    --data) data=$2 ;;
    --runtime-depends) runtime_depends=$2 ;;
    *) fail "unknown option $1" ;;
  esac
  shift 2
done
for tool in dpkg-deb dpkg-query dpkg-parsechangelog desktop-file-validate appstreamcli readelf python3 tar gzip \
  groff Xvfb xwininfo xprop; do
  command -v "$tool" >/dev/null || fail "$tool not found (cmake/install-deps.sh --test installs it)"
done
python3 -c "import gguf" 2>/dev/null || fail "python3 gguf missing (cmake/install-deps.sh --test)"

rm -rf "$scratch"
mkdir -p "$scratch"
arch=$(dpkg --print-architecture)

step "cpack -G DEB;TGZ"
"$cpack" --config "$build/CPackConfig.cmake" -G "DEB;TGZ" -B "$scratch/pkg" >"$scratch/cpack.log" 2>&1 ||
  { cat "$scratch/cpack.log"; fail "cpack failed (log above)"; }
deb="$scratch/pkg/tokamak_${version}_${arch}.deb"
tgz="$scratch/pkg/tokamak-${version}-Linux.tar.gz"
[ -s "$deb" ] || fail "no $deb; cpack made: $(ls "$scratch/pkg")"
[ -s "$tgz" ] || fail "no $tgz; cpack made: $(ls "$scratch/pkg")"

step "control fields"
field() { dpkg-deb -f "$deb" "$1"; }
[ "$(field Package)" = tokamak ] || fail "Package is '$(field Package)', not tokamak"
[ "$(field Version)" = "$version" ] || fail "Version is '$(field Version)', the project's is $version"
[ "$(field Architecture)" = "$arch" ] || fail "Architecture is '$(field Architecture)', not $arch"
[[ "$(field Maintainer)" =~ ^[^\<]+\ \<[^@\>]+@[^\>]+\>$ ]] ||
  fail "Maintainer '$(field Maintainer)' is not 'Name <address>'"
[ "$(field Description | wc -l)" -ge 2 ] || fail "Description has no long description: $(field Description)"
depends=$(field Depends)
[ -n "$depends" ] || fail "no Depends field"
# Package names in Depends (alternatives included, versions dropped).
dep_names=$(echo "$depends" | tr ',|' '\n\n' | sed -e 's/(.*)//' -e 's/:.*//' -e 's/ //g' | sort -u)
has_dep() { grep -qx -- "$1" <<<"$dep_names"; }
has_dep libc6 || fail "Depends lacks libc6 (dpkg-shlibdeps did not run?): $depends"
IFS=';' read -r -a wanted <<<"$runtime_depends"
for p in "${wanted[@]}"; do has_dep "$p" || fail "Depends lacks run-time package $p: $depends"; done

step "file list (FHS)"
dpkg-deb -c "$deb" >"$scratch/contents.txt"
awk '$2 != "root/root" { print "not owned by root: " $0; bad = 1 } END { exit bad }' \
  "$scratch/contents.txt" || fail "files not owned by root/root"
awk '{ print $NF }' "$scratch/contents.txt" | sed 's|^\./||; s|/$||' | grep -v '^$' | sort >"$scratch/paths.txt"
allowed='^(usr|usr/bin(/tokamak|/tokamak-cli)?|usr/share|usr/share/applications(/[^/]+\.desktop)?'
allowed+='|usr/share/icons(/hicolor(/scalable(/apps(/[^/]+\.svg)?)?)?)?|usr/share/metainfo(/[^/]+\.metainfo\.xml)?'
allowed+='|usr/share/man(/man1(/[^/]+\.1\.gz)?)?|usr/share/doc(/tokamak(/[^/]+)?)?)$'
if grep -Ev "$allowed" "$scratch/paths.txt" >"$scratch/stray.txt"; then
  fail "files outside the FHS layout: $(tr '\n' ' ' <"$scratch/stray.txt")"
fi
for f in usr/bin/tokamak usr/bin/tokamak-cli "usr/share/applications/$app_id.desktop" \
  "usr/share/icons/hicolor/scalable/apps/$app_id.svg" "usr/share/metainfo/$app_id.metainfo.xml" \
  usr/share/man/man1/tokamak.1.gz usr/share/man/man1/tokamak-cli.1.gz; do
  grep -qx "$f" "$scratch/paths.txt" || fail "the package lacks /$f"
done
awk '{ p = $NF; m = $1 }
     p ~ /^\.\/usr\/bin\/./ { if (m != "-rwxr-xr-x") { print "mode " m " of " p; bad = 1 }; next }
     m ~ /^d/ { if (m != "drwxr-xr-x") { print "mode " m " of " p; bad = 1 }; next }
     { if (m != "-rw-r--r--") { print "mode " m " of " p; bad = 1 } }
     END { exit bad }' "$scratch/contents.txt" || fail "unexpected file modes (above)"

step "extract into a scratch root"
root="$scratch/root"
dpkg-deb -x "$deb" "$root"
desktop="$root/usr/share/applications/$app_id.desktop"
metainfo="$root/usr/share/metainfo/$app_id.metainfo.xml"

step "desktop entry and metainfo"
desktop-file-validate "$desktop" >"$scratch/desktop-validate.txt" 2>&1 ||
  { cat "$scratch/desktop-validate.txt"; fail "desktop-file-validate rejects $app_id.desktop"; }
if grep -Ei 'error|warning' "$scratch/desktop-validate.txt"; then fail "desktop-file-validate complains"; fi
appstreamcli validate --no-net "$metainfo" >"$scratch/appstream-validate.txt" 2>&1 ||
  { cat "$scratch/appstream-validate.txt"; fail "appstreamcli rejects $app_id.metainfo.xml"; }
key() { sed -n "s/^$1=//p" "$desktop"; }
exec_bin=$(key Exec | awk '{ print $1 }')
[ -x "$root/usr/bin/$exec_bin" ] || fail "Exec=$(key Exec) names no installed program"
[ "$(key Icon)" = "$app_id" ] || fail "Icon=$(key Icon), not the app id $app_id"
python3 - "$metainfo" "$app_id" "$version" "$root" \
  "$root/usr/share/icons/hicolor/scalable/apps/$app_id.svg" <<'PY' || fail "metainfo or icon check (above)"
import os, sys, xml.etree.ElementTree as ET
metainfo, app_id, version, root, icon = sys.argv[1:]
c = ET.parse(metainfo).getroot()
def need(ok, what):
    if not ok:
        print(what); sys.exit(1)
need(c.findtext("id") == app_id, f"metainfo id {c.findtext('id')!r} is not {app_id!r}")
need(c.findtext("launchable") == app_id + ".desktop", "metainfo launchable is not the desktop file")
releases = [r.get("version") for r in c.iter("release")]
need(version in releases, f"metainfo releases {releases} lack the package version {version}")
for b in c.iter("binary"):
    need(os.access(os.path.join(root, "usr/bin", b.text), os.X_OK), f"metainfo binary {b.text} not installed")
svg = ET.parse(icon).getroot()
need(svg.tag.endswith("svg") and svg.get("viewBox"), "the icon is not an SVG with a viewBox")
PY
for page in tokamak tokamak-cli; do
  gzip -dc "$root/usr/share/man/man1/$page.1.gz" | grep -q "^\.TH .*\"Tokamak $version\"" ||
    fail "man page $page.1 lacks its .TH line with version $version"
  warnings=$(gzip -dc "$root/usr/share/man/man1/$page.1.gz" | groff -man -ww -z -Tutf8 2>&1)
  [ -z "$warnings" ] || fail "groff warns on $page.1: $warnings"
done

changelog="$root/usr/share/doc/tokamak/changelog.gz"
[ -s "$changelog" ] || fail "the package lacks /usr/share/doc/tokamak/changelog.gz"
gzip -dc "$changelog" >"$scratch/changelog"
[ "$(dpkg-parsechangelog -l "$scratch/changelog" -S Version)" = "$version" ] ||
  fail "the changelog's version is not $version: $(head -1 "$scratch/changelog")"

# The man pages name every option of the app and every subcommand of the CLI.
man_text() { gzip -dc "$root/usr/share/man/man1/$1.1.gz" | sed 's/\\-/-/g'; }
for opt in $(QT_QPA_PLATFORM=offscreen "$root/usr/bin/tokamak" --help 2>/dev/null |
  grep -oE '^ +(-[a-z], )?--[a-z][a-z0-9-]*' | grep -oE -- '--[a-z0-9-]+' | grep -vx -- '--help-all'); do
  man_text tokamak | grep -q -- "$opt" || fail "man page tokamak.1 does not describe $opt (installer/man)"
done
for sub in $("$root/usr/bin/tokamak-cli" --help | sed -n '/^Subcommands:/,$p' | awk 'NR > 1 && NF { print $1 }'); do
  man_text tokamak-cli | grep -qE "^\.BI? \"?$sub\b" ||
    fail "man page tokamak-cli.1 does not describe the subcommand $sub (installer/man)"
done

step "linked libraries come from packages in Depends"
for bin in tokamak tokamak-cli; do
  f="$root/usr/bin/$bin"
  if readelf -d "$f" | grep -E 'RPATH|RUNPATH'; then fail "$bin carries an RPATH/RUNPATH"; fi
  ldd "$f" >"$scratch/ldd-$bin.txt" || fail "ldd $bin failed"
  if grep 'not found' "$scratch/ldd-$bin.txt"; then fail "$bin: libraries not found (above)"; fi
  for soname in $(readelf -d "$f" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
    # "soname => path (address)", or "path (address)" for the dynamic loader.
    path=$(awk -v s="$soname" '$1 == s { print $3; exit }
      $2 ~ /^\(/ && $1 ~ ("/" s "$") { print $1; exit }' "$scratch/ldd-$bin.txt")
    [ -n "$path" ] || fail "$bin: ldd does not resolve $soname"
    pkg=""
    for p in "$path" "$(readlink -f "$path")" "${path/#\/lib\//\/usr\/lib\/}" "${path/#\/usr\/lib\//\/lib\/}"; do
      pkg=$(dpkg-query -S "$p" 2>/dev/null | head -1 | cut -d: -f1) && [ -n "$pkg" ] && break
    done
    if [ -z "$pkg" ]; then
      # cuBLAS (CUDA builds) comes from NVIDIA's repository, declared by name.
      if [[ "$soname" =~ ^libcublas(Lt)?\.so ]] && grep -q '^libcublas-' <<<"$dep_names"; then continue; fi
      fail "$bin links $soname ($path), which no Debian package owns: the .deb cannot depend on it"
    fi
    has_dep "$pkg" || fail "$bin links $soname from $pkg, which Depends lacks: $depends"
  done
done

step "tokamak-cli runs from the scratch root"
cli="$root/usr/bin/tokamak-cli"
[ "$("$cli" --version)" = "tokamak-cli $version" ] || fail "tokamak-cli --version: $("$cli" --version)"
gguf="$data/models/aidreams260K/aidreams260K-llamacpp-f32.gguf"
"$cli" info "$gguf" >"$scratch/info.txt" || { cat "$scratch/info.txt"; fail "tokamak-cli info failed"; }
read -r arch_want params_want < <(python3 -c '
import sys, gguf
r = gguf.GGUFReader(sys.argv[1])
f = r.fields["general.architecture"]
print(bytes(f.parts[f.data[0]]).decode(), sum(int(t.n_elements) for t in r.tensors))' "$gguf")
grep -Eq "^architecture: +$arch_want\$" "$scratch/info.txt" ||
  { cat "$scratch/info.txt"; fail "info does not name architecture $arch_want"; }
grep -Eq "^parameters: .*\($params_want\)\$" "$scratch/info.txt" ||
  { cat "$scratch/info.txt"; fail "info does not count $params_want parameters (gguf's sum)"; }

step "the Qt app starts offscreen with the demo model"
export HOME="$scratch/home" XDG_CACHE_HOME="$scratch/cache" XDG_DATA_HOME="$scratch/data"
export XDG_CONFIG_HOME="$scratch/config" XDG_RUNTIME_DIR="$scratch/run"
export QT_QPA_PLATFORM=offscreen QT_QUICK_BACKEND=software
unset TOKAMAK_DB TOKAMAK_CACHE_DIR TOKAMAK_QML_DIR
mkdir -p "$HOME" "$XDG_RUNTIME_DIR" && chmod 700 "$XDG_RUNTIME_DIR"
app="$root/usr/bin/tokamak"
app_version=$("$app" --version 2>/dev/null)
[ "$app_version" = "Tokamak $version" ] || fail "tokamak --version: '$app_version'"
wm_class=${app_version%% *}
[ "$(key StartupWMClass)" = "$wm_class" ] ||
  fail "StartupWMClass=$(key StartupWMClass), the app's name (its X11 class) is $wm_class"
shot="$scratch/shot.png"
rc=0
QML_IMPORT_TRACE=1 QT_DEBUG_PLUGINS=1 timeout 120 "$app" --db "$scratch/chat.db" --model demo \
  --screenshot "$shot" >"$scratch/app.log" 2>&1 || rc=$?
[ "$rc" = 0 ] || { tail -n 40 "$scratch/app.log"; fail "tokamak exited with $rc (log above)"; }
python3 - "$shot" <<'PY' || fail "no usable screenshot from the installed app"
import struct, sys
b = open(sys.argv[1], "rb").read()
assert b[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
w, h = struct.unpack(">II", b[16:24])
assert w >= 400 and h >= 300 and len(b) > 10000, f"{w}x{h}, {len(b)} bytes"
print(f"screenshot {w}x{h}, {len(b)} bytes")
PY
[ -s "$scratch/chat.db" ] || fail "the app made no database at --db"
demo=$(find "$XDG_CACHE_HOME/tokamak" -name '*.gguf' | head -1)
[ -n "$demo" ] && [ "$(head -c4 "$demo")" = GGUF ] || fail "no demo model GGUF under $XDG_CACHE_HOME/tokamak"
# Everything Qt loaded from the system's QML and plugin folders.
{
  grep -oE '"/[^"]+\.so" loaded library' "$scratch/app.log" || true
  grep -oE '(loaded|found at) "/[^"]+/qmldir"' "$scratch/app.log" || true
} | cut -d'"' -f2 | sort -u >"$scratch/loaded.txt"
grep -q 'QtQuick/Controls/qmldir' "$scratch/loaded.txt" ||
  fail "no QML imports seen in the trace (QML_IMPORT_TRACE output changed?)"
while read -r f; do
  pkg=$(dpkg-query -S "$f" 2>/dev/null | head -1 | cut -d: -f1)
  [ -n "$pkg" ] || fail "the app loaded $f, which no package owns"
  has_dep "$pkg" || fail "the app loaded $f from $pkg, which Depends lacks: $depends"
done <"$scratch/loaded.txt"
echo "QML modules and plugins loaded: $(wc -l <"$scratch/loaded.txt"), all from packages in Depends"

step "the window on a real X server (Xvfb): class and icon"
Xvfb -displayfd 5 -screen 0 1400x900x24 -nolisten tcp 5>"$scratch/xvfb.display" 2>"$scratch/xvfb.log" &
xvfb=$!
x_app=""
trap 'kill $x_app $xvfb 2>/dev/null || true' EXIT
for _ in $(seq 100); do [ -s "$scratch/xvfb.display" ] && break; sleep 0.1; done
[ -s "$scratch/xvfb.display" ] || { cat "$scratch/xvfb.log"; fail "Xvfb did not start"; }
export DISPLAY=":$(cat "$scratch/xvfb.display")"
QT_QPA_PLATFORM=xcb "$app" --db "$scratch/chat.db" >"$scratch/x11.log" 2>&1 &
x_app=$!
wid=""
for _ in $(seq 150); do  # the first top-level window with a WM_CLASS
  wid=$(xwininfo -root -tree 2>/dev/null | awk '/\("[^"]*" "[^"]*"\)/ { print $1; exit }')
  [ -n "$wid" ] && break
  kill -0 "$x_app" 2>/dev/null || { cat "$scratch/x11.log"; fail "tokamak exited on the X server"; }
  sleep 0.2
done
[ -n "$wid" ] || { cat "$scratch/x11.log"; fail "no tokamak window on the X server within 30 s"; }
wm_class=$(xprop -id "$wid" WM_CLASS | sed -n 's/.*= "[^"]*", "\([^"]*\)"$/\1/p')
[ "$wm_class" = "$(key StartupWMClass)" ] ||
  fail "the window's WM_CLASS class is '$wm_class', the desktop entry's StartupWMClass $(key StartupWMClass)"
icon=""
for _ in $(seq 50); do  # the icon property may follow the window's mapping (a loaded machine)
  if xprop -id "$wid" _NET_WM_ICON 2>/dev/null | grep -q 'Icon (128 x 128)'; then icon=yes; break; fi
  sleep 0.2
done
[ -n "$icon" ] || fail "the window has no 128 px icon (_NET_WM_ICON) within 10 s: the SVG icon did not load"
kill "$x_app" "$xvfb"
wait "$x_app" "$xvfb" 2>/dev/null || true
trap - EXIT
unset DISPLAY
echo "window class $wm_class, icon set"

step "TGZ: the same files, runnable"
top="tokamak-${version}-Linux"
tar -tzf "$tgz" | sed "s|^$top/\?||; s|/$||" | grep -v '^$' | sed 's|^|usr/|' | sort >"$scratch/tgz-paths.txt"
grep -v '^usr$' "$scratch/paths.txt" | diff - <(grep -v '^usr$' "$scratch/tgz-paths.txt") ||
  fail "the TGZ and DEB hold different files (diff above)"
mkdir -p "$scratch/tgz" && tar -xzf "$tgz" -C "$scratch/tgz"
[ "$("$scratch/tgz/$top/bin/tokamak-cli" --version)" = "tokamak-cli $version" ] || fail "TGZ tokamak-cli"

echo "package_test: OK ($(du -h "$deb" | cut -f1) .deb; Depends: $depends)"
