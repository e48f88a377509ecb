//! `exporter`: the Platform API's export phase. Glue only; the logic is `cnb_lifecycle::export`.

fn main() -> std::process::ExitCode {
    cnb_lifecycle::cli::main(cnb_platform::Phase::Exporter, cnb_lifecycle::export::run)
}
