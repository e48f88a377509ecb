//! `extender -kind build`: the build Dockerfiles change the build image in place, then the build
//! runs as the build user and its buildpacks see the change; a failing RUN names the extension
//! and the line.

use cnb_formats::analyzed::Analyzed;

use super::sandbox::{EXTENSION, Sandbox, text, write};

const BUILD_DOCKERFILE: &str = "ARG base_image
FROM ${base_image}
ARG user_id
USER root
RUN mkdir -p /opt/ext/bin && echo \"made for $user_id\" > /opt/ext/file \\
  && printf '#!/bin/sh\\necho tool\\n' > /opt/ext/bin/ext-tool && chmod 755 /opt/ext/bin/ext-tool
ENV PATH=/opt/ext/bin:$PATH
COPY --chown=${user_id}:${user_id} greeting /opt/ext/
USER ${user_id}
";

fn build_inputs(s: &Sandbox) {
    write(
        &s.layers.join("group.toml"),
        &format!(
            "[[group]]\nid = \"bp\"\nversion = \"1\"\napi = \"0.10\"\n\n[[group-extensions]]\nid = \"{EXTENSION}\"\nversion = \"1\"\napi = \"0.10\"\n"
        ),
    );
    write(&s.layers.join("plan.toml"), "");
    Analyzed::default()
        .write(&s.layers.join("analyzed.toml"))
        .unwrap();
    let bp = s.rootfs.join("cnb/buildpacks/bp/1");
    write(
        &bp.join("buildpack.toml"),
        "api = \"0.10\"\n[buildpack]\nid = \"bp\"\nversion = \"1\"\n",
    );
    write(
        &bp.join("bin/build"),
        "#!/bin/sh\nset -e\n{ cat /opt/ext/file; id -u; ext-tool; cat /opt/ext/greeting; } > \"$CNB_LAYERS_DIR/seen\"\n",
    );
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(bp.join("bin/build"), std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn the_build_runs_as_the_build_user_on_the_extended_build_image() {
    let s = Sandbox::new();
    build_inputs(&s);
    s.dockerfile("build", BUILD_DOCKERFILE);
    write(
        &s.layers.join("generated/ext_hello/context/greeting"),
        "hello from the context\n",
    );
    let out = s.extender(
        &["-app", "/workspace", "-log-level", "debug"],
        &[
            ("CNB_PLATFORM_API", "0.13"),
            ("CNB_USER_ID", "1000"),
            ("CNB_GROUP_ID", "1000"),
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    let seen = std::fs::read_to_string(s.layers.join("bp/seen")).unwrap();
    assert_eq!(
        seen,
        "made for 1000\n1000\ntool\nhello from the context\n",
        "{}",
        text(&out)
    );
    // Applied in place, by root: the file is in the image's file system.
    assert!(s.rootfs.join("opt/ext/file").is_file());
    assert!(s.layers.join("config/metadata.toml").is_file());
    use std::os::unix::fs::MetadataExt;
    let md = std::fs::metadata(s.rootfs.join("opt/ext/greeting")).unwrap();
    assert_eq!((md.uid(), md.gid()), (1000, 1000), "COPY --chown");
}

#[test]
fn copy_stays_inside_the_build_context() {
    for (source, why) in [
        ("../../group.toml", "outside the build context"),
        ("https://example.com/x", "from a url"),
    ] {
        let s = Sandbox::new();
        build_inputs(&s);
        write(&s.layers.join("generated/ext_hello/context/ok"), "ok");
        s.dockerfile(
            "build",
            &format!("ARG base_image\nFROM ${{base_image}}\nCOPY {source} /x\n"),
        );
        let out = s.extender(&["-app", "/workspace"], &[("CNB_PLATFORM_API", "0.13")]);
        assert_eq!(out.status.code(), Some(102), "{}", text(&out));
        assert!(
            text(&out).to_lowercase().contains(why) && text(&out).contains("build.Dockerfile:3"),
            "{}",
            text(&out)
        );
        assert!(!s.rootfs.join("x").exists());
    }
}

#[test]
fn copy_globs_match_in_the_context_and_chmod_sets_the_mode() {
    let s = Sandbox::new();
    build_inputs(&s);
    let context = s.layers.join("generated/ext_hello/context");
    for f in ["a.conf", "b.conf", "c.txt", "sub/d.conf"] {
        write(&context.join(f), f);
    }
    s.dockerfile(
        "build",
        "ARG base_image\nFROM ${base_image}\nCOPY --chmod=640 *.conf /etc/ext/\nCOPY ?.txt /etc/ext/\n",
    );
    let out = s.extender(&["-app", "/workspace"], &[("CNB_PLATFORM_API", "0.13")]);
    let names = |dir: &str| -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(s.rootfs.join(dir))
            .map(|rd| {
                rd.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    };
    assert_eq!(
        names("etc/ext"),
        ["a.conf", "b.conf", "c.txt"],
        "{}",
        text(&out)
    );
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(s.rootfs.join("etc/ext/a.conf"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o7777, 0o640, "--chmod");

    // A pattern that matches nothing is an error, as in Docker.
    s.dockerfile(
        "build",
        "ARG base_image\nFROM ${base_image}\nCOPY *.none /etc/ext/\n",
    );
    let out = s.extender(&["-app", "/workspace"], &[("CNB_PLATFORM_API", "0.13")]);
    assert_eq!(out.status.code(), Some(102), "{}", text(&out));
    assert!(
        text(&out).contains("'*.none': no source files were specified"),
        "{}",
        text(&out)
    );
}

/// A gzip tar of `entries` (path, content) at `path`; paths are written as given, `..` included.
fn tar_gz(path: &std::path::Path, entries: &[(&str, &str)]) {
    let mut b = tar::Builder::new(flate2::write::GzEncoder::new(
        std::fs::File::create(path).unwrap(),
        flate2::Compression::fast(),
    ));
    for (name, content) in entries {
        let mut h = tar::Header::new_ustar();
        h.as_ustar_mut().unwrap().name[..name.len()].copy_from_slice(name.as_bytes());
        h.set_size(content.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        b.append(&h, content.as_bytes()).unwrap();
    }
    b.into_inner().unwrap().finish().unwrap();
}

#[test]
fn add_unpacks_a_local_tar_inside_its_destination_only() {
    let s = Sandbox::new();
    build_inputs(&s);
    let context = s.layers.join("generated/ext_hello/context");
    std::fs::create_dir_all(&context).unwrap();
    tar_gz(&context.join("tool.tgz"), &[("bin/tool", "unpacked\n")]);
    write(&context.join("plain.txt"), "as is\n");
    s.dockerfile(
        "build",
        "ARG base_image\nFROM ${base_image}\nADD tool.tgz /opt/tool/\nADD plain.txt /opt/\nCOPY tool.tgz /opt/\n",
    );
    let out = s.extender(&["-app", "/workspace"], &[("CNB_PLATFORM_API", "0.13")]);
    let read = |p: &str| std::fs::read_to_string(s.rootfs.join(p)).unwrap_or_default();
    assert_eq!(read("opt/tool/bin/tool"), "unpacked\n", "{}", text(&out));
    assert_eq!(read("opt/plain.txt"), "as is\n");
    assert!(
        s.rootfs.join("opt/tool.tgz").is_file(),
        "COPY never unpacks"
    );

    // An archive entry that climbs out of the destination is refused, and nothing lands there.
    tar_gz(&context.join("evil.tgz"), &[("../../escaped", "x")]);
    s.dockerfile(
        "build",
        "ARG base_image\nFROM ${base_image}\nADD evil.tgz /opt/evil/\n",
    );
    let out = s.extender(&["-app", "/workspace"], &[("CNB_PLATFORM_API", "0.13")]);
    assert_eq!(out.status.code(), Some(102), "{}", text(&out));
    assert!(text(&out).contains("unpack 'evil.tgz'"), "{}", text(&out));
    assert!(!s.rootfs.join("escaped").exists() && !s.rootfs.join("opt/escaped").exists());
}

#[test]
fn a_failing_run_exits_102_naming_the_extension_and_the_line() {
    let s = Sandbox::new();
    build_inputs(&s);
    s.dockerfile(
        "build",
        "ARG base_image\nFROM ${base_image}\nRUN echo fine\nRUN false\n",
    );
    let out = s.extender(&["-app", "/workspace"], &[("CNB_PLATFORM_API", "0.13")]);
    assert_eq!(out.status.code(), Some(102), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let line = stderr
        .lines()
        .find(|l| l.contains("build.Dockerfile:4"))
        .unwrap_or_else(|| panic!("{stderr}"));
    assert!(line.contains(EXTENSION), "{line}");
    assert!(
        !s.layers.join("bp").exists(),
        "no build after a failed extension"
    );

    // Below Platform API 0.13 Dockerfiles are experimental, as upstream.
    let out = s.extender(&["-app", "/workspace"], &[("CNB_PLATFORM_API", "0.12")]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("experimental feature 'Dockerfiles'"));
}
