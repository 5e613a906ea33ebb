#!/bin/sh
# Builds bin/msrprelay_VERSION_ARCH.deb with dpkg-deb: the three binaries,
# the hardened unit, the production configuration as a conffile, and the
# maintainer scripts beside this file. Run by `make deb`; OUTDIR and
# VERSION override where it goes and what it is called.
set -eu
cd "$(dirname "$0")/../.."
arch=$(dpkg --print-architecture)
version=${VERSION:-0.0.0~git$(git log -1 --format=%cd.%h --date=format:%Y%m%d 2>/dev/null || echo 0)}
out_dir=${OUTDIR:-bin}
mkdir -p "$out_dir"
root=$(mktemp -d)
rm -rf "$root"
mkdir -p "$root/DEBIAN" "$root/usr/bin" "$root/lib/systemd/system" "$root/etc/msrprelay" \
	"$root/usr/share/doc/msrprelay"
CGO_ENABLED=0 go build -trimpath -o "$root/usr/bin/" ./cmd/...
install -m 0644 configs/msrprelay.service "$root/lib/systemd/system/msrprelay.service"
install -m 0640 configs/production.yaml "$root/etc/msrprelay/msrprelay.yaml"
install -m 0644 README.md "$root/usr/share/doc/msrprelay/README.md"
sed -e "s/@VERSION@/$version/" -e "s/@ARCH@/$arch/" configs/deb/control > "$root/DEBIAN/control"
install -m 0644 configs/deb/conffiles "$root/DEBIAN/conffiles"
for s in postinst prerm postrm; do install -m 0755 "configs/deb/$s" "$root/DEBIAN/$s"; done
out="$out_dir/msrprelay_${version}_${arch}.deb"
dpkg-deb --root-owner-group --build "$root" "$out" >/dev/null
rm -rf "$root"
echo "$out"
