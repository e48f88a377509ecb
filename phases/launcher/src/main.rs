//! `launcher`: starts a process of an app image (as `/cnb/process/<type>` or with a command).
//! Glue only; the logic is `cnb_launch`. It links no image code so it stays small and static.

use std::io::Write;
use std::process::ExitCode;

fn main() -> ExitCode {
    let mut argv = std::env::args();
    let argv0 = argv.next().unwrap_or_else(|| "launcher".into());
    let env: Vec<(String, String)> = std::env::vars().collect();
    if env
        .iter()
        .any(|(k, v)| k == "CNB_PROCESS_TYPE" && !v.is_empty())
    {
        let _ = writeln!(
            std::io::stderr(),
            "Warning: CNB_PROCESS_TYPE is not supported; use /cnb/process/<type> or a command"
        );
    }
    let err = cnb_launch::launch(cnb_launch::Request {
        argv0,
        args: argv.collect(),
        env,
    });
    let _ = writeln!(std::io::stderr(), "ERROR: {err}");
    ExitCode::from(err.exit_code())
}
