//! `mscommerce`: one binary for the self-service purchase policy service (`mscommerce server`) and
//! its cross-platform client (every other command). It only parses the command line and hands off.

use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

/// Manage the AllowSelfServicePurchase policy of Microsoft 365-style tenants, or run the service.
///
/// Every command also answers to its cmdlet name and PowerShell-style parameters, so
/// `mscommerce Update-MSCommerceProductPolicy -PolicyId AllowSelfServicePurchase -ProductId
/// CFQ7TTC0LH3L -Value "Disabled"` works as it stands.
///
/// Exit status: 0 done, 1 failed, 2 usage, 3 not signed in or expired, 4 forbidden, 5 not found.
#[derive(Debug, Parser)]
#[command(name = "mscommerce", version, propagate_version = true)]
struct Cli {
    #[command(flatten)]
    global: client::GlobalArgs,
    #[command(subcommand)]
    command: TopCommand,
}

#[derive(Debug, Subcommand)]
enum TopCommand {
    /// Run the service (`server --dev` for the embedded default with demo tenants).
    Server(Box<server::ServerArgs>),
    #[command(flatten)]
    Client(client::Command),
}

fn main() -> ExitCode {
    let command = Cli::command();
    let argv = client::argv::normalize(&command, std::env::args_os().collect());
    let cli = match command
        .try_get_matches_from(argv)
        .and_then(|m| Cli::from_arg_matches(&m))
    {
        Ok(cli) => cli,
        Err(e) => {
            // clap prints help and version to stdout with status 0, usage errors with status 2.
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("mscommerce: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match cli.command {
        TopCommand::Server(args) => match runtime.block_on(server::run(*args)) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("mscommerce server: {e:#}");
                ExitCode::from(1)
            }
        },
        TopCommand::Client(command) => {
            ExitCode::from(runtime.block_on(client::run(cli.global, command)))
        }
    }
}
