#!/usr/bin/env python3
"""Seeded synthetic build output for `make bench`: a layers dir as the builder leaves it, and a
small app. Usage: bench-gen.py <out dir> <scale MB> [<kind>] [<seed>]
kinds:
  mixed      one buildpack, three launch+cache layers: many small files, large compressible
             text, large incompressible data (the default)
  smallfiles one layer of <scale> small files (0.1-4 KB) in a node_modules-like tree
  layers     10 buildpacks with 5 launch layers each (50 layers) sharing <scale MB>
Large files are written in 8 MB chunks, so any scale fits in memory."""
import os
import random
import sys

out, scale = sys.argv[1], int(sys.argv[2])
kind = sys.argv[3] if len(sys.argv) > 3 else "mixed"
rnd = random.Random(int(sys.argv[4]) if len(sys.argv) > 4 else 42)
layers = os.path.join(out, "layers")
CHUNK = 8 << 20


def write(path, data, mode=0o644):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        for part in ([data] if isinstance(data, bytes) else data):
            f.write(part)
    os.chmod(path, mode)


def text(n):
    words = ["GET", "POST", "/api/v1/items", "200", "404", "user", "session", "ok", "latency_ms"]
    parts, size = [], 0
    i = 0
    while size < n:
        line = "2026-11-22T12:%02d:%02d %s %s %d\n" % (
            i % 60, (i // 60) % 60, " ".join(rnd.choice(words) for _ in range(6)), "x" * (i % 7), rnd.randint(0, 99999))
        parts.append(line)
        size += len(line)
        i += 1
    return "".join(parts).encode()[:n]


def chunks(n, make):
    """n bytes from make(size) in chunks of at most CHUNK."""
    while n > 0:
        k = min(n, CHUNK)
        yield make(k)
        n -= k


def layer_toml(bp, name):
    write(os.path.join(bp, name + ".toml"), b"[types]\nlaunch = true\ncache = true\n")


def group(ids):
    body = "".join('[[group]]\nid = "%s"\nversion = "0.0.1"\napi = "0.10"\n\n' % i for i in ids)
    write(os.path.join(layers, "group.toml"), body.encode())
    bps = "".join('[[buildpacks]]\nid = "%s"\nversion = "0.0.1"\napi = "0.10"\n\n' % i for i in ids)
    write(os.path.join(layers, "config", "metadata.toml"),
          (bps + '[[processes]]\ntype = "web"\ncommand = ["/bin/true"]\nargs = []\ndirect = true\n'
           'buildpack-id = "%s"\n' % ids[0]).encode())


if kind == "mixed":
    bp = os.path.join(layers, "bench_bp")
    # ~15 % small files (20k at this scale's 300 MB), 40 % text, 45 % random.
    small_total = scale * 150_000
    files = max(1000, scale * 20_000 // 300)
    each = small_total // files
    for i in range(files):
        d = os.path.join(bp, "small", "d%03d" % (i % 200))
        data = text(rnd.randint(each // 2, each * 3 // 2)) if i % 5 else rnd.randbytes(rnd.randint(0, each))
        write(os.path.join(d, "f%05d.txt" % i), data)
    write(os.path.join(bp, "text", "app.log"), chunks(scale * 400_000, text))
    write(os.path.join(bp, "random", "blob.bin"), chunks(scale * 450_000, rnd.randbytes))
    for name in ("small", "text", "random"):
        layer_toml(bp, name)
    group(["bench/bp"])
elif kind == "smallfiles":
    # Packages of 100 files each, in four subdirs.
    bp = os.path.join(layers, "bench_node")
    for p in range(max(1, scale // 100)):
        pkg = os.path.join(bp, "modules", "node_modules", "pkg%04d" % p)
        for f in range(100):
            sub = ("lib", "dist", "src", "test")[f % 4]
            write(os.path.join(pkg, sub, "m%03d.js" % f), text(rnd.randint(100, 4000)))
    layer_toml(bp, "modules")
    group(["bench/node"])
elif kind == "layers":
    ids = ["bench/bp%02d" % b for b in range(10)]
    per = scale * 1_000_000 // 50
    for b, bp_id in enumerate(ids):
        bp = os.path.join(layers, bp_id.replace("/", "_"))
        for n in range(5):
            name = "l%d" % n
            make = rnd.randbytes if n % 2 else text
            write(os.path.join(bp, name, "data.bin"), chunks(per, make))
            layer_toml(bp, name)
    group(ids)
else:
    sys.exit("bench-gen.py: unknown kind '%s'" % kind)
write(os.path.join(out, "workspace", "main.sh"), b"#!/bin/sh\necho app\n", 0o755)
