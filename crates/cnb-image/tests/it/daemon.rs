//! The daemon backend against a real dockerd: images loaded by the docker CLI (through skopeo,
//! independent of our code) are read; images we save are what `docker image inspect` and
//! `docker run` see; unchanged stacks travel as placeholders, an identical image is only tagged,
//! and a rebase exports only the image being rebased. (Running a saved image is the phases'
//! end-to-end test: these fixtures have no shell.)

use cnb_image::daemon::{DaemonStore, Endpoint};
use cnb_image::{
    BlobStore, ImageBuilder, LayoutStore, Opened, Target, TargetRequest, TargetSource, open,
};
use cnb_test_support::dockerd::Dockerd;
use cnb_test_support::fixtures::{image, run_image};

fn request(arch: &str) -> TargetRequest {
    TargetRequest::new(Target::new("linux", arch, None), TargetSource::Flags)
}

/// A daemon holding `test/run:amd64`, `test/run:arm64` and `test/run:v2` (amd64).
fn daemon_with_run_images() -> (Dockerd, tempfile::TempDir) {
    let d = Dockerd::start();
    let dir = tempfile::tempdir().unwrap();
    let layouts = LayoutStore::new(dir.path());
    for (name, arch, marker) in [
        ("l.test/run:amd64", "amd64", "v1"),
        ("l.test/run:arm64", "arm64", "v1"),
        ("l.test/run:v2", "amd64", "v2"),
    ] {
        run_image(&Target::new("linux", arch, None), marker)
            .save(&layouts, &[name.into()])
            .unwrap();
        let tag = name.rsplit(':').next().unwrap();
        d.load_layout(
            &dir.path().join("l.test/run").join(tag),
            tag,
            arch,
            &format!("test/run:{tag}"),
        );
    }
    (d, dir)
}

fn inspect(d: &Dockerd, name: &str, format: &str) -> String {
    d.docker(&["image", "inspect", "--format", format, name])
        .trim()
        .to_string()
}

#[test]
fn reads_saves_tags_and_rebases_through_the_daemon() {
    let (d, _dir) = daemon_with_run_images();
    let store = DaemonStore::connect(Endpoint::Unix(d.socket()), std::env::temp_dir()).unwrap();

    // Read: platform, labels and the daemon's image ID as the identifier.
    let run = open(&store, "test/run:amd64", &request("amd64"))
        .unwrap()
        .required("run")
        .unwrap();
    assert_eq!(run.label("io.buildpacks.base.distro.name"), Some("ubuntu"));
    assert_eq!(
        run.identifier,
        inspect(&d, "test/run:amd64", "{{.Id}}").trim_start_matches("sha256:")
    );
    // One platform per image: another arch is a mismatch the caller decides on.
    match open(&store, "test/run:arm64", &request("amd64")).unwrap() {
        Opened::PlatformMismatch { found, .. } => assert_eq!(found.arch, "arm64"),
        other => panic!("expected a platform mismatch, got {other:?}"),
    }
    assert!(matches!(
        open(&store, "test/missing:latest", &request("amd64")).unwrap(),
        Opened::NotFound
    ));

    // Save: the base stack is known, so only the new layer travels; two names.
    let mut app = ImageBuilder::from_base(&run);
    let layer = image(
        &Target::new("linux", "amd64", None),
        &[("/app/hello", "hi from app")],
        &[],
    );
    let added = open_layer_of(&layer);
    app.add_layer(
        added.0.clone(),
        added.1,
        cnb_image::oci::OCI_LAYER_GZIP,
        None,
    );
    app.set_label("k", "v");
    app.set_cmd(Some(vec!["cat".into(), "/app/hello".into()]));
    let saved = app
        .save(&store, &["test/app:latest".into(), "test/app:v1".into()])
        .unwrap();
    assert_eq!(
        saved.identifier,
        inspect(&d, "test/app:v1", "{{.Id}}").trim_start_matches("sha256:")
    );
    assert_eq!(
        inspect(&d, "test/app:latest", "{{index .Config.Labels \"k\"}}"),
        "v"
    );
    assert_eq!(
        inspect(&d, "test/app:latest", "{{len .RootFS.Layers}}"),
        "2"
    );
    assert_eq!(d.count_calls("GET", "/get"), 0, "no image was exported");
    let loads = d.count_calls("POST", "/images/load");

    // The same image again: tagged, not loaded.
    app.save(&store, &["test/app:again".into()]).unwrap();
    assert_eq!(d.count_calls("POST", "/images/load"), loads);
    assert_eq!(
        inspect(&d, "test/app:again", "{{.Id}}"),
        inspect(&d, "test/app:latest", "{{.Id}}")
    );

    // Reading a layer's bytes exports the image once and verifies the diffID.
    let fresh = DaemonStore::connect(Endpoint::Unix(d.socket()), std::env::temp_dir()).unwrap();
    let app_img = open(&fresh, "test/app:latest", &request("amd64"))
        .unwrap()
        .required("app")
        .unwrap();
    let top = app_img.top_layer().unwrap().clone();
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(
        &mut fresh.blob("test/app:latest", &top).unwrap(),
        &mut bytes,
    )
    .unwrap();
    assert_eq!(cnb_image::Digest::of(&bytes), top);
    assert_eq!(d.count_calls("GET", "/get"), 1);

    // Rebase onto v2: the app layer's new stack is unknown to the daemon, so its bytes come
    // from an export of the app image (already exported by `fresh`, so none more).
    let v2 = open(&fresh, "test/run:v2", &request("amd64"))
        .unwrap()
        .required("v2")
        .unwrap();
    let mut rebased = ImageBuilder::from_base(&app_img);
    rebased.rebase(run.top_layer().unwrap(), &v2).unwrap();
    rebased.save(&fresh, &["test/app:rebased".into()]).unwrap();
    assert_eq!(
        inspect(&d, "test/app:rebased", "{{index .RootFS.Layers 0}}"),
        v2.top_layer().unwrap().to_string()
    );
    assert_eq!(d.count_calls("GET", "/get"), 1);
}

/// The (diffID, blob) of the single layer of a fixture image.
fn open_layer_of(b: &ImageBuilder) -> (cnb_image::Digest, cnb_image::Blob) {
    let dir = tempfile::tempdir().unwrap();
    let store = LayoutStore::new(dir.path());
    b.save(&store, &["x.test/l:1".into()]).unwrap();
    let img = open(&store, "x.test/l:1", &request("amd64"))
        .unwrap()
        .required("l")
        .unwrap();
    let l = img.layers().remove(0);
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(
        &mut store.blob("x.test/l:1", &l.digest).unwrap(),
        &mut bytes,
    )
    .unwrap();
    (
        l.diff_id,
        cnb_image::Blob {
            digest: l.digest,
            size: bytes.len() as u64,
            data: cnb_image::BlobData::Bytes(std::sync::Arc::from(bytes)),
        },
    )
}

/// The one connection outlives an idle timeout that closes quiet connections (a socket proxy),
/// because the store pings it; without the pings the connection is closed and cannot be opened
/// again (the proxy, like the root-owned socket after a privilege drop, takes no new
/// connection), and the next request fails.
#[test]
fn keep_alive_pings_outlast_an_idle_timeout() {
    use cnb_test_support::idle_proxy::IdleProxy;
    use std::time::Duration;
    let d = Dockerd::start();
    let idle = Duration::from_millis(1500);
    let kept_proxy = IdleProxy::start(&d.socket(), idle);
    let kept = DaemonStore::connect_with_keepalive(
        Endpoint::Unix(kept_proxy.socket()),
        std::env::temp_dir(),
        Some(Duration::from_millis(300)),
    )
    .unwrap();
    let bare_proxy = IdleProxy::start(&d.socket(), idle);
    let bare = DaemonStore::connect_with_keepalive(
        Endpoint::Unix(bare_proxy.socket()),
        std::env::temp_dir(),
        None,
    )
    .unwrap();

    std::thread::sleep(idle * 3);
    assert!(
        bare_proxy.closed_idle(),
        "the proxy closes a quiet connection"
    );
    assert!(
        !kept_proxy.closed_idle(),
        "the pings keep the connection busy"
    );
    assert!(kept.manifest("test/absent:latest").unwrap().is_none());
    let err = bare.manifest("test/absent:latest").unwrap_err().to_string();
    eprintln!("idle-closed: {err}");
    assert!(
        err.contains("test/absent:latest") && !err.contains('\n'),
        "{err}"
    );
    assert!(
        d.count_calls("GET", "/_ping") >= 5,
        "pings went to the daemon"
    );
}
