//! Exports through a fault proxy: transient faults (5xx, 429, resets, stalls) on every kind of
//! request are retried and the export succeeds, first and unchanged, with a cache image;
//! permanent ones end with exit 62 and one line naming the registry, the request and what to
//! check. After every run no tag points at a manifest with a missing part, and a rerun after the
//! faults stop uploads only what is missing. `CNB_FAULT_SEED` replays a run; `CNB_FAULT_ROUNDS`
//! runs more seeds (`make faults`).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use cnb_formats::analyzed::{Analyzed, ImageIdentifier, RunImage};
use cnb_formats::labels::LayersMetadata;
use cnb_formats::report::Report;
use cnb_image::registry::{AuthSource, RegistryOptions, RegistryStore};
use cnb_test_support::fault_proxy::{
    Fault, FaultPlan, FaultProxy, Gateway, Kind, record, rounds, seed_from_env, transient,
};
use cnb_test_support::fixtures::{four_platforms, save_run_index};
use cnb_test_support::registry::Registry;
use cnb_test_support::registry_walk::{blobs_of, linked_blobs, walk_all};

const USER: &str = "cnb";
const PASSWORD: &str = "upstream-pw";
/// `Basic <base64 cnb:client-pw>`: what the exporter presents to the token service.
const CLIENT_AUTH: &str = "Basic Y25iOmNsaWVudC1wdw==";

fn store(reg: &Registry) -> RegistryStore {
    let header = reg.basic_header().unwrap();
    RegistryStore::new(RegistryOptions {
        insecure_registries: vec![reg.host().into()],
        auth: AuthSource::new(Some(&format!(r#"{{"{}":"{header}"}}"#, reg.host())), None).unwrap(),
        ..Default::default()
    })
    .unwrap()
}

fn write(path: &Path, content: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, content).unwrap();
}

struct Build {
    _dir: tempfile::TempDir,
    layers: PathBuf,
    app: PathBuf,
    launcher: PathBuf,
    run_ref: String,
    run_name: String,
}

/// A registry holding the run image, a proxy in front of it, and a build's layers dir.
fn setup(plan: FaultPlan) -> (Registry, FaultProxy, Build) {
    let reg = Registry::builder().basic_auth(USER, PASSWORD).start();
    let store = store(&reg);
    let (_, children) = save_run_index(&store, &reg.image("cnb/run:multi"), &four_platforms(), "r");
    // the proxy plays the registry's token service, so token requests meet faults too
    let gateway = Gateway {
        client: CLIENT_AUTH.into(),
        upstream: reg.basic_header().unwrap(),
        token: "tok-exporter-faults".into(),
        generation: 0,
    };
    let proxy = FaultProxy::start_with(reg.host(), plan, Some(gateway));
    let dir = tempfile::tempdir().unwrap();
    let b = Build {
        layers: dir.path().join("layers"),
        app: dir.path().join("workspace"),
        launcher: dir.path().join("launcher"),
        run_ref: format!("{}/cnb/run@{}", proxy.host(), children[0].digest),
        run_name: format!("{}/cnb/run:multi", proxy.host()),
        _dir: dir,
    };
    write(
        &b.layers.join("group.toml"),
        "[[group]]\nid = \"bp\"\nversion = \"1\"\napi = \"0.10\"\n",
    );
    write(
        &b.layers.join("bp/deps.toml"),
        "[types]\ncache = true\nlaunch = true\n",
    );
    write(
        &b.layers.join("config/metadata.toml"),
        "[[buildpacks]]\nid = \"bp\"\nversion = \"1\"\napi = \"0.10\"\n",
    );
    write(&b.launcher, "launcher");
    change(&b, "v1");
    analyzed(&b, "", LayersMetadata::default());
    (reg, proxy, b)
}

/// New content for the app and the layer (so both need an upload).
fn change(b: &Build, content: &str) {
    write(&b.app.join("index.html"), content);
    // big enough that a reset in the middle of its upload or download cuts real bytes
    write(&b.layers.join("bp/deps/lib.so"), &content.repeat(100_000));
}

fn analyzed(b: &Build, previous: &str, md: LayersMetadata) {
    Analyzed {
        image: Some(ImageIdentifier {
            reference: previous.into(),
        }),
        build_image: None,
        run_image: Some(RunImage {
            reference: b.run_ref.clone(),
            image: b.run_name.clone(),
            extend: false,
            target: None,
        }),
        metadata: md,
    }
    .write(&b.layers.join("analyzed.toml"))
    .unwrap();
}

/// Runs the exporter at `-log-level debug`; its output never holds a secret.
fn export(b: &Build, proxy: &FaultProxy) -> Output {
    let image = format!("{}/cnb/app:latest", proxy.host());
    let cache = format!("{}/cnb/cache:latest", proxy.host());
    let out = Command::new(env!("CARGO_BIN_EXE_exporter"))
        .args(["-layers", b.layers.to_str().unwrap()])
        .args(["-app", b.app.to_str().unwrap()])
        .args(["-launcher", b.launcher.to_str().unwrap()])
        .args(["-cache-image", &cache, "-log-level", "debug", &image])
        .env_clear()
        .env("CNB_PLATFORM_API", "0.15")
        .env("CNB_INSECURE_REGISTRIES", proxy.host())
        .env("CNB_REGISTRY_TIMEOUT", "2")
        .env(
            "CNB_REGISTRY_AUTH",
            format!(r#"{{"{}":"{CLIENT_AUTH}"}}"#, proxy.host()),
        )
        .output()
        .unwrap();
    text(&out);
    out
}

/// The run's output; asserts that no credential, token or their base64 forms are in it or in
/// any file under the layers dir (report.toml included).
fn text(out: &Output) -> String {
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let secrets = [
        "client-pw",
        "Y25iOmNsaWVudC1wdw",
        "tok-exporter-faults",
        "dG9rLWV4cG9ydGVyLWZhdWx0cw",
        PASSWORD,
        "Y25iOnVwc3RyZWFtLXB3",
    ];
    for s in secrets {
        assert!(!all.contains(s), "'{s}' leaked into the output: {all}");
    }
    all
}

fn assert_no_secret_in(dir: &Path) {
    for e in walkdir(dir) {
        let bytes = std::fs::read(&e).unwrap_or_default();
        for s in [
            "client-pw",
            "tok-exporter-faults",
            PASSWORD,
            "Y25iOmNsaWVudC1wdw",
        ] {
            assert!(
                !bytes.windows(s.len()).any(|w| w == s.as_bytes()),
                "'{s}' in {}",
                e.display()
            );
        }
    }
}

fn walkdir(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walkdir(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// No tag of the registry points at anything missing.
fn assert_whole(reg: &Registry, seed: u64, when: &str) {
    let w = walk_all(reg.host(), reg.basic_header().as_deref(), reg.storage_dir());
    assert!(
        w.problems.is_empty() && !w.tags.is_empty(),
        "CNB_FAULT_SEED={seed} {when}: {:?} (tags {:?})",
        w.problems,
        w.tags
    );
}

/// Feeds the previous export's metadata into analyzed.toml, as the analyzer would.
fn analyze_previous(b: &Build, reg: &Registry, proxy: &FaultProxy) {
    let store = store(reg);
    let name = reg.image("cnb/app:latest");
    let img = cnb_image::open(
        &store,
        &name,
        &cnb_image::TargetRequest::new(cnb_image::Target::host(), cnb_image::TargetSource::Host),
    )
    .unwrap()
    .required("app")
    .unwrap();
    let md =
        LayersMetadata::from_label(img.label("io.buildpacks.lifecycle.metadata").unwrap()).unwrap();
    let previous = format!("{}/cnb/app@{}", proxy.host(), img.digest());
    analyzed(b, &previous, md);
}

#[test]
fn transient_faults_are_retried_and_the_export_succeeds() {
    let seed = seed_from_env();
    for round in 0..rounds() {
        let seed = seed.wrapping_add(round);
        let (reg, proxy, b) = setup(transient(seed));
        // first export
        let out = export(&b, &proxy);
        let stats = proxy.reset(transient(seed ^ 1));
        record(
            "exporter-first",
            &stats,
            if out.status.success() { "ok" } else { "failed" },
        );
        assert!(
            out.status.success(),
            "CNB_FAULT_SEED={seed} first export; faults {:?}\n{}",
            stats.log,
            text(&out)
        );
        assert_whole(&reg, seed, "after the first export");
        let report: Report = cnb_formats::read_toml(&b.layers.join("report.toml")).unwrap();
        // an unchanged re-export on the previous image: reuses everything
        analyze_previous(&b, &reg, &proxy);
        let out = export(&b, &proxy);
        let stats = proxy.reset(FaultPlan::None);
        record(
            "exporter-reuse",
            &stats,
            if out.status.success() { "ok" } else { "failed" },
        );
        assert!(
            out.status.success(),
            "CNB_FAULT_SEED={seed} re-export; faults {:?}\n{}",
            stats.log,
            text(&out)
        );
        assert_whole(&reg, seed, "after the re-export");
        assert_no_secret_in(&b.layers);
        let again: Report = cnb_formats::read_toml(&b.layers.join("report.toml")).unwrap();
        assert_eq!(
            again.image.digest, report.image.digest,
            "CNB_FAULT_SEED={seed}"
        );
        assert!(
            stats.uploaded.is_empty(),
            "CNB_FAULT_SEED={seed}: an unchanged re-export uploaded {:?}",
            stats.uploaded
        );
    }
}

#[test]
fn tokens_that_expire_in_the_middle_are_renewed_and_the_export_succeeds() {
    let plan = |seed| FaultPlan::Seeded {
        seed,
        rate: 0.2,
        faults: vec![Fault::ExpireToken],
        kinds: Kind::FAULTABLE
            .into_iter()
            .filter(|k| *k != Kind::Token)
            .collect(),
    };
    // the first seed from CNB_FAULT_SEED on whose plan a token does expire
    let first = seed_from_env();
    let mut expired = false;
    for seed in first..first + 10 {
        let (reg, proxy, b) = setup(plan(seed));
        let out = export(&b, &proxy);
        let stats = proxy.reset(FaultPlan::None);
        if stats.total() == 0 {
            assert!(out.status.success(), "{}", text(&out));
            continue;
        }
        record(
            "exporter-expired-tokens",
            &stats,
            if out.status.success() { "ok" } else { "failed" },
        );
        assert!(
            out.status.success(),
            "CNB_FAULT_SEED={seed}; faults {:?}\n{}",
            stats.log,
            text(&out)
        );
        assert_whole(&reg, seed, "after the export");
        expired = true;
        break;
    }
    assert!(
        expired,
        "CNB_FAULT_SEED={first}: no token expired in 10 seeds"
    );
}

/// A permanent fault of `kind`: exit 62 and one line naming the registry, the request and a
/// hint; the registry stays whole and the tag keeps the previous image; then a rerun without
/// faults uploads only what the registry lacks.
fn permanent(kind: Option<Kind>, fault: Fault, request: &str, hint: &str) {
    let (reg, proxy, b) = setup(FaultPlan::None);
    let out = export(&b, &proxy);
    assert!(out.status.success(), "{}", text(&out));
    let before = blobs_of(
        reg.host(),
        reg.basic_header().as_deref(),
        "cnb/app",
        "latest",
    );
    analyze_previous(&b, &reg, &proxy);
    change(&b, "v2");
    proxy.reset(FaultPlan::Always { kind, fault });
    let out = export(&b, &proxy);
    let stats = proxy.reset(FaultPlan::None);
    record("exporter-permanent", &stats, "refused");
    let all = text(&out);
    assert_eq!(out.status.code(), Some(62), "{all}");
    let line = all
        .lines()
        .rev()
        .find(|l| l.contains("ERROR"))
        .unwrap_or_else(|| panic!("no error line: {all}"));
    eprintln!("{line}"); // the message, for --no-capture
    assert!(!line.contains("_state="), "an upload state in: {line}");
    for part in [proxy.host(), request, hint] {
        assert!(line.contains(part), "'{part}' not in: {line}");
    }
    assert_whole(&reg, 0, "after a permanent fault");
    assert_no_secret_in(&b.layers);
    assert_eq!(
        blobs_of(
            reg.host(),
            reg.basic_header().as_deref(),
            "cnb/app",
            "latest"
        ),
        before,
        "the tag moved although the export failed"
    );
    // the faults stop: the rerun succeeds and sends only what is missing
    let held = linked_blobs(reg.storage_dir());
    let out = export(&b, &proxy);
    assert!(out.status.success(), "{}", text(&out));
    assert_whole(&reg, 0, "after the rerun");
    let stats = proxy.stats();
    let mut missing: Vec<String> = ["cnb/app", "cnb/cache"]
        .iter()
        .flat_map(|repo| {
            blobs_of(reg.host(), reg.basic_header().as_deref(), repo, "latest")
                .into_iter()
                .filter(|d| !held.contains(&(repo.to_string(), d.clone())))
                .collect::<Vec<_>>()
        })
        .collect();
    missing.sort();
    let mut uploaded = stats.uploaded.clone();
    uploaded.sort();
    assert_eq!(
        uploaded, missing,
        "the rerun uploads exactly what is missing"
    );
}

#[test]
fn every_manifest_put_failing_exits_62_and_keeps_the_previous_image() {
    permanent(
        Some(Kind::ManifestPut),
        Fault::Status(500),
        "push manifest",
        "check that the registry",
    );
}

#[test]
fn every_upload_failing_exits_62_and_keeps_the_previous_image() {
    permanent(
        Some(Kind::UploadPut),
        Fault::Status(503),
        "push blob",
        "check that the registry",
    );
}

#[test]
fn a_registry_refusing_every_request_exits_62_naming_the_credentials() {
    permanent(
        None,
        Fault::Unauthorized,
        "unauthorized",
        "check the credentials for",
    );
}
