//! A unix-socket proxy that stands for what a phase faces after dropping privileges: it accepts
//! ONE connection (later ones are refused, as the root-owned daemon socket would be) and closes
//! it once no byte has passed either way for `idle`, as socket proxies do with idle connections.

use std::io::{Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tempfile::TempDir;

/// A running proxy; stops forwarding when dropped.
pub struct IdleProxy {
    dir: TempDir,
    closed: Arc<AtomicBool>,
}

impl IdleProxy {
    /// Starts a proxy to the unix socket `upstream`.
    pub fn start(upstream: &Path, idle: Duration) -> Self {
        let dir = tempfile::Builder::new()
            .prefix("idp")
            .tempdir_in("/tmp")
            .unwrap();
        let listener = UnixListener::bind(dir.path().join("p.sock")).unwrap();
        let closed = Arc::new(AtomicBool::new(false));
        let (upstream, closed2) = (upstream.to_path_buf(), closed.clone());
        std::thread::spawn(move || {
            let Ok((client, _)) = listener.accept() else {
                return;
            };
            drop(listener); // nobody connects again
            let server = UnixStream::connect(&upstream).unwrap();
            let last = Arc::new(Mutex::new(Instant::now()));
            for (from, to) in [
                (client.try_clone().unwrap(), server.try_clone().unwrap()),
                (server.try_clone().unwrap(), client.try_clone().unwrap()),
            ] {
                let last = last.clone();
                std::thread::spawn(move || pipe(from, to, &last));
            }
            loop {
                std::thread::sleep(Duration::from_millis(50));
                if last.lock().unwrap().elapsed() >= idle {
                    let _ = client.shutdown(std::net::Shutdown::Both);
                    let _ = server.shutdown(std::net::Shutdown::Both);
                    closed2.store(true, Ordering::SeqCst);
                    return;
                }
            }
        });
        Self { dir, closed }
    }

    /// The proxy's socket.
    pub fn socket(&self) -> PathBuf {
        self.dir.path().join("p.sock")
    }

    /// Whether it has closed the connection for being idle.
    pub fn closed_idle(&self) -> bool {
        self.closed.load(Ordering::SeqCst)
    }
}

fn pipe(mut from: UnixStream, mut to: UnixStream, last: &Mutex<Instant>) {
    let mut buf = [0u8; 64 * 1024];
    loop {
        match from.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                *last.lock().unwrap() = Instant::now();
                if to.write_all(&buf[..n]).is_err() {
                    return;
                }
            }
        }
    }
}
