//! What each command runs. `up` and `serve` share every code path but the adapters:
//! SQLite and in-process cache and bus for `up`, PostgreSQL and Redis for `serve`.

use std::path::Path;

use sea_orm::DatabaseConnection;
use tokio::sync::watch;
use tonic::service::RoutesBuilder;

use crate::settings;
use crm_platform::client::ServiceChannel;
use crm_platform::config::{ConfigError, Infra, Secrets};
use crm_platform::{db, housekeeping, private_files, server};

/// A role the binary can run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Target {
    /// The gateway with the identity store.
    Gateway,
    /// The contacts service.
    Contacts,
    /// Every target (migrate only).
    All,
}

impl Target {
    /// The target's name.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Target::Gateway => "gateway",
            Target::Contacts => "contacts",
            Target::All => "all",
        }
    }

    /// Parses a `--target` value.
    pub(crate) fn parse(name: &str) -> Result<Self, ConfigError> {
        match name {
            "gateway" => Ok(Target::Gateway),
            "contacts" => Ok(Target::Contacts),
            "all" => Ok(Target::All),
            other => Err(ConfigError(format!(
                "unknown target `{other}`; use gateway or contacts"
            ))),
        }
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
        Target::Contacts => db::migrate::<crm_contacts::migration::Migrator>(db).await,
        Target::All => Ok(()),
    };
    result.map_err(|e| ConfigError(format!("migration failed: {e:?}")))
}

/// A shutdown signal every task can wait on.
#[derive(Debug, Clone)]
struct Shutdown(watch::Receiver<bool>);

impl Shutdown {
    /// Starts listening for Ctrl-C and SIGTERM.
    fn on_signal() -> Self {
        let (tx, rx) = watch::channel(false);
        tokio::spawn(async move {
            server::shutdown_signal().await;
            let _ = tx.send(true);
        });
        Shutdown(rx)
    }

    async fn wait(mut self) {
        let _ = self.0.wait_for(|stop| *stop).await;
    }
}

/// Runs the gateway and every service in one process on embedded defaults.
pub(crate) async fn up() -> Result<(), ConfigError> {
    let dir = settings::data_dir();
    private_files::private_dir(&dir)?;
    let infra = Infra::embedded(Secrets::load_or_create(&dir)?)?;
    let gateway_db = db::connect(&sqlite_url(&dir, "gateway")?).await?;
    migrate_db(Target::Gateway, &gateway_db).await?;
    let contacts_db = db::connect(&sqlite_url(&dir, "contacts")?).await?;
    migrate_db(Target::Contacts, &contacts_db).await?;
    let listener = server::bind(
        settings::listen_addr(settings::DEFAULT_UP_ADDR)?,
        "CRM_LISTEN_ADDR",
    )
    .await?;
    announce_bootstrap(&gateway_db).await?;

    let shutdown = Shutdown::on_signal();
    let mut routes = RoutesBuilder::default();
    let services = [
        crm_contacts::SERVICE_NAME,
        crm_gateway::SERVICE_NAMES[0],
        crm_gateway::SERVICE_NAMES[1],
    ];
    let health = server::add_health_and_reflection(&mut routes, &services).await?;
    let contacts = crm_contacts::add_to(&mut routes, contacts_db.clone(), &infra)?;
    let peers = crm_gateway::Peers::new(
        ServiceChannel::in_process(crm_contacts::in_process(&contacts, &infra)?),
        &infra,
    )?;
    tokio::spawn(contacts.relay.clone().run(shutdown.clone().wait()));
    tokio::spawn(crm_contacts::jobs::run(
        contacts,
        settings::jobs_schedule()?,
        shutdown.clone().wait(),
    ));
    tokio::spawn(housekeeping::run(contacts_db, shutdown.clone().wait()));
    tokio::spawn(housekeeping::run(
        gateway_db.clone(),
        shutdown.clone().wait(),
    ));
    let gatekeeper = crm_gateway::gatekeeper(gateway_db, &infra, &settings::gateway_options()?)?;
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
        Target::Contacts => {
            let services = [crm_contacts::SERVICE_NAME];
            let listener =
                server::bind(settings::listen_addr("0.0.0.0:50052")?, "CRM_LISTEN_ADDR").await?;
            let health = server::add_health_and_reflection(&mut routes, &services).await?;
            let contacts = crm_contacts::add_to(&mut routes, db, &infra)?;
            tokio::spawn(contacts.relay.clone().run(shutdown.clone().wait()));
            tokio::spawn(crm_contacts::jobs::run(
                contacts,
                settings::jobs_schedule()?,
                shutdown.clone().wait(),
            ));
            announce_listening("contacts", &listener);
            let drain = async move {
                shutdown.wait().await;
                server::mark_not_serving(&health, &services).await;
            };
            server::builder(server::Listener::Internal)
                .add_routes(routes.routes())
                .serve_with_incoming_shutdown(crm_platform::idle::incoming(listener), drain)
                .await
                .map_err(|e| ConfigError(format!("server failed: {e}")))
        }
        Target::Gateway => {
            let contacts_url = crm_platform::config::required(
                "CRM_CONTACTS_URL",
                "set it to the contacts service's address, such as http://contacts:50052",
            )?;
            let listener =
                server::bind(settings::listen_addr("0.0.0.0:50051")?, "CRM_LISTEN_ADDR").await?;
            announce_bootstrap(&db).await?;
            let services = crm_gateway::SERVICE_NAMES;
            let health = server::add_health_and_reflection(&mut routes, services).await?;
            let gatekeeper = crm_gateway::gatekeeper(db, &infra, &settings::gateway_options()?)?;
            let channel =
                crm_gateway::upstream::channel(&contacts_url, settings::upstream_connections()?)?;
            let peers = crm_gateway::Peers::new(ServiceChannel::remote(channel.clone()), &infra)?;
            crm_gateway::add_identity(&mut routes, &gatekeeper, &infra, peers);
            let routes = crm_gateway::upstream::forward(
                routes.routes(),
                crm_contacts::SERVICE_NAME,
                channel,
            );
            announce_listening("gateway", &listener);
            let drain = async move {
                shutdown.wait().await;
                server::mark_not_serving(&health, services).await;
            };
            crm_gateway::serve(listener, gatekeeper, routes, drain)
                .await
                .map_err(|e| ConfigError(format!("server failed: {e}")))
        }
        Target::All => Err(ConfigError(
            "serve runs one target: gateway or contacts".to_owned(),
        )),
    }
}

/// Applies migrations: to `CRM_DATABASE_URL` for one target, or to the embedded databases.
pub(crate) async fn migrate(target: Option<Target>) -> Result<(), ConfigError> {
    match target {
        Some(target @ (Target::Gateway | Target::Contacts)) => {
            let db = db::connect(&settings::database_url()?).await?;
            migrate_db(target, &db).await?;
        }
        None | Some(Target::All) => {
            let dir = settings::data_dir();
            private_files::private_dir(&dir)?;
            for (target, name) in [(Target::Gateway, "gateway"), (Target::Contacts, "contacts")] {
                let db = db::connect(&sqlite_url(&dir, name)?).await?;
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
