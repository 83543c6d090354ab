//! `lexdesk serve` and `lexdesk keys`: the server mode's command line.

use std::sync::Arc;

use clap::{Args, Subcommand};
use lexdesk_desk::{Desk, DeskOptions};
use lexdesk_server::{AppState, Bound, KeyStore, Scope};
use serde::Serialize;

use crate::Ctx;
use crate::output::{Out, json};
use crate::templates::UsageError;

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address and port [default: `[server] bind`, 127.0.0.1:8080]. Listening beyond loopback
    /// exposes the API to the network: put it behind TLS (nginx) and use scoped keys.
    #[arg(long, value_name = "HOST:PORT")]
    bind: Option<String>,
    /// Generation requests at once [default: `[server] parallel`]
    #[arg(long, value_name = "N")]
    parallel: Option<u32>,
    /// Generation requests that may wait before 503 [default: `[server] queue`]
    #[arg(long, value_name = "N")]
    queue: Option<u32>,
    /// Requests per minute per key, 0 = unlimited [default: `[server] rate_limit_per_minute`]
    #[arg(long, value_name = "N")]
    rate_limit: Option<u32>,
    /// Start listening before the models are loaded (`/ready` answers 503 until they are)
    #[arg(long)]
    lazy: bool,
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Create a key; it is printed once and stored only as a hash
    Create {
        /// What the key is for (e.g. `litigation-team`, `prometheus`)
        name: String,
        /// Scopes, comma-separated: read, ask, ingest, admin, metrics, eval
        #[arg(long, value_delimiter = ',', required = true)]
        scope: Vec<String>,
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
    /// List keys (never the keys themselves)
    List {
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
    /// Revoke a key by id or name (takes effect on the next request, without a restart)
    Revoke {
        /// The key's id or name
        key: String,
    },
}

#[derive(Serialize)]
struct CreatedJson<'a> {
    id: &'a str,
    name: &'a str,
    scopes: Vec<&'static str>,
    key: &'a str,
}

#[derive(Serialize)]
struct KeyJson<'a> {
    id: &'a str,
    name: &'a str,
    scopes: Vec<&'static str>,
    created_ms: u64,
    revoked_ms: Option<u64>,
}

fn scope_names(scopes: &[Scope]) -> Vec<&'static str> {
    scopes.iter().map(|s| s.as_str()).collect()
}

pub fn keys_cmd(ctx: &Ctx, out: &mut Out, cmd: &KeysCommand) -> anyhow::Result<u8> {
    let store = KeyStore::new(ctx.home.root());
    match cmd {
        KeysCommand::Create { name, scope, json: as_json } => {
            let scopes = scope
                .iter()
                .map(|s| s.parse::<Scope>())
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| UsageError(e.to_string()))?;
            let (record, key) = store.create(name, &scopes)?;
            if *as_json {
                json(
                    out,
                    &CreatedJson { id: &record.id, name: &record.name, scopes: scope_names(&record.scopes), key: &key },
                )?;
            } else {
                out.line(format!(
                    "created key {} ({}) with scopes {}",
                    record.id,
                    record.name,
                    scope_names(&record.scopes).join(",")
                ))?;
                out.line("the key is shown only now; store it where the client reads it:")?;
                out.line(key)?;
            }
        }
        KeysCommand::List { json: as_json } => {
            let keys = store.list()?;
            if *as_json {
                let list: Vec<_> = keys
                    .iter()
                    .map(|k| KeyJson {
                        id: &k.id,
                        name: &k.name,
                        scopes: scope_names(&k.scopes),
                        created_ms: k.created_ms,
                        revoked_ms: k.revoked_ms,
                    })
                    .collect();
                json(out, &list)?;
            } else if keys.is_empty() {
                out.line("no keys; create one with `lexdesk keys create NAME --scope ask,read`")?;
            } else {
                for k in keys {
                    let state = if k.is_revoked() { "revoked" } else { "active" };
                    out.line(format!("{}  {:<24} {:<8} {}", k.id, k.name, state, scope_names(&k.scopes).join(",")))?;
                }
            }
        }
        KeysCommand::Revoke { key } => {
            let record = store.revoke(key)?;
            out.line(format!("revoked key {} ({})", record.id, record.name))?;
        }
    }
    Ok(0)
}

pub async fn serve(ctx: &Ctx, args: &ServeArgs) -> anyhow::Result<u8> {
    let mut config = ctx.config.clone();
    let server = &mut config.server;
    if let Some(b) = &args.bind {
        server.bind.clone_from(b);
    }
    if let Some(p) = args.parallel {
        server.parallel = p.max(1);
    }
    if let Some(q) = args.queue {
        server.queue = q;
    }
    if let Some(r) = args.rate_limit {
        server.rate_limit_per_minute = r;
    }
    let server_config = config.server.clone();
    let worker_program = std::env::current_exe()?;
    let desk =
        Desk::open(DeskOptions { home: Some(ctx.home.root().to_path_buf()), worker_program })?.with_config(config);
    let desk = Arc::new(desk);
    let keys = KeyStore::new(ctx.home.root());
    if keys.list()?.iter().all(lexdesk_server::KeyRecord::is_revoked) {
        tracing::warn!(
            "no active API keys: every request but /health will be refused; create one with `lexdesk keys create`"
        );
    }
    let state = AppState::new(Arc::clone(&desk), server_config);
    let bound = Bound::bind(state).await?;
    let addr = bound.local_addr()?;
    if !args.lazy {
        eprintln!("loading models…");
        lexdesk_server::warm_up(&desk).await?;
    } else {
        let warm = Arc::clone(&desk);
        tokio::spawn(async move {
            if let Err(e) = lexdesk_server::warm_up(&warm).await {
                tracing::error!("loading the models failed: {e}");
            }
        });
    }
    eprintln!("LexDesk server listening on http://{addr} (home {})", ctx.home.root().display());
    bound.serve(shutdown_signal()).await?;
    eprintln!("stopped");
    Ok(0)
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!("cannot listen for Ctrl-C: {e}");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::error!("cannot listen for SIGTERM: {e}");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    eprintln!("shutting down: finishing requests in flight…");
}
