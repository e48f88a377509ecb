//! `builder`: the Platform API's build phase. Glue only; the logic is `cnb_lifecycle::build`.

fn main() -> std::process::ExitCode {
    cnb_lifecycle::cli::main(cnb_platform::Phase::Builder, cnb_lifecycle::build::run)
}
