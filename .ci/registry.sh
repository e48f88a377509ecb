# Sourced by the .ci scripts: start_registry <dir> starts Debian's docker-registry on a free
# loopback port with its storage in <dir>/registry-data, waits until it answers, sets $reg
# (host:port) and $regdata, and kills it (by PID) when the script exits.
start_registry() {
  local dir=$1 port
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  reg=127.0.0.1:$port
  regdata=$dir/registry-data
  mkdir -p "$regdata"
  cat > "$dir/registry.yml" <<YML
version: 0.1
log: {level: error, accesslog: {disabled: true}}
storage: {filesystem: {rootdirectory: $regdata}, delete: {enabled: true}}
http: {addr: $reg}
YML
  docker-registry serve "$dir/registry.yml" > "$dir/registry.log" 2>&1 &
  registry_pid=$!
  trap 'kill "$registry_pid" 2>/dev/null || true' EXIT
  for _ in $(seq 50); do
    python3 -c "import urllib.request; urllib.request.urlopen('http://$reg/v2/')" 2>/dev/null && return 0
    sleep 0.2
  done
  echo "docker-registry did not start; its log:" >&2
  cat "$dir/registry.log" >&2
  return 1
}
