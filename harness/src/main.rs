//! `tcpconform`: see `tcpconform --help` and the README.

use clap::Parser;
use std::process::ExitCode;
use tcpconform::cli::{Cli, Command};

fn main() -> ExitCode {
    let cli = Cli::parse();
    // The long-running commands stop cleanly on SIGINT/SIGTERM (see `interrupt`); installed
    // before any thread exists.
    if matches!(
        cli.command,
        Command::Run(_) | Command::Serve(_) | Command::Agent(_)
    ) {
        if let Err(e) = tcpconform::interrupt::install() {
            eprintln!("warning: cannot handle SIGINT/SIGTERM: {e}");
        }
    }
    let code = match cli.command {
        Command::Run(args) => tcpconform::commands::run(&args),
        Command::List(args) => tcpconform::commands::list(&args),
        Command::Check(args) => tcpconform::commands::check(&args),
        Command::Schema => tcpconform::commands::schema(),
        Command::Coverage(args) => tcpconform::commands::coverage(&args),
        Command::Serve(args) => tcpconform::reference::serve::run(&args),
        Command::Agent(args) => tcpconform::agent::run(&args),
        Command::Sweep => tcpconform::commands::sweep(),
        Command::Matrix(args) => tcpconform::commands::matrix(&args),
        Command::Diff(args) => tcpconform::commands::diff(&args),
        Command::ImportPkt(args) => tcpconform::commands::import_pkt(&args),
    };
    // Stopped by a signal: say so in the status, as a shell does for a death by it, whatever
    // the command made of its partial work.
    match tcpconform::interrupt::signal() {
        Some(sig) => ExitCode::from(tcpconform::interrupt::exit_code(sig)),
        None => ExitCode::from(code),
    }
}
