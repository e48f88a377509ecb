//! `restorer`: the Platform API's restore phase. Glue only; the logic is `cnb_lifecycle::restore`.

fn main() -> std::process::ExitCode {
    cnb_lifecycle::cli::main(cnb_platform::Phase::Restorer, cnb_lifecycle::restore::run)
}
