//! The `gilsim` binary: parse the command line, run it, map failures to exit codes.

use std::process::ExitCode;

use clap::Parser;
use gilsim::cli::{dispatch, Cli};
use gilsim::error::Error;

fn main() -> ExitCode {
    match dispatch(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Error::Reported(code)) => ExitCode::from(code),
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}
