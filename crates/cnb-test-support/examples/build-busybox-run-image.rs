//! Builds a multi-arch run image from Debian's busybox-static binaries into an OCI layout:
//! `build-busybox-run-image <layout root> <name> <os/arch=path/to/busybox>...`
//! Each child holds /bin/busybox with /bin/sh and a few applets linked to it, /etc/os-release,
//! /etc/passwd and /etc/group with a `cnb` user (1000:1000), and /tmp; labels as a run image has.
//! `RUN_IMAGE_VERSION` (default `v1`) is written to /etc/run-image-version, so a second build is a
//! different run image to rebase onto.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::sync::Arc;

use cnb_archive::{Compression, LayerBuilder, Owner};
use cnb_image::{Blob, BlobData, ImageBuilder, LayoutStore, Target, oci, save_index};

fn main() {
    let mut args = std::env::args().skip(1);
    let root = args.next().expect("layout root");
    let name = args.next().expect("image name");
    let store = LayoutStore::new(&root);
    let mut children = Vec::new();
    for spec in args {
        let (platform, busybox) = spec.split_once('=').expect("os/arch=path");
        let (os, arch) = platform.split_once('/').expect("os/arch");
        let target = Target::new(os, arch, None);
        let mut layer = LayerBuilder::new(Vec::new(), Compression::Gzip(6));
        layer.add_dir("/bin", 0o755, Owner::ROOT).unwrap();
        layer
            .add_file(
                std::path::Path::new(busybox),
                "/bin/busybox",
                Some(0o755),
                Owner::ROOT,
            )
            .unwrap();
        for applet in ["sh", "echo", "cat", "env", "ls", "uname", "id"] {
            layer
                .add_symlink(&format!("/bin/{applet}"), "busybox", Owner::ROOT)
                .unwrap();
        }
        layer.add_dir("/etc", 0o755, Owner::ROOT).unwrap();
        layer
            .add_bytes(
                "/etc/group",
                b"root:x:0:\ncnb:x:1000:\n",
                0o644,
                Owner::ROOT,
            )
            .unwrap();
        layer
            .add_bytes(
                "/etc/os-release",
                b"ID=busybox\nVERSION_ID=\"1.35\"\nPRETTY_NAME=\"BusyBox run image\"\n",
                0o644,
                Owner::ROOT,
            )
            .unwrap();
        layer
            .add_bytes(
                "/etc/passwd",
                b"root:x:0:0:root:/root:/bin/sh\ncnb:x:1000:1000:cnb:/home/cnb:/bin/sh\n",
                0o644,
                Owner::ROOT,
            )
            .unwrap();
        let version = std::env::var("RUN_IMAGE_VERSION").unwrap_or_else(|_| "v1".into());
        layer
            .add_bytes(
                "/etc/run-image-version",
                format!("{version}\n").as_bytes(),
                0o644,
                Owner::ROOT,
            )
            .unwrap();
        layer.add_dir("/tmp", 0o1777, Owner::ROOT).unwrap();
        let (bytes, d) = layer.finish().unwrap();
        let mut b = ImageBuilder::scratch(&target);
        b.add_layer(
            d.diff_id.parse().unwrap(),
            Blob {
                digest: d.digest.parse().unwrap(),
                size: bytes.len() as u64,
                data: BlobData::Bytes(Arc::from(bytes)),
            },
            oci::OCI_LAYER_GZIP,
            None,
        );
        b.set_env("PATH", "/bin");
        b.set_user("1000:1000");
        b.set_label("io.buildpacks.base.id", "io.example.busybox");
        // Real run images still carry the stack id, which Platform API < 0.12 and kpack read.
        b.set_label("io.buildpacks.stack.id", "io.example.busybox");
        b.set_label("io.buildpacks.base.distro.name", "busybox");
        b.set_label("io.buildpacks.base.distro.version", "1.35");
        b.set_created(cnb_image::NORMALIZED_CREATED);
        let saved = b.save_untagged(&store, &name).unwrap();
        println!("{name} {target} {}", saved.digest);
        children.push((saved.manifest, target));
    }
    let index = save_index(&store, &name, &children).unwrap();
    println!("{name} index {}", index.digest);
}
