//! `analyzer`: the Platform API's analyze phase. Glue only; the logic is `cnb_lifecycle::analyze`.

fn main() -> std::process::ExitCode {
    cnb_lifecycle::cli::main(cnb_platform::Phase::Analyzer, cnb_lifecycle::analyze::run)
}
