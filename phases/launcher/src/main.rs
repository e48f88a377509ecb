//! `launcher`: starts a process of an app image (as `/cnb/process/<type>` or with a command).
//! Glue only; the logic is `cnb_launch`. It links no image code so it stays small and static.

use std::io::Write;
use std::process::ExitCode;

fn main() -> ExitCode {
    // OS strings, not `args()`/`vars()`: those panic on bytes that are not UTF-8, which the app's
    // arguments and environment (`docker run -e`) may hold and must get unchanged.
    let mut argv = std::env::args_os();
    let argv0 = argv.next().unwrap_or_else(|| "launcher".into());
    let req = cnb_launch::Request {
        argv0,
        args: argv.collect(),
        env: std::env::vars_os().collect(),
    };
    let err = cnb_launch::launch(req, &mut |line| {
        let _ = writeln!(std::io::stderr(), "Warning: {line}");
    });
    let _ = writeln!(std::io::stderr(), "ERROR: {err}");
    ExitCode::from(err.exit_code())
}
