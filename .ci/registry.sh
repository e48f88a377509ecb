# Sourced by the .ci scripts: start_registry <dir> [user:password] starts Debian's docker-registry
# on a free loopback port with its storage in <dir>/registry-data (behind htpasswd basic auth when
# credentials are given), waits until it answers, sets $reg (host:port) and $regdata, and kills it
# (by PID) when the script exits. Several registries may be started, each in its own <dir>.
registry_pids=()
stop_registries() {
  local pid
  for pid in "${registry_pids[@]}"; do kill "$pid" 2>/dev/null || true; done
}
start_registry() {
  local dir=$1 auth=${2:-} port auth_yml=""
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  reg=127.0.0.1:$port
  regdata=$dir/registry-data
  mkdir -p "$regdata"
  if [ -n "$auth" ]; then
    htpasswd -Bbn "${auth%%:*}" "${auth#*:}" > "$dir/htpasswd"
    auth_yml="auth: {htpasswd: {realm: basic-realm, path: $dir/htpasswd}}"
  fi
  cat > "$dir/registry.yml" <<YML
version: 0.1
log: {level: error, accesslog: {disabled: true}}
storage: {filesystem: {rootdirectory: $regdata}, delete: {enabled: true}}
http: {addr: $reg}
$auth_yml
YML
  docker-registry serve "$dir/registry.yml" > "$dir/registry.log" 2>&1 &
  registry_pids+=($!)
  trap stop_registries EXIT
  for _ in $(seq 50); do
    # 401 means it is up and asks for credentials.
    python3 - "$reg" <<'PY' 2>/dev/null && return 0
import sys, urllib.request, urllib.error
try:
    urllib.request.urlopen(f"http://{sys.argv[1]}/v2/")
except urllib.error.HTTPError as e:
    sys.exit(0 if e.code == 401 else 1)
PY
    sleep 0.2
  done
  echo "docker-registry did not start; its log:" >&2
  cat "$dir/registry.log" >&2
  return 1
}
