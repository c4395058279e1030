//! `crm`: one binary, many targets.
//!
//! - `crm` or `crm up`: the gateway and every service in one process on embedded defaults
//!   (SQLite under `./data`, in-process cache and bus).
//! - `crm serve --target <target>`: one role (the gateway or a service of the registry), on
//!   PostgreSQL and Redis, as each Kubernetes Deployment runs it.
//! - `crm migrate [--target <target|all>]`: apply database migrations.
//! - `crm keys --target <target>`: print the `CRM_TARGET_KEYS` of one target, so each pod can
//!   hold only its own keys instead of `CRM_SECRET`.

mod settings;
mod targets;

use crm_platform::config::{ConfigError, EXIT_CONFIG};

/// The usage line, naming the targets of the registry.
fn usage() -> String {
    let targets = targets::Target::names().join("|");
    format!(
        "usage: crm [up | serve --target <{targets}> | migrate [--target <{targets}|all>] | keys --target <{targets}>]"
    )
}

/// A parsed command line.
#[derive(Debug, PartialEq, Eq)]
enum Command {
    Up,
    Serve(targets::Target),
    Migrate(Option<targets::Target>),
    Keys(targets::Target),
}

impl Command {
    /// The service name spans are exported under.
    fn service_name(&self) -> String {
        match self {
            Command::Serve(target) => format!("crm-{}", target.name()),
            Command::Up | Command::Migrate(_) | Command::Keys(_) => "crm".to_owned(),
        }
    }
}

fn parse(args: &[String]) -> Result<Command, ConfigError> {
    let target = |rest: &[String]| -> Result<Option<targets::Target>, ConfigError> {
        match rest {
            [] => Ok(None),
            [flag, name] if flag == "--target" => targets::Target::parse(name).map(Some),
            _ => Err(ConfigError(usage())),
        }
    };
    match args {
        [] => Ok(Command::Up),
        [cmd] if cmd == "up" => Ok(Command::Up),
        [cmd, rest @ ..] if cmd == "serve" => target(rest)?
            .map(Command::Serve)
            .ok_or_else(|| ConfigError(format!("serve needs --target; {}", usage()))),
        [cmd, rest @ ..] if cmd == "migrate" => Ok(Command::Migrate(target(rest)?)),
        [cmd, rest @ ..] if cmd == "keys" => match target(rest)? {
            Some(targets::Target::All) | None => {
                Err(ConfigError(format!("keys needs one --target; {}", usage())))
            }
            Some(target) => Ok(Command::Keys(target)),
        },
        _ => Err(ConfigError(usage())),
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if matches!(
        args.first().map(String::as_str),
        Some("-h" | "--help" | "help")
    ) {
        println!("{}", usage());
        return;
    }
    let result = parse(&args).and_then(|command| {
        crm_platform::config::load_file()?;
        if let Command::Keys(target) = command {
            // Printed for a Secret: derived from CRM_SECRET, nothing else is touched.
            let keys = crm_platform::secrets::Secrets::from_env()?.for_target(target.name())?;
            println!("CRM_TARGET_KEYS={keys}");
            return Ok(());
        }
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .map_err(|e| ConfigError(format!("cannot start the async runtime: {e}")))?;
        // The OTLP exporter's gRPC channel needs the runtime to exist.
        let telemetry = {
            let _runtime = runtime.enter();
            crm_platform::telemetry::init(&command.service_name())
        };
        let result = runtime.block_on(async move {
            match command {
                Command::Up => targets::up().await,
                Command::Serve(target) => targets::serve(target).await,
                Command::Migrate(target) => targets::migrate(target).await,
                Command::Keys(_) => Ok(()),
            }
        });
        telemetry.shutdown();
        result
    });
    if let Err(error) = result {
        eprintln!("crm: {error}");
        std::process::exit(EXIT_CONFIG);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(line: &str) -> Vec<String> {
        line.split_whitespace().map(str::to_owned).collect()
    }

    #[test]
    fn parses_the_command_line() {
        assert_eq!(parse(&args("")).unwrap(), Command::Up);
        assert_eq!(
            parse(&args("serve --target contacts")).unwrap(),
            Command::Serve(targets::Target::parse("contacts").unwrap())
        );
        assert_eq!(parse(&args("migrate")).unwrap(), Command::Migrate(None));
        assert_eq!(
            parse(&args("keys --target gateway")).unwrap(),
            Command::Keys(targets::Target::Gateway)
        );
        assert!(parse(&args("keys")).is_err());
        assert!(parse(&args("keys --target all")).is_err());
        assert!(parse(&args("serve")).is_err());
        assert!(parse(&args("serve --target nope")).is_err());
        assert!(parse(&args("dance")).is_err());
    }
}
