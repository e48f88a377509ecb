//! `creator`: analyze, detect, build and export in one process. Glue only; the logic is
//! `cnb_lifecycle::create`.

fn main() -> std::process::ExitCode {
    cnb_lifecycle::cli::main(cnb_platform::Phase::Creator, cnb_lifecycle::create::run)
}
