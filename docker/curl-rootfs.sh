#!/usr/bin/env bash
# docker/curl-rootfs.sh OUT: the file tree of the base that productpage, ratings and reviews
# run on, as distroless builds its bases: curl, bash, the everyday tools an operator types in a
# `kubectl exec` shell (TOOLS below, as named binaries, not whole packages: Debian's coreutils
# is 18 MB installed), exactly the shared libraries they load, the CA certificates, and the
# dpkg records of every package those files come from (OUT/var/lib/dpkg/status.d/<package>,
# with each shipped file in its package's md5sums), so that scanners (trivy, grype) see them.
#
# curl is built from Debian's own source package (Debian's patches applied) with only what
# Istio's docs use — HTTP and HTTPS over OpenSSL, with zlib; no file://, FTP or NTLM — instead
# of Debian's binary, which
# loads about 30 libraries (LDAP, Kerberos, RTMP with GnuTLS, SSH, IDN, PSL, …; 19 MB).
#
# Runs in a Debian image. Without the tools or the source it installs them with apt
# (network); .ci/base-images.sh makes an image that has them, for machines without a registry.
set -euo pipefail
out=$1
export DEBIAN_FRONTEND=noninteractive

curl_source() {
  for dir in /usr/src/curl-*/; do
    [ -f "$dir/configure" ] && echo "$dir" && return 0
  done
  return 1
}

if ! { command -v gcc && command -v make && command -v dpkg-parsechangelog && curl_source &&
  [ -f /usr/include/openssl/ssl.h ] && [ -f /usr/include/zlib.h ] &&
  [ -f /etc/ssl/certs/ca-certificates.crt ]; } >/dev/null 2>&1; then
  # The slim image lists binary packages only; the source package needs deb-src too.
  sed -i 's/^Types: deb$/Types: deb deb-src/' /etc/apt/sources.list.d/debian.sources
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends gcc make libc6-dev libssl-dev zlib1g-dev \
    dpkg-dev ca-certificates bash >/dev/null
  (cd /usr/src && apt-get source -qq curl >/dev/null)
fi

source_dir=$(curl_source)
version=$(cd "$source_dir" && dpkg-parsechangelog -S Version)
(
  cd "$source_dir"
  ./configure -q --prefix=/usr --disable-shared --enable-static --with-openssl --with-zlib \
    --with-ca-bundle=/etc/ssl/certs/ca-certificates.crt \
    --disable-ldap --disable-ldaps --disable-rtsp --disable-dict --disable-telnet \
    --disable-tftp --disable-pop3 --disable-imap --disable-smb --disable-smtp --disable-gopher \
    --disable-mqtt --disable-ftp --disable-file --disable-ntlm --disable-ntlm-wb \
    --disable-manual --without-libpsl --without-libgsasl --without-libidn2 \
    --without-nghttp2 --without-librtmp --without-libssh2 --without-gssapi --without-brotli \
    --without-zstd >configure.log 2>&1 || { tail -n 40 configure.log >&2; exit 1; }
  make -s -j"$(nproc)" >make.log 2>&1 || { tail -n 40 make.log >&2; exit 1; }
)
mkdir -p "$out/usr/bin"
strip -o "$out/usr/bin/curl" "$source_dir/src/curl"

# Debian's usr-merged layout: /bin, /lib and /lib64 are links into /usr.
bash_path=$(readlink -f "$(command -v bash)")
cp "$bash_path" "$out/usr/bin/bash"
for link in bin lib lib64; do ln -s "usr/$link" "$out/$link"; done

# Each library the two programs load, at its real path (ld.so's own path included), and the
# package it comes from: dpkg records bookworm's libraries under /lib, bash under /bin.
mkdir -p "$out/var/lib/dpkg/status.d"
packages="ca-certificates base-files"
# Records which copied file (its path in the image) came from which package, for the
# md5sums files that scanners (syft) use to tell packages' files from others.
ship() { # ship SOURCE DESTINATION
  local owner
  owner=$(dpkg -S "$1" 2>/dev/null || dpkg -S "${1#/usr}" 2>/dev/null) || {
    echo "curl-rootfs: no package owns $1" >&2
    exit 1
  }
  owner=${owner%%:*}
  packages="$packages $owner"
  printf '%s  %s\n' "$(md5sum <"$out$2" | cut -d' ' -f1)" "${2#/}" \
    >>"$out/var/lib/dpkg/status.d/$owner.md5sums"
}
ship "$bash_path" /usr/bin/bash
# What istio.io's tasks and the field run inside the images (docker/field-commands.json), and
# what an interactive shell needs to look around.
TOOLS="sleep cat ls id env wc head tail grep"
tool_paths=""
for tool in $TOOLS; do
  tool_path=$(readlink -f "$(command -v "$tool")")
  cp "$tool_path" "$out/usr/bin/$tool"
  ship "$tool_path" "/usr/bin/$tool"
  tool_paths="$tool_paths $tool_path"
done
# shellcheck disable=SC2086 # one path per word
for library in $(ldd "$out/usr/bin/curl" "$bash_path" $tool_paths | awk '$2 == "=>" { print $3 } $1 ~ /^\// && $1 !~ /:$/ { print $1 }' | sort -u); do
  real=$(readlink -f "$library")
  dir=$(readlink -f "$(dirname "$library")")
  mkdir -p "$out$dir"
  cp "$real" "$out$dir/$(basename "$library")"
  ship "$real" "$dir/$(basename "$library")"
done
mkdir -p "$out/etc/ssl/certs"
cp /etc/ssl/certs/ca-certificates.crt "$out/etc/ssl/certs/"

# What scanners read: the OS (base-files' files), and one dpkg record per package a file came
# from, with its licence text.
cp "$(readlink -f /etc/os-release)" "$out/etc/os-release"
cp /etc/debian_version "$out/etc/debian_version"
for package in $(tr ' ' '\n' <<<"$packages" | sort -u); do
  dpkg-query -s "$package" >"$out/var/lib/dpkg/status.d/$package"
  mkdir -p "$out/usr/share/doc/$package"
  cp "/usr/share/doc/$package/copyright" "$out/usr/share/doc/$package/copyright"
done
mkdir -p "$out/usr/share/doc/curl"
cp "$source_dir/debian/copyright" "$out/usr/share/doc/curl/copyright"
printf '%s  %s\n' "$(md5sum <"$out/usr/bin/curl" | cut -d' ' -f1)" usr/bin/curl \
  >"$out/var/lib/dpkg/status.d/curl.md5sums"
# curl itself: built here from Debian's source package curl, at that package's version.
cat >"$out/var/lib/dpkg/status.d/curl" <<RECORD
Package: curl
Status: install ok installed
Priority: optional
Section: web
Maintainer: Alessandro Ghedini <ghedo@debian.org>
Architecture: $(dpkg --print-architecture)
Source: curl
Version: $version
Description: command line tool for transferring data with URL syntax
 Built from Debian's source package curl $version with HTTP and HTTPS only, for Bookinfo.
RECORD

# Names for the images' numeric users (bash shows them); nobody logs in.
mkdir -p "$out/tmp"
chmod 1777 "$out/tmp"
printf '%s\n' 'root:x:0:0:root:/root:/usr/sbin/nologin' \
  'bookinfo:x:1000:1000:Bookinfo:/nonexistent:/usr/sbin/nologin' \
  'reviews:x:1001:1001:Bookinfo reviews:/nonexistent:/usr/sbin/nologin' >"$out/etc/passwd"
printf '%s\n' 'root:x:0:' 'bookinfo:x:1000:' 'reviews:x:1001:' >"$out/etc/group"
