//! Kill loops for the chaos tests: a seeded random source, a phase killed at a chosen moment, and
//! the checks that follow a kill (an OCI layout tag still resolves to a complete image, a directory
//! is one of two snapshots, a registry tag's image is complete). `CNB_CHAOS_RUNS` sets the kills
//! landing in a running phase per case (CI: 5; `make chaos`: 50), `CNB_CHAOS_SEED` replays a run.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use cnb_image::Digest;

use crate::tools::run_tool;
pub use nix::sys::signal::Signal;
use nix::unistd::Pid;

/// Kills per case: `CNB_CHAOS_RUNS`, else 5.
pub fn runs() -> usize {
    std::env::var("CNB_CHAOS_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5)
}

/// Kills per case for SIGTERM and SIGINT, which the phases do not trap either: a fifth of
/// [`runs`], at least 2.
pub fn interrupt_runs() -> usize {
    runs().div_ceil(5).max(2)
}

/// `mib` MiB of incompressible bytes that depend on `seed` (xorshift64), so a phase spends its
/// time hashing, compressing and writing them, and a new seed is new content.
pub fn noise(seed: u64, mib: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut data = Vec::with_capacity(mib << 20);
    while data.len() < mib << 20 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        data.extend_from_slice(&x.to_le_bytes());
    }
    data
}

/// A seeded splitmix64 source (no dependency; the sequence only has to be replayable).
pub struct Rng(u64);

impl Rng {
    /// Seeded from `CNB_CHAOS_SEED`, else the clock; the seed is printed so a failure replays.
    pub fn from_env(case: &str) -> Self {
        let seed = std::env::var("CNB_CHAOS_SEED")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_nanos() as u64)
                    .unwrap_or(1)
            });
        println!("chaos {case}: CNB_CHAOS_SEED={seed}");
        Self(seed)
    }

    /// The next value in [0, 1).
    pub fn fraction(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Runs `cmd` to the end and returns how long it took; panics with its output when it fails.
/// Callers measure a few runs and take the shortest, so kill moments fall inside real runs.
pub fn time_run(cmd: &mut Command) -> Duration {
    let start = Instant::now();
    let out = cmd.output().expect("start the phase");
    assert!(
        out.status.success(),
        "the uninterrupted run failed: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    start.elapsed()
}

/// The shortest of three uninterrupted runs (`run(i)` prepares run `i` and times it with
/// [`time_run`]), printed for the case: kill moments are drawn below it.
pub fn baseline(case: &str, mut run: impl FnMut(u64) -> Duration) -> Duration {
    let took = (0..3).map(&mut run).min().unwrap();
    println!("chaos {case}: an uninterrupted run takes {took:?}");
    took
}

/// How a run that was to be interrupted ended.
#[derive(Debug)]
pub struct Interrupted {
    /// The exit status.
    pub status: ExitStatus,
    /// Whether the signal was sent (false: the phase had finished already).
    pub signalled: bool,
}

impl Interrupted {
    /// Asserts that a run the signal reached died of it (no phase traps SIGTERM or SIGINT).
    #[track_caller]
    pub fn assert_died_of(&self, signal: Signal, run: usize) {
        use std::os::unix::process::ExitStatusExt;
        if self.signalled {
            assert_eq!(
                self.status.signal(),
                Some(signal as i32),
                "run {run}: {:?}",
                self.status
            );
        }
    }
}

/// Starts `cmd`, sends `signal` after `after`, and waits for the end.
pub fn interrupt_at(cmd: &mut Command, after: Duration, signal: Signal) -> Interrupted {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the phase");
    let deadline = Instant::now() + after;
    loop {
        if let Some(status) = child.try_wait().expect("wait for the phase") {
            return Interrupted {
                status,
                signalled: false,
            };
        }
        let now = Instant::now();
        if now >= deadline {
            break;
        }
        std::thread::sleep((deadline - now).min(Duration::from_millis(2)));
    }
    let pid = Pid::from_raw(child.id() as i32);
    let sent = nix::sys::signal::kill(pid, signal);
    let status = child.wait().expect("wait for the phase");
    Interrupted {
        status,
        signalled: sent.is_ok() && !finished_normally(&status),
    }
}

/// Whether the process exited on its own (a zombie not yet reaped still takes the signal).
fn finished_normally(status: &ExitStatus) -> bool {
    use std::os::unix::process::ExitStatusExt;
    status.signal().is_none() && status.code().is_some()
}

/// A directory's content: relative path -> `dir`, `link:<target>` or the file's digest.
pub type Snapshot = BTreeMap<String, String>;

/// Snapshots `dir` (empty when it does not exist); names for which `skip` is true are left out.
pub fn snapshot(dir: &Path, skip: &dyn Fn(&str) -> bool) -> Snapshot {
    let mut out = Snapshot::new();
    walk(dir, dir, skip, &mut out);
    out
}

fn walk(root: &Path, dir: &Path, skip: &dyn Fn(&str) -> bool, out: &mut Snapshot) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let path = e.path();
        let rel = path
            .strip_prefix(root)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        if skip(&rel) {
            continue;
        }
        let md = std::fs::symlink_metadata(&path).unwrap();
        if md.is_dir() {
            out.insert(rel, "dir".into());
            walk(root, &path, skip, out);
        } else if md.file_type().is_symlink() {
            let t = std::fs::read_link(&path).unwrap();
            out.insert(rel, format!("link:{}", t.display()));
        } else {
            let bytes = std::fs::read(&path).unwrap();
            out.insert(rel, Digest::of(&bytes).to_string());
        }
    }
}

/// A cache dir (or launch cache) as its next reader sees it: `committed`, or the
/// `committed-backup` a swap cut short between its two renames left.
pub fn committed_state(cache: &Path) -> Snapshot {
    let committed = cache.join("committed");
    let dir = if committed.is_dir() {
        committed
    } else {
        cache.join("committed-backup")
    };
    snapshot(&dir, &|_| false)
}

/// Temp files left under `dir` (names starting `.tmp-` or ending `.tmp`).
pub fn temp_files(dir: &Path) -> Vec<String> {
    snapshot(dir, &|_| false)
        .into_keys()
        .filter(|p| {
            let name = p.rsplit('/').next().unwrap_or(p);
            name.starts_with(".tmp-") || name.ends_with(".tmp")
        })
        .collect()
}

/// Checks that `tag` in the OCI layout `dir` is a complete, valid image with skopeo (every blob
/// read and verified by a copy) and umoci (config and layers unpacked); returns its manifest digest.
pub fn check_layout_image(dir: &Path, tag: &str) -> String {
    let src = format!("oci:{}:{tag}", dir.display());
    let raw = run_tool(
        Command::new("skopeo").args(["inspect", "--raw", &src]),
        "skopeo inspect",
    );
    let scratch = tempfile::tempdir().unwrap();
    let copy = scratch.path().join("copy");
    run_tool(
        Command::new("skopeo")
            .args(["copy", "-q", &src])
            .arg(format!("dir:{}", copy.display())),
        "skopeo copy",
    );
    run_tool(
        Command::new("umoci")
            .args(["unpack", "--image"])
            .arg(format!("{}:{tag}", dir.display()))
            .arg(scratch.path().join("bundle")),
        "umoci unpack",
    );
    Digest::of(raw.as_bytes()).to_string()
}

/// Checks that `image` (host/repo:tag on a plain-HTTP registry) is complete: every blob copied
/// and verified by skopeo; returns its manifest digest.
pub fn check_registry_image(image: &str) -> String {
    let src = format!("docker://{image}");
    let raw = crate::tools::skopeo_raw(image);
    let scratch = tempfile::tempdir().unwrap();
    run_tool(
        Command::new("skopeo")
            .args(["copy", "-q", "--src-tls-verify=false", &src])
            .arg(format!("dir:{}", scratch.path().join("copy").display())),
        "skopeo copy",
    );
    Digest::of(raw.as_bytes()).to_string()
}

/// Tallies a kill loop for the report line the docs quote.
#[derive(Debug, Default)]
pub struct Tally {
    /// Signals sent.
    pub kills: usize,
    /// Runs that had finished before the signal.
    pub finished: usize,
    /// Runs after which every part (image, cache) was the old one.
    pub old: usize,
    /// Runs after which every part was the new one.
    pub new: usize,
    /// Runs after which some parts were new and others old (say the new image and the old cache:
    /// each is whole, they are written one after the other).
    pub mixed: usize,
}

impl Tally {
    /// Whether the loop is over: `kills` signals landed in a running phase, or three times as
    /// many runs were tried (then the caller's count check fails: the timing is off).
    pub fn done(&self, kills: usize) -> bool {
        self.kills >= kills || self.kills + self.finished >= 3 * kills
    }

    /// Counts one interrupted run: a kill, or a run that had ended before its signal.
    pub fn count(&mut self, run: &Interrupted) {
        self.kills += usize::from(run.signalled);
        self.finished += usize::from(!run.signalled);
    }

    /// Counts one run from whether each part ended up new (each was checked to be old or new).
    pub fn record(&mut self, parts_new: &[bool]) {
        if parts_new.iter().all(|n| *n) {
            self.new += 1;
        } else if parts_new.iter().any(|n| *n) {
            self.mixed += 1;
        } else {
            self.old += 1;
        }
    }

    /// Prints `chaos <case>: <kills> kills, ...` (grepped by `make chaos`).
    pub fn report(&self, case: &str) {
        println!(
            "chaos {case}: {} signals sent ({} runs had ended), after them {} old, {} new, {} old+new parts; 0 lost or corrupted",
            self.kills, self.finished, self.old, self.new, self.mixed
        );
    }
}

/// The entries where two snapshots differ, for a failure message.
pub fn diff(a: &Snapshot, b: &Snapshot) -> Vec<String> {
    let keys: std::collections::BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    keys.into_iter()
        .filter(|k| a.get(*k) != b.get(*k))
        .map(|k| format!("{k}: {:?} vs {:?}", a.get(k), b.get(k)))
        .collect()
}
