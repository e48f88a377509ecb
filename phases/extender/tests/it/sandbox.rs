//! A throw-away "image": a busybox root file system (Debian's busybox-static, which .ci/setup
//! installs) with a `cnb` user 1000, the lifecycle volumes, and a way to run the extender in it.

use std::path::{Path, PathBuf};
use std::process::Output;

pub use cnb_test_support::phase::{PhaseOutput, PhaseRun};

pub const EXTENSION: &str = "ext/hello";

pub struct Sandbox {
    pub dir: tempfile::TempDir,
    pub rootfs: PathBuf,
    pub layers: PathBuf,
    pub workspace: PathBuf,
}

pub fn write(path: &Path, content: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, content).unwrap();
}

fn chmod(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// The host's libraries the (dynamically linked) extender needs, bound read-only.
/// And its CA certificates: the registry client wants them even for a plain-HTTP registry.
const HOST_LIBS: &[&str] = &["/usr/lib/x86_64-linux-gnu", "/usr/lib64", "/etc/ssl/certs"];

impl Sandbox {
    pub fn new() -> Sandbox {
        let dir = tempfile::tempdir().unwrap();
        let rootfs = dir.path().join("rootfs");
        let bin = rootfs.join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        std::fs::copy("/usr/bin/busybox", bin.join("busybox")).unwrap();
        for applet in [
            "sh", "echo", "rm", "cat", "id", "mkdir", "touch", "ls", "false", "env",
        ] {
            std::os::unix::fs::symlink("busybox", bin.join(applet)).unwrap();
        }
        std::os::unix::fs::symlink("usr/lib", rootfs.join("lib")).unwrap();
        std::os::unix::fs::symlink("usr/lib64", rootfs.join("lib64")).unwrap();
        for lib in HOST_LIBS {
            std::fs::create_dir_all(rootfs.join(lib.trim_start_matches('/'))).unwrap();
        }
        write(
            &rootfs.join("etc/passwd"),
            "root:x:0:0:root:/root:/bin/sh\ncnb:x:1000:1000:cnb:/home/cnb:/bin/sh\n",
        );
        write(&rootfs.join("etc/group"), "root:x:0:\ncnb:x:1000:\n");
        write(&rootfs.join("etc/os-release"), "ID=busybox\n");
        std::fs::create_dir_all(rootfs.join("home/cnb")).unwrap();
        std::os::unix::fs::chown(rootfs.join("home/cnb"), Some(1000), Some(1000)).unwrap();
        std::fs::create_dir_all(rootfs.join("tmp")).unwrap();
        chmod(&rootfs.join("tmp"), 0o1777);
        std::fs::create_dir_all(rootfs.join("cnb/lifecycle")).unwrap();
        write(&rootfs.join("cnb/lifecycle/extender"), "");
        let layers = dir.path().join("layers");
        let workspace = dir.path().join("workspace");
        std::fs::create_dir_all(&layers).unwrap();
        std::fs::create_dir_all(&workspace).unwrap();
        for p in ["layers", "workspace", "platform"] {
            std::fs::create_dir_all(rootfs.join(p)).unwrap();
        }
        std::fs::create_dir_all(dir.path().join("platform")).unwrap();
        Sandbox {
            dir,
            rootfs,
            layers,
            workspace,
        }
    }

    /// `<generated>/<extension>/<kind>.Dockerfile`, where the detector leaves it at Platform API 0.13.
    pub fn dockerfile(&self, kind: &str, text: &str) {
        write(
            &self
                .layers
                .join("generated")
                .join(EXTENSION.replace('/', "_"))
                .join(format!("{kind}.Dockerfile")),
            text,
        );
    }

    /// Runs `/cnb/lifecycle/extender args...` as root in the sandbox with only `env`.
    pub fn extender(&self, args: &[&str], env: &[(&str, &str)]) -> PhaseOutput {
        let papi = env
            .iter()
            .find(|(k, _)| *k == "CNB_PLATFORM_API")
            .map_or("0.15", |(_, v)| v);
        let mut run = PhaseRun::new("bwrap", papi)
            .arg("--die-with-parent")
            .args(["--bind", self.rootfs.to_str().unwrap(), "/"])
            .args(["--proc", "/proc", "--dev", "/dev"]);
        for lib in HOST_LIBS {
            run = run.args(["--ro-bind", lib, lib]);
        }
        run.args([
            "--ro-bind",
            env!("CARGO_BIN_EXE_extender"),
            "/cnb/lifecycle/extender",
        ])
        .args(["--bind", self.layers.to_str().unwrap(), "/layers"])
        .args(["--bind", self.workspace.to_str().unwrap(), "/workspace"])
        .args([
            "--bind",
            self.dir.path().join("platform").to_str().unwrap(),
            "/platform",
        ])
        .args(["--", "/cnb/lifecycle/extender"])
        .args(args)
        .env("PATH", "/bin")
        .envs(env.iter().copied())
        .run()
    }
}

pub fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}
