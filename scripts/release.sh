#!/usr/bin/env bash
# Builds the release archives: static pagerd binaries (CGO off, so they run
# on any Linux, in a scratch container and on macOS without a libc match)
# for linux/amd64, linux/arm64, darwin/amd64 and darwin/arm64, each in a
# tar.gz with the LICENSE, README, CHANGELOG, the quickstart config and the
# systemd unit, plus SHA256SUMS over the archives.
#
#   scripts/release.sh VERSION COMMIT DIST
#
# With BINARIES_ONLY=1 it stops after the binaries (DIST/pagerd-VERSION.OS-ARCH/pagerd),
# which is what `make image` packs.
#
# VERSION is semver without the leading v (0.1.0); the archives are named
# pagerd-VERSION.OS-ARCH.tar.gz. The archives are reproducible: same source,
# same Go, same bytes (file times are the commit's, owners are 0, modes are
# 0755 and 0644 whatever the umask, gzip carries no name or time).
set -euo pipefail
cd "$(dirname "$0")/.."

version=${1:?usage: scripts/release.sh VERSION COMMIT DIST}
commit=${2:?usage: scripts/release.sh VERSION COMMIT DIST}
dist=${3:?usage: scripts/release.sh VERSION COMMIT DIST}
platforms=${PLATFORMS:-linux/amd64 linux/arm64 darwin/amd64 darwin/arm64}
go=${GO:-go}

# File times in the archives: the commit's time, so two builds of the same
# commit are byte for byte the same.
epoch=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || echo 0)}

mkdir -p "$dist"
archives=()
for p in $platforms; do
  os=${p%/*} arch=${p#*/}
  name="pagerd-$version.$os-$arch"
  dir="$dist/$name"
  rm -rf "$dir"
  mkdir -p "$dir"
  echo "building $name" >&2
  CGO_ENABLED=0 GOOS=$os GOARCH=$arch "$go" build -trimpath -buildvcs=false \
    -ldflags "-s -w -X main.version=$version -X main.commit=$commit" \
    -o "$dir/pagerd" ./cmd/pagerd
  [ "${BINARIES_ONLY:-0}" = 1 ] && continue
  cp LICENSE README.md CHANGELOG.md configs/quickstart.yaml deploy/systemd/pagerd.service "$dir/"
  # Modes as well as times and owners: with the builder's umask (027 on
  # hardened hosts) the binary would extract as 0750 root:root, which the
  # systemd unit's dynamic user cannot run.
  tar --sort=name --mtime="@$epoch" --owner=0 --group=0 --numeric-owner --mode=u=rwX,go=rX \
    -C "$dist" -cf - "$name" | gzip -n -9 > "$dist/$name.tar.gz"
  archives+=("$name.tar.gz")
done
[ "${BINARIES_ONLY:-0}" = 1 ] && exit 0
(cd "$dist" && sha256sum "${archives[@]}" > SHA256SUMS)
echo "wrote ${archives[*]} and SHA256SUMS to $dist" >&2
