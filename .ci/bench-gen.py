#!/usr/bin/env python3
"""Seeded synthetic build output for `make bench`: a layers dir as the builder leaves it, with three
launch layers of one buildpack (many small files, large compressible text, large incompressible
data) and a small app. Usage: bench-gen.py <out dir> <scale MB> [<seed>]"""
import os
import random
import sys

out, scale = sys.argv[1], int(sys.argv[2])
rnd = random.Random(int(sys.argv[3]) if len(sys.argv) > 3 else 42)
layers = os.path.join(out, "layers")
bp = os.path.join(layers, "bench_bp")


def write(path, data, mode=0o644):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)
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


# ~15 % small files (20k at this scale's 300 MB), 40 % text, 45 % random.
small_total = scale * 150_000
files = max(1000, scale * 20_000 // 300)
each = small_total // files
for i in range(files):
    d = os.path.join(bp, "small", "d%03d" % (i % 200))
    data = text(rnd.randint(each // 2, each * 3 // 2)) if i % 5 else rnd.randbytes(rnd.randint(0, each))
    write(os.path.join(d, "f%05d.txt" % i), data)
write(os.path.join(bp, "text", "app.log"), text(scale * 400_000))
write(os.path.join(bp, "random", "blob.bin"), rnd.randbytes(scale * 450_000))
for name in ("small", "text", "random"):
    write(os.path.join(bp, name + ".toml"), b"[types]\nlaunch = true\ncache = true\n")
write(os.path.join(layers, "group.toml"),
      b'[[group]]\nid = "bench/bp"\nversion = "0.0.1"\napi = "0.10"\n')
write(os.path.join(layers, "config", "metadata.toml"),
      b'[[buildpacks]]\nid = "bench/bp"\nversion = "0.0.1"\napi = "0.10"\n\n'
      b'[[processes]]\ntype = "web"\ncommand = ["/bin/true"]\nargs = []\ndirect = true\nbuildpack-id = "bench/bp"\n')
write(os.path.join(out, "workspace", "main.sh"), b"#!/bin/sh\necho app\n", 0o755)
