#!/usr/bin/env bash
# make interop MSRPLIB=DIR: python msrplib (Blink's and SylkServer's MSRP
# stack) against bin/msrprelay. See bench/interop/README.md.
# Extra arguments go to interop.py (e.g. --engines gnet --scenarios chat).
set -u
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
MSRPLIB=${MSRPLIB:-}
PYTHON=${PYTHON:-/usr/bin/python3}   # Debian's python3: the one apt's python3-twisted serves
RELAY=${RELAY:-$repo/bin/msrprelay}

die() { echo "interop: $*" >&2; exit 2; }
[ -n "$MSRPLIB" ] || die "usage: make interop MSRPLIB=DIR  (DIR holds python3-msrplib, python3-eventlib, python3-application, python3-gnutls; see bench/interop/README.md)"
for d in python3-msrplib python3-eventlib python3-application python3-gnutls; do
	[ -d "$MSRPLIB/$d" ] || die "$MSRPLIB/$d is missing (see bench/interop/README.md)"
done
"$PYTHON" -c 'import twisted, greenlet, zope.interface' 2>/dev/null ||
	die "$PYTHON lacks Twisted, greenlet or zope.interface: apt-get install -y python3-twisted python3-greenlet python3-zope.interface"
"$PYTHON" -c "import sys; sys.path.insert(0, '$MSRPLIB/python3-gnutls'); import gnutls.library" 2>/dev/null ||
	die "python3-gnutls cannot load libgnutls: apt-get install -y libgnutls30"
command -v openssl >/dev/null || die "openssl is needed for the two-relay msrps certificates: apt-get install -y openssl"
command -v ss >/dev/null || echo "interop: no ss (iproute2): failure reasons will lack socket queues" >&2
[ -x "$RELAY" ] || die "$RELAY is missing: make build"

# A hard bound on top of interop.py's own (every scenario has one, and so has the run).
exec timeout --kill-after=15 "${INTEROP_TIMEOUT:-1800}" "$PYTHON" "$here/interop.py" \
	--msrplib "$MSRPLIB" --relay "$RELAY" "$@"
