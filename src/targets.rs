//! What each command runs. `up` and `serve` share every code path but the adapters:
//! SQLite and in-process cache and bus for `up`, PostgreSQL and Redis for `serve`. Both walk
//! the same registry of services (`crm::registry`), so they cannot drift apart.

use std::collections::BTreeMap;
use std::path::Path;

use sea_orm::DatabaseConnection;
use tonic::service::RoutesBuilder;

use crate::settings;
use crm::registry;
use crm_platform::client::ServiceChannel;
use crm_platform::config::{ConfigError, Infra, Secrets};
use crm_platform::service::{ServiceModule, Shutdown, StartContext, url_variable};
use crm_platform::{db, housekeeping, private_files, server};

/// A role the binary can run.
#[derive(Clone, Copy)]
pub(crate) enum Target {
    /// The gateway with the identity store.
    Gateway,
    /// One domain service of the registry.
    Service(&'static dyn ServiceModule),
    /// Every target (migrate only).
    All,
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl PartialEq for Target {
    fn eq(&self, other: &Self) -> bool {
        self.name() == other.name()
    }
}

impl Eq for Target {}

impl Target {
    /// The target's name.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Target::Gateway => "gateway",
            Target::Service(module) => module.name(),
            Target::All => "all",
        }
    }

    /// Parses a `--target` value.
    pub(crate) fn parse(name: &str) -> Result<Self, ConfigError> {
        match name {
            "gateway" => Ok(Target::Gateway),
            "all" => Ok(Target::All),
            other => registry::find(other).map(Target::Service).ok_or_else(|| {
                ConfigError(format!(
                    "unknown target `{other}`; use {}",
                    Self::names().join(", ")
                ))
            }),
        }
    }

    /// The names of the targets one process can run.
    pub(crate) fn names() -> Vec<&'static str> {
        std::iter::once("gateway")
            .chain(registry::services().iter().map(|m| m.name()))
            .collect()
    }
}

/// The URL of an embedded database, whose file is created (or narrowed) readable by this
/// user only first.
fn sqlite_url(dir: &Path, name: &str) -> Result<String, ConfigError> {
    let path = dir.join(format!("{name}.db"));
    private_files::private_file(&path)?;
    Ok(format!("sqlite://{}?mode=rwc", path.display()))
}

async fn migrate_db(target: Target, db: &DatabaseConnection) -> Result<(), ConfigError> {
    let result = match target {
        Target::Gateway => db::migrate::<crm_gateway::migration::Migrator>(db).await,
        Target::Service(module) => module.migrate(db).await,
        Target::All => Ok(()),
    };
    result.map_err(|e| ConfigError(format!("migration of {} failed: {e:?}", target.name())))
}

/// The services this deployment runs: those `CRM_SERVICES` names (comma-separated; `none`
/// for the gateway alone), or every registered one.
fn deployed() -> Result<Vec<&'static dyn ServiceModule>, ConfigError> {
    let Some(list) = crm_platform::config::env("CRM_SERVICES") else {
        return Ok(registry::services().to_vec());
    };
    if list.trim() == "none" {
        return Ok(Vec::new());
    }
    list.split(',')
        .map(str::trim)
        .filter(|name| !name.is_empty())
        .map(|name| {
            registry::find(name).ok_or_else(|| {
                ConfigError(format!(
                    "CRM_SERVICES names `{name}`, which is not a service; use {}",
                    Target::names()[1..].join(", ")
                ))
            })
        })
        .collect()
}

/// Every target `migrate` and `up` handle, the gateway first.
fn every_target() -> Vec<Target> {
    std::iter::once(Target::Gateway)
        .chain(registry::services().iter().copied().map(Target::Service))
        .collect()
}

/// Runs the gateway and every service in one process on embedded defaults.
pub(crate) async fn up() -> Result<(), ConfigError> {
    let dir = settings::data_dir();
    private_files::private_dir(&dir)?;
    let infra = Infra::embedded(Secrets::load_or_create(&dir)?)?;
    let modules = deployed()?;
    let mut databases = BTreeMap::new();
    let targets =
        std::iter::once(Target::Gateway).chain(modules.iter().copied().map(Target::Service));
    for target in targets {
        let db = db::connect(&sqlite_url(&dir, target.name())?).await?;
        migrate_db(target, &db).await?;
        databases.insert(target.name(), db);
    }
    let listener = server::bind(
        settings::listen_addr(settings::DEFAULT_UP_ADDR)?,
        "CRM_LISTEN_ADDR",
    )
    .await?;
    let gateway_db = databases
        .remove("gateway")
        .unwrap_or_else(|| unreachable!());
    announce_bootstrap(&gateway_db).await?;

    let shutdown = Shutdown::on_signal();
    let mut routes = RoutesBuilder::default();
    let services: Vec<&str> = modules
        .iter()
        .flat_map(|m| m.grpc_services().iter().copied())
        .chain(crm_gateway::SERVICE_NAMES.iter().copied())
        .collect();
    let health = server::add_health_and_reflection(&mut routes, &services).await?;
    let mut in_process = BTreeMap::new();
    for module in &modules {
        let db = databases
            .remove(module.name())
            .unwrap_or_else(|| unreachable!());
        tokio::spawn(housekeeping::run(db.clone(), shutdown.clone().wait()));
        // Registry order starts a service's peers before it.
        let peers = module
            .peers()
            .iter()
            .filter_map(|name| Some((*name, in_process.get(name).cloned()?)))
            .collect();
        let running = module.start(
            &mut routes,
            StartContext {
                db,
                infra: &infra,
                shutdown: shutdown.clone(),
                peers,
            },
        )?;
        in_process.insert(
            module.name(),
            ServiceChannel::in_process(running.in_process),
        );
    }
    tokio::spawn(housekeeping::run(
        gateway_db.clone(),
        shutdown.clone().wait(),
    ));
    let gatekeeper = crm_gateway::gatekeeper(gateway_db, &infra, &gateway_options(&modules)?)?;
    tokio::spawn(gatekeeper.relay.clone().run(shutdown.clone().wait()));
    let peers = crm_gateway::Peers::new(in_process.remove("contacts"), &infra)?;
    crm_gateway::add_identity(&mut routes, &gatekeeper, &infra, peers);

    announce_listening("gateway", &listener);
    println!("crm: data in {}", dir.display());
    let drain = {
        let shutdown = shutdown.clone();
        async move {
            shutdown.wait().await;
            server::mark_not_serving(&health, &services).await;
        }
    };
    crm_gateway::serve(listener, gatekeeper, routes.routes(), drain)
        .await
        .map_err(|e| ConfigError(format!("server failed: {e}")))
}

/// Runs one target on PostgreSQL and Redis.
pub(crate) async fn serve(target: Target) -> Result<(), ConfigError> {
    let redis_url = settings::redis_url()?;
    let secrets = Secrets::from_env()?;
    // Keys of another target stop the start before anything is connected.
    secrets.check_target(target.name())?;
    let infra = Infra::redis(&redis_url, secrets).await?;
    let db = db::connect(&settings::database_url()?).await?;
    if settings::migrate_on_start() {
        migrate_db(target, &db).await?;
    }
    let shutdown = Shutdown::on_signal();
    tokio::spawn(housekeeping::run(db.clone(), shutdown.clone().wait()));
    let mut routes = RoutesBuilder::default();
    match target {
        Target::Service(module) => {
            let services = module.grpc_services();
            let listener = server::bind(
                settings::listen_addr(module.default_listen_addr())?,
                "CRM_LISTEN_ADDR",
            )
            .await?;
            let health = server::add_health_and_reflection(&mut routes, services).await?;
            let peers = peer_channels(module)?;
            module.start(
                &mut routes,
                StartContext {
                    db,
                    infra: &infra,
                    shutdown: shutdown.clone(),
                    peers,
                },
            )?;
            announce_listening(module.name(), &listener);
            let drain = async move {
                shutdown.wait().await;
                server::mark_not_serving(&health, services).await;
            };
            server::builder(server::Listener::Internal)
                .add_routes(routes.routes())
                .serve_with_incoming_shutdown(crm_platform::idle::incoming(listener), drain)
                .await
                .map_err(|e| ConfigError(format!("server failed: {e}")))
        }
        Target::Gateway => {
            // Every deployed service runs on its own, at its CRM_<NAME>_URL.
            let mut channels = BTreeMap::new();
            for module in deployed()? {
                let variable = url_variable(module);
                let url = crm_platform::config::required(
                    &variable,
                    &format!(
                        "set it to the {} service's address, such as http://{}:{}",
                        module.name(),
                        module.name(),
                        module
                            .default_listen_addr()
                            .rsplit(':')
                            .next()
                            .unwrap_or("50052"),
                    ),
                )?;
                let channel =
                    crm_gateway::upstream::channel(&url, settings::upstream_connections()?)?;
                channels.insert(module.name(), (module, channel));
            }
            let listener =
                server::bind(settings::listen_addr("0.0.0.0:50051")?, "CRM_LISTEN_ADDR").await?;
            announce_bootstrap(&db).await?;
            let services = crm_gateway::SERVICE_NAMES;
            let health = server::add_health_and_reflection(&mut routes, services).await?;
            let deployed_modules: Vec<_> = channels.values().map(|(m, _)| *m).collect();
            let gatekeeper =
                crm_gateway::gatekeeper(db, &infra, &gateway_options(&deployed_modules)?)?;
            tokio::spawn(gatekeeper.relay.clone().run(shutdown.clone().wait()));
            let contacts = channels
                .get("contacts")
                .map(|(_, channel)| ServiceChannel::remote(channel.clone()));
            let peers = crm_gateway::Peers::new(contacts, &infra)?;
            crm_gateway::add_identity(&mut routes, &gatekeeper, &infra, peers);
            let mut routes = routes.routes();
            for (module, channel) in channels.into_values() {
                for service in module.grpc_services() {
                    routes = crm_gateway::upstream::forward(routes, service, channel.clone());
                }
            }
            announce_listening("gateway", &listener);
            let drain = async move {
                shutdown.wait().await;
                server::mark_not_serving(&health, services).await;
            };
            crm_gateway::serve(listener, gatekeeper, routes, drain)
                .await
                .map_err(|e| ConfigError(format!("server failed: {e}")))
        }
        Target::All => Err(ConfigError(format!(
            "serve runs one target: {}",
            Target::names().join(", ")
        ))),
    }
}

/// The gateway's settings, with the services each deployed service calls as the caller.
fn gateway_options(
    modules: &[&'static dyn ServiceModule],
) -> Result<crm_gateway::Options, ConfigError> {
    let mut options = settings::gateway_options()?;
    options.peers = modules.iter().map(|m| (m.name(), m.peers())).collect();
    Ok(options)
}

/// Channels to the deployed services `module` calls as the caller, each at its
/// `CRM_<NAME>_URL`.
fn peer_channels(
    module: &'static dyn ServiceModule,
) -> Result<BTreeMap<&'static str, ServiceChannel>, ConfigError> {
    let deployed = deployed()?;
    let mut peers = BTreeMap::new();
    for peer in deployed
        .iter()
        .filter(|d| module.peers().contains(&d.name()))
    {
        let variable = url_variable(*peer);
        let url = crm_platform::config::required(
            &variable,
            &format!(
                "set it to the {} service's address; {} calls it",
                peer.name(),
                module.name()
            ),
        )?;
        let channel = crm_gateway::upstream::channel(&url, settings::upstream_connections()?)?;
        peers.insert(peer.name(), ServiceChannel::remote(channel));
    }
    Ok(peers)
}

/// Applies migrations: to `CRM_DATABASE_URL` for one target, or to the embedded databases.
pub(crate) async fn migrate(target: Option<Target>) -> Result<(), ConfigError> {
    match target {
        Some(target @ (Target::Gateway | Target::Service(_))) => {
            let db = db::connect(&settings::database_url()?).await?;
            migrate_db(target, &db).await?;
        }
        None | Some(Target::All) => {
            let dir = settings::data_dir();
            private_files::private_dir(&dir)?;
            for target in every_target() {
                let db = db::connect(&sqlite_url(&dir, target.name())?).await?;
                migrate_db(target, &db).await?;
            }
        }
    }
    println!("crm: migrations applied");
    Ok(())
}

/// Creates the first admin on an empty store and says how to sign in.
async fn announce_bootstrap(db: &DatabaseConnection) -> Result<(), ConfigError> {
    let (email, password) = settings::bootstrap_admin();
    let created = crm_gateway::bootstrap(db, &email, password)
        .await
        .map_err(|e| ConfigError(format!("cannot create the first admin: {e}")))?;
    if let Some(admin) = created {
        match admin.generated_password {
            Some(password) => println!(
                "crm: created tenant \"Default\"; sign in as {} with password {password} (shown once)",
                admin.email
            ),
            None => println!(
                "crm: created tenant \"Default\"; sign in as {} with CRM_BOOTSTRAP_ADMIN_PASSWORD",
                admin.email
            ),
        }
    }
    Ok(())
}

fn announce_listening(role: &str, listener: &tokio::net::TcpListener) {
    if let Ok(addr) = listener.local_addr() {
        // Tests and scripts read this line to find the port when CRM_LISTEN_ADDR uses port 0.
        println!("crm: {role} listening on {addr}");
    }
    tracing::info!(role, "serving");
}
