//! l2c: the command-line entry point. See `l2c --help` and README.md.

mod audit_cmd;
mod billing_cmd;
mod catalog_cmd;
mod demo;
mod demo_desk;
mod demo_history;
mod report_cmd;
mod server_cmd;
mod user_cmd;
mod workflow_cmd;

use clap::{Parser, Subcommand, ValueEnum};
use l2c_orders::accounts::{BillingAccount, CustomerAccount};
use l2c_orders::users::{NewUser, Role};
use server_cmd::DbArgs;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

/// l2c — lead-to-cash order provisioning: catalog, workflows, orders and billing.
#[derive(Parser)]
#[command(name = "l2c", version, about, long_about = None)]
struct Cli {
    /// Log format on stderr.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Inspect and check the product catalog.
    #[command(subcommand)]
    Catalog(CatalogCommand),
    /// Walk through orders on a fresh temporary database: placing, approving, commissioning,
    /// a rejection, an upgrade, timelines and subscriptions, over the real HTTP API; then
    /// prints the web desk's address and the demo users' passwords.
    Demo {
        /// Keep serving after the scenario (until Ctrl-C), to sign in and click through.
        #[arg(long)]
        serve: bool,
        /// First run this many months of history (orders, approvals, incidents, billing
        /// runs) on the sandbox clock, so the Monthly Operating Report has trends (0 to 24).
        #[arg(long, default_value_t = 0, value_name = "N",
            value_parser = clap::value_parser!(u32).range(0..=i64::from(demo_history::MAX_MONTHS)))]
        months: u32,
        /// Where to listen with --serve (without it, a free port).
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
    },
    /// Serve the HTTP API with workers and timers.
    Serve {
        #[command(flatten)]
        db: DbArgs,
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
        /// Run on a test clock that POST /api/v1/sandbox/clock moves (demos and tests).
        #[arg(long)]
        sandbox: bool,
        /// Serve HTTPS with this certificate chain (PEM, leaf first); needs --tls-key.
        #[arg(long, requires = "tls_key")]
        tls_cert: Option<PathBuf>,
        /// The private key of --tls-cert (PEM: PKCS#8, PKCS#1 or SEC1).
        #[arg(long, requires = "tls_cert")]
        tls_key: Option<PathBuf>,
    },
    /// Run workers and timers only (several may share one PostgreSQL database).
    Worker {
        #[command(flatten)]
        db: DbArgs,
    },
    /// Apply the database migrations.
    Migrate {
        /// The database.
        #[arg(long, env = "DATABASE_URL", default_value = server_cmd::DEFAULT_DATABASE)]
        database_url: String,
    },
    /// Manage users.
    #[command(subcommand)]
    User(UserCommand),
    /// The audit log and the hash chains of the history.
    #[command(subcommand)]
    Audit(audit_cmd::AuditCommand),
    /// Manage customer and billing accounts.
    #[command(subcommand)]
    Account(AccountCommand),
    /// Check and draw workflow definitions.
    #[command(subcommand)]
    Workflow(WorkflowCommand),
    /// Billing runs and their exports.
    #[command(subcommand)]
    Billing(billing_cmd::BillingCommand),
    /// The Monthly Operating Report.
    #[command(subcommand)]
    Report(report_cmd::ReportCommand),
}

#[derive(Subcommand)]
enum CatalogCommand {
    /// Check a catalog file (the shipped catalog by default) and print a summary.
    Check {
        /// The catalog file to check.
        file: Option<PathBuf>,
    },
    /// List offerings with their prices and service definitions.
    Show {
        /// Show this catalog file instead of the shipped one.
        #[arg(long)]
        file: Option<PathBuf>,
        /// Show only this offering (every version of it).
        #[arg(long)]
        offering: Option<String>,
    },
}

#[derive(Subcommand)]
enum UserCommand {
    /// Add a user and print its API token (shown once).
    Add {
        /// The user's unique name.
        name: String,
        /// requester, approver, engineer, finance or admin.
        #[arg(long, value_parser = server_cmd::parse_role)]
        role: Role,
        /// A group whose queue the user works (repeat for several).
        #[arg(long = "group")]
        groups: Vec<String>,
        /// The customer account (requesters).
        #[arg(long)]
        account: Option<String>,
        /// Read a password for the web desk from standard input (one line).
        #[arg(long)]
        password_stdin: bool,
        #[command(flatten)]
        db: DbArgs,
    },
    /// Set a user's password for the web desk, read from standard input (one line).
    Passwd {
        /// The user's name.
        name: String,
        #[command(flatten)]
        db: DbArgs,
    },
    /// List users, active and deactivated.
    List {
        #[command(flatten)]
        db: DbArgs,
    },
    /// Deactivate a user: their tokens and sessions stop working, their claims go back.
    Deactivate {
        /// The user's name.
        name: String,
        #[command(flatten)]
        db: DbArgs,
    },
    /// Let a deactivated user sign in again.
    Reactivate {
        /// The user's name.
        name: String,
        #[command(flatten)]
        db: DbArgs,
    },
    /// A user's API tokens.
    #[command(subcommand)]
    Token(user_cmd::TokenCommand),
}

#[derive(Subcommand)]
enum AccountCommand {
    /// Add a customer account.
    AddCustomer {
        /// Its id, e.g. ACME.
        id: String,
        /// The customer's name.
        #[arg(long)]
        name: String,
        /// The segment catalog eligibility checks, e.g. enterprise.
        #[arg(long)]
        segment: String,
        /// ISO 3166-1 alpha-2 country.
        #[arg(long)]
        country: String,
        #[command(flatten)]
        db: DbArgs,
    },
    /// Add a billing account to a customer account.
    AddBilling {
        /// Its id, e.g. ACME-EUR.
        id: String,
        /// The customer account.
        #[arg(long)]
        customer: String,
        /// A name for people.
        #[arg(long)]
        name: String,
        /// ISO 4217 currency.
        #[arg(long)]
        currency: String,
        /// Day of the month periods start (1-31).
        #[arg(long, default_value_t = 1)]
        cycle_day: u32,
        /// IANA time zone of its billing dates.
        #[arg(long, default_value = "UTC")]
        time_zone: String,
        /// Days from invoice to due date.
        #[arg(long, default_value_t = 30)]
        payment_terms_days: u32,
        #[command(flatten)]
        db: DbArgs,
    },
}

#[derive(Subcommand)]
enum WorkflowCommand {
    /// Check a directory of workflow definitions (and its groups.toml) and print a summary.
    Check {
        /// The directory with the definitions and groups.toml.
        #[arg(default_value = "workflows")]
        dir: PathBuf,
    },
    /// Draw one workflow definition.
    Show {
        /// The workflow's name (its file name without .toml).
        name: String,
        /// The directory with the definitions and groups.toml.
        #[arg(long, default_value = "workflows")]
        dir: PathBuf,
        /// How to draw it.
        #[arg(long, value_enum, default_value_t = workflow_cmd::Format::Text)]
        format: workflow_cmd::Format,
    },
}

fn init_logs(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,l2c=info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

fn block_on<F: std::future::Future<Output = anyhow::Result<()>>>(f: F) -> anyhow::Result<()> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(f)
}

async fn run_async(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Serve {
            db,
            listen,
            sandbox,
            tls_cert,
            tls_key,
        } => {
            let tls = tls_cert
                .zip(tls_key)
                .map(|(cert, key)| server_cmd::TlsFiles { cert, key });
            server_cmd::serve(&db, listen, sandbox, tls).await
        }
        Command::Worker { db } => server_cmd::worker(&db).await,
        Command::Migrate { database_url } => server_cmd::migrate(&database_url).await,
        Command::User(UserCommand::Add {
            name,
            role,
            groups,
            account,
            password_stdin,
            db,
        }) => {
            let password = password_stdin.then(server_cmd::read_password).transpose()?;
            let user = NewUser {
                name,
                role,
                account,
                groups,
                password,
            };
            server_cmd::add_user(&db, user).await
        }
        Command::User(UserCommand::Passwd { name, db }) => {
            server_cmd::set_password(&db, &name).await
        }
        Command::User(UserCommand::List { db }) => user_cmd::list(&db).await,
        Command::User(UserCommand::Deactivate { name, db }) => {
            user_cmd::deactivate(&db, &name).await
        }
        Command::User(UserCommand::Reactivate { name, db }) => {
            user_cmd::reactivate(&db, &name).await
        }
        Command::User(UserCommand::Token(command)) => user_cmd::token(command).await,
        Command::Audit(command) => {
            if audit_cmd::run(command).await? {
                Ok(())
            } else {
                Err(anyhow::anyhow!("a hash chain is broken"))
            }
        }
        Command::Account(AccountCommand::AddCustomer {
            id,
            name,
            segment,
            country,
            db,
        }) => {
            let account = CustomerAccount {
                id,
                name,
                segment,
                country,
            };
            server_cmd::add_customer(&db, account).await
        }
        Command::Account(AccountCommand::AddBilling {
            id,
            customer,
            name,
            currency,
            cycle_day,
            time_zone,
            payment_terms_days,
            db,
        }) => {
            let account = BillingAccount {
                id,
                customer_account: customer,
                name,
                currency,
                cycle_day,
                time_zone,
                payment_terms_days,
                ..Default::default()
            };
            server_cmd::add_billing(&db, account).await
        }
        Command::Billing(command) => billing_cmd::execute(command).await,
        Command::Report(command) => report_cmd::execute(command).await,
        Command::Demo {
            serve,
            listen,
            months,
        } => demo::run(serve.then_some(listen), months).await,
        // Handled synchronously in main.
        Command::Catalog(_) | Command::Workflow(_) => Ok(()),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logs(cli.log_format);
    let result = match cli.command {
        Command::Catalog(CatalogCommand::Check { file }) => catalog_cmd::check(file.as_deref()),
        Command::Catalog(CatalogCommand::Show { file, offering }) => {
            catalog_cmd::show(file.as_deref(), offering.as_deref())
        }
        Command::Workflow(WorkflowCommand::Check { dir }) => workflow_cmd::check(&dir),
        Command::Workflow(WorkflowCommand::Show { name, dir, format }) => {
            workflow_cmd::show(&dir, &name, format)
        }
        command => block_on(run_async(command)),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
