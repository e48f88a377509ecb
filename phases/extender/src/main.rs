//! `extender`: applies image extensions' Dockerfiles to the image it runs in. Glue only; the
//! logic is `cnb_lifecycle::extend`.

fn main() -> std::process::ExitCode {
    cnb_lifecycle::cli::main(cnb_platform::Phase::Extender, cnb_lifecycle::extend::run)
}
