//! `tcpconform`: see `tcpconform --help` and the README.

use clap::Parser;
use std::process::ExitCode;
use tcpconform::cli::{Cli, Command};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let code = match cli.command {
        Command::Run(args) => tcpconform::app::run(&args),
        Command::List(args) => tcpconform::app::list(&args),
        Command::Check(args) => tcpconform::app::check(&args),
        Command::Schema => tcpconform::app::schema(),
        Command::Coverage(args) => tcpconform::app::coverage(&args),
        Command::Serve(args) => tcpconform::serve::run(&args),
        Command::Agent(args) => tcpconform::agent::run(&args),
    };
    ExitCode::from(code)
}
