#!/usr/bin/env python3
"""Reads an image's config the way a platform reads it back after a build, and fails as the
platform would. Not a copy of their code: the fields and the parse rules they apply, taken from
pack v0.40.5 (pkg/client/inspect_image.go, pkg/client/rebase.go) and kpack bfa95d79
(pkg/cnb/build_metadata.go, pkg/cnb/remote_lifecycle_reader.go).

  read-image.py pack-inspect <config.json>       what `pack inspect` shows, and what `pack rebase` needs
  read-image.py kpack-completion <config.json>   what kpack's completion step records for the build
  read-image.py kpack-lifecycle <config.json>    what kpack reads when a lifecycle image is registered

<config.json> is an OCI image config (`skopeo inspect --config`) or `docker image inspect` output.
Prints `key: value` lines; exits 1 naming the field when a platform would fail.
"""
import json
import re
import sys

# A reference as go-containerregistry's name.ParseReference accepts it (strict): an optional
# registry, a lower-case repository path, then a tag or a sha256 digest (or both).
REF = re.compile(
    r"^(?:(?P<registry>[a-zA-Z0-9.-]+(?::[0-9]+)?|localhost(?::[0-9]+)?)/)?"
    r"(?P<repo>[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*)"
    r"(?::(?P<tag>[\w][\w.-]{0,127}))?(?:@(?P<digest>sha256:[a-f0-9]{64}))?$"
)


def fail(msg):
    print(f"read-image: {msg}", file=sys.stderr)
    sys.exit(1)


def load(path):
    doc = json.load(open(path))
    if isinstance(doc, list):  # docker image inspect
        doc = doc[0]
        cfg = doc.get("Config") or {}
        return {
            "labels": cfg.get("Labels") or {},
            "env": cfg.get("Env") or [],
            "entrypoint": cfg.get("Entrypoint") or [],
            "workdir": cfg.get("WorkingDir") or "",
            "diff_ids": (doc.get("RootFS") or {}).get("Layers") or [],
            "os": doc.get("Os"),
            "arch": doc.get("Architecture"),
        }
    cfg = doc.get("config") or {}
    return {
        "labels": cfg.get("Labels") or {},
        "env": cfg.get("Env") or [],
        "entrypoint": cfg.get("Entrypoint") or [],
        "workdir": cfg.get("WorkingDir") or "",
        "diff_ids": (doc.get("rootfs") or {}).get("diff_ids") or [],
        "os": doc.get("os"),
        "arch": doc.get("architecture"),
    }


def label_json(img, key, required=True):
    raw = img["labels"].get(key)
    if raw is None:
        if required:
            fail(f"could not find label {key} on image")
        return None
    try:
        return json.loads(raw)
    except ValueError as e:
        fail(f"label {key} is not JSON: {e}")


def parse_ref(value, what):
    m = REF.match(value or "")
    if not m:
        fail(f"{what} {value!r} is not an image reference")
    return m


def env_value(img, key):
    for kv in img["env"]:
        k, _, v = kv.partition("=")
        if k == key:
            return v
    return ""


def semver(value, what):
    if not re.match(r"^\d+\.\d+(\.\d+)?$", value or ""):
        fail(f"{what} {value!r} is not a version")
    return tuple(int(p) for p in value.split("."))


def pack_inspect(img):
    layers_md = label_json(img, "io.buildpacks.lifecycle.metadata")
    build_md = label_json(img, "io.buildpacks.build.metadata")
    run_image = layers_md.get("runImage") or {}
    stack = (layers_md.get("stack") or {}).get("runImage") or {}
    # pack inspect and pack rebase take the run image name from runImage, else from stack.
    if run_image.get("image"):
        name, mirrors = run_image["image"], run_image.get("mirrors") or []
    else:
        name, mirrors = stack.get("image", ""), stack.get("mirrors") or []
    if not name:
        fail("run image must be specified (no runImage.image nor stack.runImage.image in the metadata)")
    parse_ref(name, "run image")
    for m in mirrors:
        parse_ref(m, "run image mirror")
    top = run_image.get("topLayer", "")
    if top not in img["diff_ids"]:
        fail(f"runImage.topLayer {top!r} is not a layer of the image")
    if not run_image.get("reference"):
        fail("runImage.reference is empty")
    rebasable = img["labels"].get("io.buildpacks.rebasable")
    if rebasable is not None and rebasable not in ("true", "false"):
        fail(f"io.buildpacks.rebasable {rebasable!r} is not a JSON boolean")
    platform_api = env_value(img, "CNB_PLATFORM_API") or "0.3"
    semver(platform_api, "CNB_PLATFORM_API")
    default = ""
    ep = img["entrypoint"]
    if ep and ep[0] != "/cnb/lifecycle/launcher":
        default = ep[0].removeprefix("/cnb/process/")
    processes = build_md.get("processes") or []
    for p in processes:
        if not p.get("type") or not isinstance(p.get("command"), (list, str)):
            fail(f"process {p!r} has no type or command")
    launcher = (build_md.get("launcher") or {}).get("version", "")
    print(f"stack id: {img['labels'].get('io.buildpacks.stack.id', '')}")
    print(f"run image: {name}")
    print(f"mirrors: {','.join(mirrors)}")
    print(f"top layer: {top}")
    print(f"base reference: {run_image.get('reference')}")
    print(f"rebasable: {rebasable}")
    print(f"platform api: {platform_api}")
    print(f"default process: {default}")
    print(f"processes: {','.join(p['type'] for p in processes)}")
    print(f"buildpacks: {','.join(b['id'] + '@' + b.get('version', '') for b in build_md.get('buildpacks') or [])}")
    print(f"launcher version: {launcher}")
    print(f"working dir: {img['workdir']}")
    print(f"platform: {img['os']}/{img['arch']}")


def kpack_completion(img):
    build_md = label_json(img, "io.buildpacks.build.metadata")
    layers_md = label_json(img, "io.buildpacks.lifecycle.metadata")
    reference = (layers_md.get("runImage") or {}).get("reference", "")
    stack_image = ((layers_md.get("stack") or {}).get("runImage") or {}).get("image", "")
    ref = parse_ref(reference, "runImage.reference")
    base = parse_ref(stack_image, "stack.runImage.image")
    identifier = ref.group("digest") or ref.group("tag") or "latest"
    context = (base.group("registry") + "/" if base.group("registry") else "") + base.group("repo")
    print(f"stack id: {img['labels'].get('io.buildpacks.stack.id', '')}")
    print(f"stack run image: {context}@{identifier}")
    print(f"lifecycle version: {(build_md.get('launcher') or {}).get('version', '')}")
    for b in build_md.get("buildpacks") or []:
        print(f"buildpack: {b['id']}@{b.get('version', '')} {b.get('homepage', '')}".rstrip())


def kpack_lifecycle(img):
    descriptor = label_json(img, "io.buildpacks.builder.metadata")
    apis = label_json(img, "io.buildpacks.lifecycle.apis")
    version = (descriptor.get("lifecycle") or {}).get("version", "")
    semver(version, "lifecycle version")
    for kind in ("buildpack", "platform"):
        for key in ("supported", "deprecated"):
            value = (apis.get(kind) or {}).get(key)
            if not isinstance(value, list):
                fail(f"io.buildpacks.lifecycle.apis {kind}.{key} is not a list")
    api = descriptor.get("api") or {}
    print(f"version: {version}")
    print(f"api: buildpack {api.get('buildpack', '')} platform {api.get('platform', '')}")
    print(f"platform apis: {','.join(apis['platform']['supported'])}")
    print(f"buildpack apis: {','.join(apis['buildpack']['supported'])}")


def main():
    if len(sys.argv) != 3:
        fail(__doc__)
    kind, path = sys.argv[1], sys.argv[2]
    img = load(path)
    {"pack-inspect": pack_inspect, "kpack-completion": kpack_completion, "kpack-lifecycle": kpack_lifecycle}.get(
        kind, lambda _: fail(f"unknown reader {kind}")
    )(img)


if __name__ == "__main__":
    main()
