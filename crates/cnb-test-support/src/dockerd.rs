//! A real Docker daemon for tests: Debian's `dockerd` (docker.io 20.10) started with its own
//! data, exec root and socket in a temporary directory (vfs storage, no iptables, no bridge),
//! with API debug logging so a test can count calls, and killed by PID when dropped.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

/// The daemon binary (Debian package `docker.io`).
pub const DOCKERD_BIN: &str = "/usr/sbin/dockerd";

/// A running dockerd.
pub struct Dockerd {
    child: Child,
    dir: TempDir,
}

impl Dockerd {
    /// Starts a daemon and waits until it answers `/_ping`.
    pub fn start() -> Dockerd {
        // A short path: unix socket paths are limited to 108 bytes.
        let dir = tempfile::Builder::new()
            .prefix("dkd")
            .tempdir_in("/tmp")
            .expect("dockerd temp dir");
        let p = dir.path();
        for d in ["data", "exec"] {
            std::fs::create_dir_all(p.join(d)).unwrap();
        }
        let log = std::fs::File::create(p.join("dockerd.log")).unwrap();
        let child = Command::new(DOCKERD_BIN)
            .arg("-H")
            .arg(format!("unix://{}", p.join("d.sock").display()))
            .args([
                "--storage-driver=vfs",
                "--iptables=false",
                "--ip6tables=false",
                "--bridge=none",
                "--debug",
                "--default-ulimit=nofile=4096:4096",
            ])
            .arg("--data-root")
            .arg(p.join("data"))
            .arg("--exec-root")
            .arg(p.join("exec"))
            .arg("--pidfile")
            .arg(p.join("dockerd.pid"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start dockerd (Debian package docker.io)");
        let d = Dockerd { child, dir };
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if d.ping() {
                return d;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("dockerd did not start; its log:\n{}", d.log());
    }

    fn ping(&self) -> bool {
        let Ok(mut s) = UnixStream::connect(self.socket()) else {
            return false;
        };
        let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
        if s.write_all(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n")
            .is_err()
        {
            return false;
        }
        let mut answer = String::new();
        let _ = s.read_to_string(&mut answer);
        answer.starts_with("HTTP/1.0 200") || answer.starts_with("HTTP/1.1 200")
    }

    /// The socket path.
    pub fn socket(&self) -> PathBuf {
        self.dir.path().join("d.sock")
    }

    /// `unix://<socket>`, for `DOCKER_HOST`.
    pub fn host(&self) -> String {
        format!("unix://{}", self.socket().display())
    }

    /// The daemon's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("dockerd.log")).unwrap_or_default()
    }

    /// How many API calls so far matched `method` and a path containing `fragment`, from the
    /// daemon's debug log (`Calling GET /v1.41/images/x/get`).
    pub fn count_calls(&self, method: &str, fragment: &str) -> usize {
        self.log()
            .lines()
            .filter_map(|l| l.split_once("Calling ").map(|(_, c)| c))
            .filter(|c| c.starts_with(method) && c.contains(fragment))
            .count()
    }

    /// Runs the docker CLI against this daemon; panics on failure, returns stdout.
    pub fn docker(&self, args: &[&str]) -> String {
        let out = self.docker_output(args);
        assert!(
            out.status.success(),
            "docker {args:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Runs the docker CLI against this daemon.
    pub fn docker_output(&self, args: &[&str]) -> std::process::Output {
        Command::new("docker")
            .env("DOCKER_HOST", self.host())
            .env("DOCKER_CONFIG", self.dir.path().join("cli"))
            .args(args)
            .output()
            .expect("run the docker CLI")
    }

    /// Copies image `tag` of the OCI layout `dir` (the `arch` child of an index) into the daemon
    /// as `name`, through skopeo and `docker load`: a path independent of our daemon backend.
    pub fn load_layout(&self, dir: &Path, tag: &str, arch: &str, name: &str) {
        let tar = self.dir.path().join("skopeo-out.tar");
        let _ = std::fs::remove_file(&tar);
        let out = Command::new("skopeo")
            .args(["copy", "-q", "--override-arch", arch])
            .arg(format!("oci:{}:{tag}", dir.display()))
            .arg(format!("docker-archive:{}:{name}", tar.display()))
            .output()
            .expect("run skopeo");
        assert!(
            out.status.success(),
            "skopeo copy failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        self.load(&tar);
        let _ = std::fs::remove_file(&tar);
    }

    /// Loads an image tarball (`docker save` or `docker load` format) and returns the CLI output.
    pub fn load(&self, tarball: &Path) -> String {
        self.docker(&["load", "-q", "-i", &tarball.display().to_string()])
    }
}

impl Drop for Dockerd {
    fn drop(&mut self) {
        // SIGTERM lets dockerd stop its containerd; then wait so the dirs can go.
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        // dockerd bind-mounts its roots onto themselves and undoes that on a clean stop only.
        for d in ["exec", "data"] {
            let _ = Command::new("umount")
                .arg("-R")
                .arg(self.dir.path().join(d))
                .stderr(Stdio::null())
                .status();
        }
    }
}
