# Sourced by the platform flows in .ci/platforms/: what a platform's machine gives the lifecycle.
# - A builder image as a directory ($builder: /cnb/lifecycle with our binaries, /cnb/buildpacks with
#   the sample buildpacks, /cnb/order.toml, /cnb/stack.toml, /cnb/run.toml, a `cnb` user 1000:1000)
#   and a lifecycle image ($lifecycle: /cnb/lifecycle only), as pack's untrusted flow uses.
# - `ctr`: a container from such an image: bubblewrap over the host's /usr (bash for the
#   buildpacks), the image's /cnb and /etc/passwd, the volumes bound at the platform's paths, the
#   image's env plus the platform's, as root or dropped to a uid (setpriv).
# - Run images in registries and a Docker daemon, and checks of what the platform reads back.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$repo"
flow=$(basename "$0")
out=$repo/out/platforms/$flow
step() { printf '\n==> %s: %s\n' "$flow" "$*"; }
fail() { echo "$flow: $*" >&2; exit 1; }
# KEEP_GOING=1 (for debugging a flow) reports failed checks and goes on.
check() {
  grep -qF -- "$1" <<<"$2" && return 0
  if [ "${KEEP_GOING:-0}" = 1 ]; then echo "$flow: CHECK FAILED: expected '$1'" >&2; return 0; fi
  fail "expected '$1' in:"$'\n'"$2"
}
check_not() { if grep -qF -- "$1" <<<"$2"; then fail "did not expect '$1' in:"$'\n'"$2"; fi; }
check_file() {
  [ -e "$1" ] && return 0
  if [ "${KEEP_GOING:-0}" = 1 ]; then echo "$flow: CHECK FAILED: expected $1 to exist" >&2; return 0; fi
  fail "expected $1 to exist"
}
[ "$(id -u)" -eq 0 ] || fail "needs root (bubblewrap mounts, setpriv, dockerd)"
if [ -d "$out" ]; then umount -R "$out/dockerd" 2>/dev/null || true; rm -rf "$out"; fi
mkdir -p "$out/debs" "$out/busybox"
source "$repo/.ci/registry.sh"
read_image() { python3 "$repo/.ci/platforms/read-image.py" "$@"; }

step "binaries, a builder image and a lifecycle image"
cargo build -q -p analyzer -p detector -p restorer -p builder -p exporter -p creator -p rebaser -p extender
cargo build -q --release -p launcher --target x86_64-unknown-linux-musl
cargo build -q -p cnb-test-support --example build-busybox-run-image
bin=$repo/target/debug
launcher=$repo/target/x86_64-unknown-linux-musl/release/launcher
builder=$out/builder
lifecycle=$out/lifecycle
for img in "$builder" "$lifecycle"; do
  mkdir -p "$img/cnb/lifecycle" "$img/etc" "$img/home/cnb"
  for p in analyzer detector restorer builder exporter creator rebaser extender; do ln "$bin/$p" "$img/cnb/lifecycle/$p"; done
  cp "$launcher" "$img/cnb/lifecycle/launcher"
  # The host's users, but uid and gid 1000 are the image's `cnb`.
  awk -F: '$3 != 1000' /etc/passwd > "$img/etc/passwd"
  awk -F: '$3 != 1000' /etc/group > "$img/etc/group"
  echo "cnb:x:1000:1000:cnb:/home/cnb:/bin/bash" >> "$img/etc/passwd"
  echo "cnb:x:1000:" >> "$img/etc/group"
  chown 1000:1000 "$img/home/cnb"
done
mkdir -p "$builder/cnb/buildpacks"
cp -r "$repo"/testdata/buildpacks/samples_* "$builder/cnb/buildpacks/"
cp "$repo/testdata/buildpacks/order.toml" "$builder/cnb/order.toml"
# The builder image's own env, as pack's builder sets it.
image_env=(PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin CNB_USER_ID=1000 CNB_GROUP_ID=1000)

# builder_run_images <image> [<mirror>...]: /cnb/stack.toml and /cnb/run.toml of the builder name them.
builder_run_images() {
  local image=$1 mirrors="" m
  shift
  for m in "$@"; do mirrors+="${mirrors:+, }\"$m\""; done
  printf '[run-image]\nimage = "%s"\nmirrors = [%s]\n\n[build-image]\nimage = "cnb/build"\n' "$image" "$mirrors" > "$builder/cnb/stack.toml"
  printf '[[images]]\nimage = "%s"\nmirrors = [%s]\n' "$image" "$mirrors" > "$builder/cnb/run.toml"
}

# ctr [-i builder|lifecycle] [-u uid:gid[:groups]] [-w dir] [-v host:path]... [-e K=V]... -- cmd [args]
# Runs cmd in a container of the image (default builder) as root, or as uid:gid with only the given
# supplementary groups (as a pod's runAsUser/runAsGroup/fsGroup), working dir -w (default /).
ctr() {
  local img=$builder user="" wd=/ binds=() envs=() drop=()
  while [ "$1" != -- ]; do
    case $1 in
      -i) [ "$2" = lifecycle ] && img=$lifecycle; shift 2 ;;
      -u) user=$2; shift 2 ;;
      -w) wd=$2; shift 2 ;;
      -v) # bubblewrap would make the mount point's parents 0700: make them as a container has them.
        local parent=${2#*:} parents=()
        while parent=$(dirname "$parent") && [ "$parent" != / ]; do parents=("$parent" "${parents[@]}"); done
        for parent in "${parents[@]}"; do binds+=(--perms 0755 --dir "$parent"); done
        binds+=(--bind "${2%%:*}" "${2#*:}"); shift 2 ;;
      -e) envs+=("$2"); shift 2 ;;
      *) fail "ctr: unknown option $1" ;;
    esac
  done
  shift
  if [ -n "$user" ]; then
    local u g groups
    IFS=: read -r u g groups <<<"$user"
    drop=(setpriv --reuid="$u" --regid="$g")
    if [ -n "$groups" ]; then drop+=(--groups="$groups"); else drop+=(--clear-groups); fi
  fi
  bwrap --die-with-parent --tmpfs / --ro-bind /usr /usr --symlink usr/bin /bin --symlink usr/sbin /sbin \
    --symlink usr/lib /lib --symlink usr/lib64 /lib64 --ro-bind /etc /etc \
    --ro-bind "$img/etc/passwd" /etc/passwd --ro-bind "$img/etc/group" /etc/group \
    --ro-bind "$img/cnb" /cnb --bind "$img/home" /home --proc /proc --dev /dev --perms 1777 --tmpfs /tmp \
    "${binds[@]}" --chdir "$wd" -- env -i "${image_env[@]}" "${envs[@]}" "${drop[@]}" "$@"
}

# volume <name> [owner] [mode]: a fresh dir under $out/volumes, as a new volume (default root:root 0755).
volume() {
  local dir=$out/volumes/$1
  rm -rf "$dir"
  mkdir -p "$dir"
  chown "${2:-0:0}" "$dir"
  chmod "${3:-0755}" "$dir"
  echo "$dir"
}

# The sample app, owned as the platform leaves it (pack copies it in as the build user).
app_into() { cp -r "$repo/testdata/apps/bash-script/." "$1"; chown -R "${2:-1000:1000}" "$1"; }

busybox_layout() { # busybox run images v1 (amd64, arm64) and v2 (amd64) in $out/layout
  (cd "$out/debs" && apt-get download -q busybox-static:amd64 busybox-static:arm64 >/dev/null 2>&1)
  local a
  for a in amd64 arm64; do dpkg -x "$out"/debs/busybox-static_*_"$a".deb "$out/busybox/$a"; done
  "$bin/examples/build-busybox-run-image" "$out/layout" local.test/run:v1 \
    "linux/amd64=$out/busybox/amd64/bin/busybox" "linux/arm64=$out/busybox/arm64/bin/busybox" >/dev/null
  RUN_IMAGE_VERSION=v2 "$bin/examples/build-busybox-run-image" "$out/layout" local.test/run:v2 \
    "linux/amd64=$out/busybox/amd64/bin/busybox" >/dev/null
}

# push_run_image <v1|v2> <registry> <repo:tag> [user:password]
push_run_image() {
  skopeo copy -q --all --dest-tls-verify=false ${4:+--dest-creds "$4"} \
    "oci:$out/layout/local.test/run/$1:$1" "docker://$2/$3"
}

# registry_auth <registry> <user:password>...: CNB_REGISTRY_AUTH as pack builds it (a JSON object of
# registry -> "Basic <base64 user:password>").
registry_auth() {
  python3 - "$@" <<'PY'
import base64, json, sys
args = sys.argv[1:]
print(json.dumps({args[i]: "Basic " + base64.b64encode(args[i + 1].encode()).decode() for i in range(0, len(args), 2)}))
PY
}

# docker_config <dir> <registry> <user:password>...: a docker config.json in <dir> as a platform's
# credential step writes it.
docker_config() {
  local dir=$1
  shift
  mkdir -p "$dir"
  python3 - "$@" > "$dir/config.json" <<'PY'
import base64, json, sys
args = sys.argv[1:]
print(json.dumps({"auths": {args[i]: {"auth": base64.b64encode(args[i + 1].encode()).decode()} for i in range(0, len(args), 2)}}))
PY
}

# image_config <registry ref> <user:password> <file>: the image's config, read with skopeo.
image_config() {
  skopeo inspect --config --tls-verify=false --creds "$2" "docker://$1" > "$3"
}

# run_registry_image <ref> <user:password> <process> [args]: pull the app image with skopeo, unpack it
# with umoci and run one of its processes in a chroot with the image's env, as the image's user.
run_registry_image() {
  local ref=$1 creds=$2 dir
  shift 2
  dir=$(mktemp -d "$out/run.XXXX")
  skopeo copy -q --src-tls-verify=false --src-creds "$creds" "docker://$ref" "oci:$dir/oci:app"
  umoci raw unpack --image "$dir/oci:app" "$dir/rootfs" >/dev/null
  local env
  mapfile -t env < <(skopeo inspect --config "oci:$dir/oci:app" | python3 -c 'import json,sys; print("\n".join(json.load(sys.stdin)["config"]["Env"]))')
  env -i "${env[@]}" "$(command -v chroot)" --userspec=1000:1000 "$dir/rootfs" "$@"
}

# start_dockerd: a Docker daemon of our own (vfs, no network setup); sets $sock; stopped on exit.
start_dockerd() {
  mkdir -p "$out/dockerd/data" "$out/dockerd/exec"
  sock=$out/dockerd/d.sock
  dockerd -H "unix://$sock" --storage-driver=vfs --iptables=false --ip6tables=false --bridge=none \
    --default-ulimit nofile=4096:4096 --data-root "$out/dockerd/data" --exec-root "$out/dockerd/exec" \
    --pidfile "$out/dockerd/dockerd.pid" > "$out/dockerd.log" 2>&1 &
  dockerd_pid=$!
  trap 'stop_registries; stop_dockerd' EXIT
  export DOCKER_HOST=unix://$sock DOCKER_CONFIG=$out/docker-cli
  for _ in $(seq 100); do docker version >/dev/null 2>&1 && return 0; sleep 0.2; done
  cat "$out/dockerd.log" >&2
  fail "dockerd did not start"
}
stop_dockerd() {
  kill "$dockerd_pid" 2>/dev/null || true
  for _ in $(seq 100); do kill -0 "$dockerd_pid" 2>/dev/null || break; sleep 0.1; done
  umount -R "$out/dockerd/exec" "$out/dockerd/data" 2>/dev/null || true
}
# docker_load <v1|v2> <arch> <name>: a run image from the layout into the daemon.
docker_load() {
  skopeo copy -q --override-arch "$2" "oci:$out/layout/local.test/run/$1:$1" "docker-archive:$out/load.tar:$3"
  docker load -q -i "$out/load.tar" >/dev/null && rm -f "$out/load.tar"
}

# report_value <report.toml> <key>: a value of [image] in report.toml.
report_value() { sed -n "s/^ *$2 = \"\(.*\)\"/\1/p" "$1" | head -1; }
