//! `-index`: builds of different platforms join one image index, in a real registry and in an
//! OCI layout, also when they all finish at once; the entry of the same platform is replaced; a
//! single image under the index tag and `-daemon` are refused. Read back with skopeo and umoci.

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};

use cnb_formats::labels::LayersMetadata;
use cnb_formats::report::Report;
use cnb_image::oci::Index;
use cnb_image::{BlobStore, Digest, LayoutStore, Target};
use cnb_test_support::fixtures::{eight_platforms, save_run_image, save_run_index};
use cnb_test_support::registry::Registry;

use crate::harness::{PhaseRun, ok, run_image};

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Where the images go: a registry or a layout root.
enum Backend<'a> {
    Registry(&'a Registry),
    Layout(&'a Path),
    /// No store flags (the refusals come before any store is opened).
    Unset,
}

/// One build's layers dir, app and launcher, as the builder leaves them for one platform.
struct Build(crate::harness::Build);

impl Build {
    fn new(run_reference: &str, target: &Target, app: &str) -> Build {
        let b = crate::harness::Build::new(app);
        b.analyzed(
            "",
            run_image(run_reference, "run", Some(target)),
            LayersMetadata::default(),
        );
        Build(b)
    }

    fn exporter(&self, backend: &Backend, args: &[&str]) -> PhaseRun {
        let run = self.0.exporter("0.15").env("CNB_EXPERIMENTAL_MODE", "warn");
        let run = match backend {
            Backend::Registry(reg) => run.insecure_registry(reg.host()),
            Backend::Layout(root) => run.layout(root),
            Backend::Unset => run,
        };
        run.args(args)
    }

    fn command(&self, backend: &Backend, args: &[&str]) -> Command {
        self.exporter(backend, args).into_command()
    }

    fn spawn(&self, backend: &Backend, args: &[&str]) -> Child {
        self.command(backend, args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    }

    fn run(&self, backend: &Backend, args: &[&str]) -> Output {
        self.exporter(backend, args).run().output
    }

    fn report(&self) -> Report {
        self.0.report()
    }
}

fn read_index(store: &dyn BlobStore, name: &str) -> (Index, Digest) {
    let raw = store.manifest(name).unwrap().expect("the index exists");
    (serde_json::from_slice(&raw.bytes).unwrap(), raw.digest)
}

/// The index's entries as (platform, child digest), in its order.
fn entries(index: &Index) -> Vec<(Target, Digest)> {
    index
        .manifests
        .iter()
        .map(|m| (m.platform.as_ref().unwrap().target(), m.digest.clone()))
        .collect()
}

/// The eight builds, all started at once; each report's digest is the image that must be in
/// the index for its platform.
fn export_all_at_once(
    builds: &[(Target, Build)],
    backend: &Backend,
    name: &dyn Fn(&Target) -> String,
    index: &str,
) -> Vec<(Target, Digest)> {
    let children: Vec<Child> = builds
        .iter()
        .map(|(t, b)| b.spawn(backend, &["-index", index, &name(t)]))
        .collect();
    for c in children {
        ok(&c.wait_with_output().unwrap());
    }
    builds
        .iter()
        .map(|(t, b)| (t.clone(), b.report().image.digest.parse().unwrap()))
        .collect()
}

fn assert_same_set(mut got: Vec<(Target, Digest)>, mut want: Vec<(Target, Digest)>) {
    let key = |e: &(Target, Digest)| e.0.to_string();
    got.sort_by_key(key);
    want.sort_by_key(key);
    assert_eq!(got, want);
}

fn arch_tag(t: &Target) -> String {
    t.to_string().replace('/', "-")
}

#[test]
fn two_platforms_join_one_registry_index_and_a_rebuild_replaces_its_own_entry() {
    let reg = Registry::start();
    let store = reg.store();
    let platforms = eight_platforms();
    let (_, run) = save_run_index(&store, &reg.image("cnb/run:multi"), &platforms, "r");
    let run_ref = |i: usize| format!("{}/cnb/run@{}", reg.host(), run[i].digest);
    let index = reg.image("cnb/app:latest");
    let backend = Backend::Registry(&reg);
    let amd = Build::new(&run_ref(0), &platforms[0], "v1");
    let arm = Build::new(&run_ref(1), &platforms[1], "v1");
    // The images live in repositories of their own: the index's repository gets the children
    // by reference (blob mounts and the manifest by digest).
    for (b, arch) in [(&amd, "amd64"), (&arm, "arm64")] {
        let out = b.run(
            &backend,
            &["-index", &index, &reg.image(&format!("cnb/app-{arch}:v1"))],
        );
        ok(&out);
        assert!(
            text(&out.stdout).contains("*** Index:"),
            "{}",
            text(&out.stdout)
        );
    }
    let (idx, digest) = read_index(&store, &index);
    assert_eq!(
        entries(&idx),
        vec![
            (
                platforms[0].clone(),
                amd.report().image.digest.parse().unwrap()
            ),
            (
                platforms[1].clone(),
                arm.report().image.digest.parse().unwrap()
            ),
        ]
    );
    assert_eq!(arm.report().image.index_digest, digest.to_string());
    assert_eq!(arm.report().image.tags, [reg.image("cnb/app-arm64:v1")]);

    // skopeo reads the index and, through it, each child (stored in the index's repository).
    let sk = |args: &[&str]| {
        let out = Command::new("skopeo")
            .arg("inspect")
            .arg("--tls-verify=false")
            .args(args)
            .output()
            .unwrap();
        ok(&out);
        out.stdout
    };
    let raw = sk(&["--raw", &format!("docker://{index}")]);
    assert_eq!(Digest::of(&raw), digest, "skopeo reads the index we report");
    for (t, d) in entries(&idx) {
        let cfg: serde_json::Value =
            serde_json::from_slice(&sk(&[&format!("docker://{}/cnb/app@{d}", reg.host())]))
                .unwrap();
        assert_eq!(cfg["Architecture"], t.arch.as_str());
    }

    // A changed amd64 build replaces the amd64 entry in place and keeps arm64.
    let amd2 = Build::new(&run_ref(0), &platforms[0], "v2");
    ok(&amd2.run(
        &backend,
        &["-index", &index, &reg.image("cnb/app-amd64:v1")],
    ));
    let new_amd: Digest = amd2.report().image.digest.parse().unwrap();
    assert_ne!(new_amd.to_string(), amd.report().image.digest);
    let (idx, _) = read_index(&store, &index);
    assert_eq!(
        entries(&idx),
        vec![
            (platforms[0].clone(), new_amd),
            (
                platforms[1].clone(),
                arm.report().image.digest.parse().unwrap()
            ),
        ]
    );
}

#[test]
fn eight_platforms_finishing_together_all_land_in_the_registry_index() {
    let reg = Registry::start();
    let store = reg.store();
    let platforms = eight_platforms();
    let (_, run) = save_run_index(&store, &reg.image("cnb/run:multi"), &platforms, "r");
    let backend = Backend::Registry(&reg);
    let name = |t: &Target| reg.image(&format!("cnb/app:{}", arch_tag(t)));
    // Rounds: a new index, the same index with every platform rebuilt (replacements racing
    // with stale writers that still hold the old entries), another new index.
    for (round, (tag, app)) in [("one", "v1"), ("one", "v2"), ("two", "v3")]
        .into_iter()
        .enumerate()
    {
        let builds: Vec<(Target, Build)> = platforms
            .iter()
            .enumerate()
            .map(|(i, t)| {
                let r = format!("{}/cnb/run@{}", reg.host(), run[i].digest);
                (t.clone(), Build::new(&r, t, &format!("{app} {t}")))
            })
            .collect();
        let index = reg.image(&format!("cnb/app:{tag}"));
        let want = export_all_at_once(&builds, &backend, &name, &index);
        let (idx, _) = read_index(&store, &index);
        assert_eq!(idx.manifests.len(), 8, "round {round}: {:?}", entries(&idx));
        assert_same_set(entries(&idx), want);
        // skopeo agrees on the list.
        let raw = cnb_test_support::tools::skopeo_raw(&index);
        let listed: Index = serde_json::from_str(&raw).unwrap();
        assert_eq!(listed.manifests.len(), 8);
    }
}

#[test]
fn eight_platforms_finishing_together_all_land_in_the_layout_index() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("repo");
    let store = LayoutStore::new(&root);
    let platforms = eight_platforms();
    let (_, run) = save_run_index(&store, "r.test/run:multi", &platforms, "r");
    let backend = Backend::Layout(&root);
    let name = |t: &Target| format!("r.test/app:{}", arch_tag(t));
    for (tag, app) in [("one", "v1"), ("one", "v2"), ("two", "v3")] {
        let builds: Vec<(Target, Build)> = platforms
            .iter()
            .enumerate()
            .map(|(i, t)| {
                let r = format!(
                    "{}@{}",
                    root.join("r.test/run/multi").display(),
                    run[i].digest
                );
                (t.clone(), Build::new(&r, t, &format!("{app} {t}")))
            })
            .collect();
        let index = format!("r.test/app:{tag}");
        let want = export_all_at_once(&builds, &backend, &name, &index);
        let (idx, digest) = read_index(&store, &index);
        assert_same_set(entries(&idx), want.clone());
        assert!(
            !builds[0].1.report().image.index_digest.is_empty(),
            "report.toml names the index"
        );
        let layout = root.join("r.test/app").join(tag);
        let out = Command::new("skopeo")
            .args(["inspect", "--raw"])
            .arg(format!("oci:{}:{tag}", layout.display()))
            .output()
            .unwrap();
        ok(&out);
        assert_eq!(Digest::of(&out.stdout), digest);
        // umoci reads every child from the index's own layout: each gets a name of its own in
        // a copy of index.json (blobs shared by hard links).
        let copy = dir.path().join(format!("copy-{tag}-{app}"));
        std::fs::create_dir_all(copy.join("blobs/sha256")).unwrap();
        for f in std::fs::read_dir(layout.join("blobs/sha256")).unwrap() {
            let f = f.unwrap();
            std::fs::hard_link(f.path(), copy.join("blobs/sha256").join(f.file_name())).unwrap();
        }
        std::fs::copy(layout.join("oci-layout"), copy.join("oci-layout")).unwrap();
        let mut named = idx.clone();
        for m in &mut named.manifests {
            let t = arch_tag(&m.platform.as_ref().unwrap().target());
            m.annotations
                .insert("org.opencontainers.image.ref.name".into(), t);
        }
        std::fs::write(copy.join("index.json"), serde_json::to_vec(&named).unwrap()).unwrap();
        for (t, _) in &want {
            let out = Command::new("umoci")
                .args(["stat", "--image"])
                .arg(format!("{}:{}", copy.display(), arch_tag(t)))
                .output()
                .unwrap();
            ok(&out);
        }
    }
}

#[test]
fn a_single_image_under_the_index_tag_is_refused() {
    let reg = Registry::start();
    let store = reg.store();
    let platforms = eight_platforms();
    let (_, run) = save_run_index(&store, &reg.image("cnb/run:multi"), &platforms, "r");
    let index = reg.image("cnb/app:latest");
    save_run_image(&store, &index, &platforms[0], "not an index");
    let b = Build::new(
        &format!("{}/cnb/run@{}", reg.host(), run[0].digest),
        &platforms[0],
        "v1",
    );
    let out = b.run(
        &Backend::Registry(&reg),
        &["-index", &index, &reg.image("cnb/app:amd64")],
    );
    assert_eq!(out.status.code(), Some(62), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(
        err.contains(&format!("'{index}' is a single image, not an index")),
        "{err}"
    );
}

#[test]
fn index_is_refused_with_daemon_outside_experimental_mode_and_as_an_image_name() {
    let b = Build::new("r.test/run@sha256:00", &eight_platforms()[0], "v1");
    let layout = Backend::Unset;
    // No daemon is needed: the refusal comes before any backend is opened.
    let out = b.run(
        &layout,
        &["-index", "r.test/app:latest", "-daemon", "r.test/app:amd64"],
    );
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(
        err.contains("-index cannot be used with -daemon") && err.trim().lines().count() == 1,
        "{err}"
    );
    let out = b.run(&layout, &["-index", "r.test/app:amd64", "r.test/app:amd64"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("also a name of the image"));
    let out = b
        .command(
            &layout,
            &["-index", "r.test/app:latest", "r.test/app:amd64"],
        )
        .env_remove("CNB_EXPERIMENTAL_MODE")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("experimental feature 'image index' is disabled"));
    // Before Platform API 0.12 the flag does not exist.
    let out = b
        .command(
            &layout,
            &["-index", "r.test/app:latest", "r.test/app:amd64"],
        )
        .env("CNB_PLATFORM_API", "0.11")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
}
