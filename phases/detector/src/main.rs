//! `detector`: the Platform API's detect phase. Glue only; the logic is `cnb_lifecycle::detect`.

fn main() -> std::process::ExitCode {
    cnb_lifecycle::cli::main(cnb_platform::Phase::Detector, cnb_lifecycle::detect::run)
}
