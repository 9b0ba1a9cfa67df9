//! `droplet`: the droplet bits API from the command line. The logic lives in the library
//! (`droplet_client::cli`, feature `cli`) so that tests can drive it in-process.

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let mut stdout = std::io::stdout();
    match droplet_client::cli::run(std::env::args_os(), &mut stdout).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => match error.downcast::<clap::Error>() {
            // Usage errors, --help and --version print themselves, with clap's exit codes.
            Ok(usage) => usage.exit(),
            Err(error) => {
                eprintln!("droplet: {}", droplet_client::cli::describe(&error));
                ExitCode::FAILURE
            }
        },
    }
}
