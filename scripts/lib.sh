# Shared by the scripts: messages and installing Debian packages on demand.
say() { printf '==> %s\n' "$*" >&2; }
die() {
    printf 'error: %s\n' "$*" >&2
    exit 1
}

as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

# Installs the Debian packages among "$@" that are not installed yet.
ensure_packages() {
    local missing=()
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2> /dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    say "installing ${missing[*]} (apt-get)"
    if [ -z "${COUNTERSTREAM_APT_UPDATED:-}" ]; then
        as_root apt-get update -qq
        export COUNTERSTREAM_APT_UPDATED=1
    fi
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" > /dev/null
}

# The libraries and tools counterstream builds and tests with.
BUILD_PACKAGES=(build-essential cmake libeigen3-dev libboost-dev libhdf5-dev hdf5-tools libyaml-cpp-dev
    doctest-dev libcli11-dev zlib1g-dev libopenblas-dev libbenchmark-dev libopenmpi-dev openmpi-bin python3-h5py python3-numpy
    python3-dev pybind11-dev python3-pandas python3-xarray python3-yaml)

# Configures (once) and builds a tree in Release with -march=native:
#   build_tree [DIR [extra cmake arguments...]]   (default DIR: build)
build_tree() {
    local dir=${1:-build}
    [ $# -gt 0 ] && shift
    ensure_packages "${BUILD_PACKAGES[@]}"
    local jobs
    jobs=$(nproc 2> /dev/null || echo 2)
    if [ ! -f "$dir/CMakeCache.txt" ]; then
        say "configuring $dir/ (Release, -march=native${*:+, $*})"
        cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=Release "$@" > /dev/null
    fi
    say "building $dir/"
    cmake --build "$dir" -j "$jobs" -- --no-print-directory | grep -v -E '^\[|^Consolidate|^Scanning' || true
    [ "${PIPESTATUS[0]}" = 0 ] || die "build failed"
    [ "$dir" = build ] && install_python_path "$PWD/$dir/python"
    return 0
}

# Makes `import counterstream` work for /usr/bin/python3: a .pth file in its
# user site-packages naming the build's python/ folder (no root needed).
install_python_path() {
    local folder=$1 site
    [ -d "$folder/counterstream" ] || return 0
    site=$(/usr/bin/python3 -c 'import site; print(site.getusersitepackages())') || return 0
    mkdir -p "$site"
    if [ "$(cat "$site/counterstream.pth" 2> /dev/null)" != "$folder" ]; then
        printf '%s\n' "$folder" > "$site/counterstream.pth"
        say "import counterstream: $folder (via $site/counterstream.pth)"
    fi
}
