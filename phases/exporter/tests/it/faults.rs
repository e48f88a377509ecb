//! Exports through a fault proxy: transient faults (5xx, 429, resets, stalls) on every kind of
//! request are retried and the export succeeds, first and unchanged, with a cache image;
//! permanent ones end with exit 62 and one line naming the registry, the request and what to
//! check. After every run no tag points at a manifest with a missing part, and a rerun after the
//! faults stop uploads only what is missing. `CNB_FAULT_SEED` replays a run; `CNB_FAULT_ROUNDS`
//! runs more seeds (`make faults`).

use std::path::Path;

use cnb_formats::labels::LayersMetadata;
use cnb_formats::report::Report;
use cnb_test_support::fault_proxy::{
    Fault, FaultPlan, FaultProxy, Gateway, Kind, seed_from_env, transient,
};
use cnb_test_support::faults::{
    assert_no_leak, assert_refused, assert_retried, assert_whole, missing_blobs, seeds,
};
use cnb_test_support::fixtures::{four_platforms, save_run_index};
use cnb_test_support::registry::Registry;
use cnb_test_support::registry_walk::{blobs_of, linked_blobs};

use crate::harness::{PhaseOutput, run_image, write};

const USER: &str = "cnb";
const PASSWORD: &str = "upstream-pw";
/// `Basic <base64 cnb:client-pw>`: what the exporter presents to the token service.
const CLIENT_AUTH: &str = "Basic Y25iOmNsaWVudC1wdw==";
/// Every form of every credential and token of these tests.
const SECRETS: [&str; 6] = [
    "client-pw",
    "Y25iOmNsaWVudC1wdw",
    "tok-exporter-faults",
    "dG9rLWV4cG9ydGVyLWZhdWx0cw",
    PASSWORD,
    "Y25iOnVwc3RyZWFtLXB3",
];

/// A build whose run image is behind the proxy.
struct Build {
    build: crate::harness::Build,
    run_ref: String,
    run_name: String,
}

/// A registry holding the run image, a proxy in front of it, and a build's layers dir.
fn setup(plan: FaultPlan) -> (Registry, FaultProxy, Build) {
    let reg = Registry::builder().basic_auth(USER, PASSWORD).start();
    let (_, children) = save_run_index(
        &reg.store(),
        &reg.image("cnb/run:multi"),
        &four_platforms(),
        "r",
    );
    // the proxy plays the registry's token service, so token requests meet faults too
    let gateway = Gateway {
        client: CLIENT_AUTH.into(),
        upstream: reg.basic_header().unwrap(),
        token: "tok-exporter-faults".into(),
        generation: 0,
    };
    let proxy = FaultProxy::start_with(reg.host(), plan, Some(gateway));
    let b = Build {
        build: crate::harness::Build::new("v1"),
        run_ref: format!("{}/cnb/run@{}", proxy.host(), children[0].digest),
        run_name: format!("{}/cnb/run:multi", proxy.host()),
    };
    let layers = &b.build.layers;
    std::fs::remove_dir_all(layers.join("bp")).unwrap();
    write(
        &layers.join("bp/deps.toml"),
        "[types]\ncache = true\nlaunch = true\n",
    );
    change(&b, "v1");
    analyzed(&b, "", LayersMetadata::default());
    (reg, proxy, b)
}

/// New content for the app and the layer (so both need an upload).
fn change(b: &Build, content: &str) {
    write(&b.build.app.join("index.html"), content);
    // big enough that a reset in the middle of its upload or download cuts real bytes
    write(
        &b.build.layers.join("bp/deps/lib.so"),
        content.repeat(100_000),
    );
}

fn analyzed(b: &Build, previous: &str, md: LayersMetadata) {
    b.build
        .analyzed(previous, run_image(&b.run_ref, &b.run_name, None), md);
}

/// Runs the exporter at `-log-level debug`; its output never holds a secret.
fn export(b: &Build, proxy: &FaultProxy) -> PhaseOutput {
    let out = b
        .build
        .exporter("0.15")
        .through(proxy)
        .flag("-cache-image", format!("{}/cnb/cache:latest", proxy.host()))
        .arg(format!("{}/cnb/app:latest", proxy.host()))
        .env(
            "CNB_REGISTRY_AUTH",
            format!(r#"{{"{}":"{CLIENT_AUTH}"}}"#, proxy.host()),
        )
        .run();
    assert_no_secret(&out, &b.build.layers);
    out
}

/// Asserts that no credential, token or their base64 forms are in the output or in any file
/// under the layers dir (report.toml included).
fn assert_no_secret(out: &PhaseOutput, layers: &Path) {
    let forms = SECRETS.map(String::from);
    assert_no_leak("exporter", &forms, &out.text(), layers);
}

/// Feeds the previous export's metadata into analyzed.toml, as the analyzer would.
fn analyze_previous(b: &Build, reg: &Registry, proxy: &FaultProxy) {
    let store = reg.store();
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
    for seed in seeds() {
        let (reg, proxy, b) = setup(transient(seed));
        // first export
        let out = export(&b, &proxy);
        let stats = proxy.reset(transient(seed ^ 1));
        assert_retried("exporter-first", seed, &stats, &out);
        assert_whole(&reg, seed, "after the first export");
        let report: Report = b.build.report();
        // an unchanged re-export on the previous image: reuses everything
        analyze_previous(&b, &reg, &proxy);
        let out = export(&b, &proxy);
        let stats = proxy.reset(FaultPlan::None);
        assert_retried("exporter-reuse", seed, &stats, &out);
        assert_whole(&reg, seed, "after the re-export");
        let again: Report = b.build.report();
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
            out.assert_ok();
            continue;
        }
        assert_retried("exporter-expired-tokens", seed, &stats, &out);
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
    export(&b, &proxy).assert_ok();
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
    let line = assert_refused(
        "exporter-permanent",
        &stats,
        &out,
        62,
        &[proxy.host(), request, hint],
    );
    assert!(!line.contains("_state="), "an upload state in: {line}");
    assert_whole(&reg, 0, "after a permanent fault");
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
    export(&b, &proxy).assert_ok();
    assert_whole(&reg, 0, "after the rerun");
    let stats = proxy.stats();
    let missing = missing_blobs(&reg, &held, &["cnb/app", "cnb/cache"]);
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
