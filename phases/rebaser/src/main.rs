//! `rebaser`: the Platform API's rebase phase. Glue only; the logic is `cnb_lifecycle::rebase`.

fn main() -> std::process::ExitCode {
    cnb_lifecycle::cli::main(cnb_platform::Phase::Rebaser, cnb_lifecycle::rebase::run)
}
