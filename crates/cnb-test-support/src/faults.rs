//! What the phases' fault tests share: a phase run through a [`FaultProxy`], the seeded rounds of
//! a transient test, and the checks after a run (retried to success; refused with one line
//! naming the registry, the request and what to check; the registry whole; a rerun uploading
//! only what was missing).

use std::collections::BTreeSet;

use crate::fault_proxy::{FaultProxy, FaultStats, record, rounds, seed_from_env};
use crate::phase::{PhaseOutput, PhaseRun};
use crate::registry::Registry;
use crate::registry_walk::{blobs_of, walk_all};

impl PhaseRun {
    /// Talks to the registry behind `proxy`: plain HTTP, each wait bounded to 2 s so stalls end
    /// fast, debug logs so a failure shows every retry.
    pub fn through(self, proxy: &FaultProxy) -> Self {
        self.insecure_registry(proxy.host())
            .env("CNB_REGISTRY_TIMEOUT", "2")
            .flag("-log-level", "debug")
    }
}

/// The seeds of a transient test: `CNB_FAULT_SEED` (else one from the clock) and the next ones,
/// one per round (`CNB_FAULT_ROUNDS`).
pub fn seeds() -> impl Iterator<Item = u64> {
    let first = seed_from_env();
    (0..rounds()).map(move |round| first.wrapping_add(round))
}

/// Records a run under transient faults (`CNB_FAULT_REPORT`) and asserts that it succeeded,
/// naming the seed and the faults injected when it did not.
#[track_caller]
pub fn assert_retried(test: &str, seed: u64, stats: &FaultStats, out: &PhaseOutput) {
    let ok = out.status.success();
    record(test, stats, if ok { "ok" } else { "failed" });
    assert!(
        ok,
        "CNB_FAULT_SEED={seed}; faults {:?}\n{}",
        stats.log,
        out.text()
    );
}

/// Records a run under a permanent fault and asserts that it exited `code` and that its last
/// error line holds every one of `parts` (the registry, the request, what to check); returns
/// that line.
#[track_caller]
pub fn assert_refused(
    test: &str,
    stats: &FaultStats,
    out: &PhaseOutput,
    code: i32,
    parts: &[&str],
) -> String {
    record(test, stats, "refused");
    out.assert_exit(code);
    let all = out.text();
    let line = all
        .lines()
        .rev()
        .find(|l| l.contains("ERROR"))
        .unwrap_or_else(|| panic!("no error line: {all}"));
    eprintln!("{line}"); // the message, for --no-capture
    for part in parts {
        assert!(line.contains(part), "'{part}' not in: {line}");
    }
    line.to_string()
}

/// Asserts that `reg` has tags and that none points at a manifest with a missing part.
#[track_caller]
pub fn assert_whole(reg: &Registry, seed: u64, when: &str) {
    let w = walk_all(reg.host(), reg.basic_header().as_deref(), reg.storage_dir());
    assert!(
        w.problems.is_empty() && !w.tags.is_empty(),
        "CNB_FAULT_SEED={seed} {when}: {:?} (tags {:?})",
        w.problems,
        w.tags
    );
}

/// The blobs of the `latest` images of `repos` that were not in `held` (the registry's
/// [`linked_blobs`](crate::registry_walk::linked_blobs) before a rerun), sorted: what the rerun
/// must upload, no more.
pub fn missing_blobs(
    reg: &Registry,
    held: &BTreeSet<(String, String)>,
    repos: &[&str],
) -> Vec<String> {
    let auth = reg.basic_header();
    let mut missing: Vec<String> = repos
        .iter()
        .flat_map(|repo| {
            blobs_of(reg.host(), auth.as_deref(), repo, "latest")
                .into_iter()
                .filter(|d| !held.contains(&(repo.to_string(), d.clone())))
        })
        .collect();
    missing.sort();
    missing
}

/// Asserts that no form of a secret (`forms`: the secret, its base64 forms, tokens) is in
/// `output` nor in any file below `dir`.
#[track_caller]
pub fn assert_no_leak(case: &str, forms: &[String], output: &str, dir: &std::path::Path) {
    let files = crate::files_under(dir).into_iter().map(|p| {
        (
            p.display().to_string(),
            std::fs::read(&p).unwrap_or_default(),
        )
    });
    for (path, bytes) in
        std::iter::once(("the output".to_string(), output.as_bytes().to_vec())).chain(files)
    {
        for form in forms {
            assert!(
                !bytes.windows(form.len()).any(|w| w == form.as_bytes()),
                "{case}: '{form}' in {path}"
            );
        }
    }
}
