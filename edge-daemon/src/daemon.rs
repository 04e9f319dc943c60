//! `edge-daemon run`: open the store, serve the LAN API and the admin socket, tell systemd,
//! shut down gracefully.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use tokio::net::TcpListener;

use std::sync::Arc;

use crate::api::{self, AppState};
use crate::config::Config;
use crate::devices::config::DevicesConfig;
use crate::devices::hub::Hub;
use crate::devices::manager::DeviceManager;
use crate::store::Store;
use crate::{admin, telemetry};

/// How often old idempotency keys are expired.
const IDEM_EXPIRY_EVERY: Duration = Duration::from_secs(3600);
/// How often superseded catalog generations are deleted.
const CATALOG_SWEEP_EVERY: Duration = Duration::from_secs(60);

/// Runs the daemon until SIGTERM or SIGINT.
pub async fn run(cfg: Config) -> anyhow::Result<()> {
    std::fs::create_dir_all(&cfg.data_dir)
        .with_context(|| format!("cannot create data directory {}", cfg.data_dir.display()))?;
    let store = {
        let (dir, id, settings) = (
            cfg.data_dir.clone(),
            cfg.store_id.clone(),
            cfg.store.clone(),
        );
        tokio::task::spawn_blocking(move || Store::open(&dir, &id, &settings)).await??
    };
    if cfg.store_id == Config::default().store_id {
        // The embedded default sells from the sample catalog until a real one is loaded.
        let s = store.clone();
        if tokio::task::spawn_blocking(move || s.load_sample_catalog()).await?? {
            tracing::info!(store_id = %cfg.store_id, "loaded the sample catalog");
        }
    }
    let metrics = telemetry::init_metrics();
    let listener = TcpListener::bind(cfg.api.listen)
        .await
        .with_context(|| format!("cannot listen on {}", cfg.api.listen))?;
    let local = listener.local_addr()?;
    let admin_listener = admin::bind(&cfg.data_dir).with_context(|| {
        format!(
            "cannot create {}",
            admin::socket_path(&cfg.data_dir).display()
        )
    })?;
    let socket = admin::socket_path(&cfg.data_dir);
    let admin_task = tokio::spawn(admin::serve(admin_listener, store.clone(), socket.clone()));
    let expiry_task = tokio::spawn(expire_idempotency_keys(store.clone()));
    let sweep_task = tokio::spawn(sweep_catalog(store.clone()));
    let grace = Duration::from_millis(cfg.api.shutdown_grace_ms);
    tracing::info!(
        listen = %local,
        store_id = %cfg.store_id,
        data_dir = %cfg.data_dir.display(),
        version = env!("CARGO_PKG_VERSION"),
        "edge-daemon ready"
    );
    let devices = {
        let (dcfg, s) = (cfg.devices.clone(), store.clone());
        tokio::task::spawn_blocking(move || start_devices(&dcfg, &s)).await??
    };
    let link = crate::link::start(
        &cfg.mqtt,
        crate::link::StoreJournal::new(
            store.clone(),
            cfg.modules.clone(),
            Some(devices.clone()),
            cfg.data_dir.clone(),
        ),
    )?;
    let (link_task, link_stats) = link.unzip();
    let update_task = cfg.image.update_events.clone().map(|file| {
        let (s, d) = (store.clone(), cfg.data_dir.clone());
        tokio::spawn(crate::update_report::run(s, file, d))
    });
    let mut state = AppState::new(store.clone(), cfg, metrics).with_devices(devices.clone());
    state.link = link_stats;
    let watchdog_task = tokio::spawn(watchdog(store.clone()));
    notify(&[sd_notify::NotifyState::Ready]);

    let app = api::router(state).into_make_service_with_connect_info::<SocketAddr>();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = stop_rx.await;
            })
            .await
    });
    let signal = shutdown_signal().await;
    tracing::info!(signal, grace_ms = grace.as_millis() as u64, "shutting down");
    notify(&[sd_notify::NotifyState::Stopping]);
    let _ = stop_tx.send(());
    match tokio::time::timeout(grace, server).await {
        Ok(joined) => joined?.context("LAN API server failed")?,
        Err(_) => tracing::warn!("requests still running after the grace period; stopping"),
    }
    tokio::task::spawn_blocking(move || devices.stop()).await?;
    for t in link_task.into_iter().chain(update_task) {
        t.abort();
    }
    admin_task.abort();
    expiry_task.abort();
    sweep_task.abort();
    watchdog_task.abort();
    let _ = std::fs::remove_file(&socket);
    tokio::task::spawn_blocking(move || store.flush()).await??;
    tracing::info!("stopped");
    Ok(())
}

/// Reports print jobs a previous run left half-done, then starts the devices.
fn start_devices(cfg: &DevicesConfig, store: &Store) -> anyhow::Result<Arc<DeviceManager>> {
    for job in store.interrupt_unfinished_print_jobs()? {
        tracing::warn!(device = %job.device, job = %job.id, "print job interrupted by a restart");
    }
    let manager =
        DeviceManager::start(cfg, store, Hub::default()).context("cannot start the devices")?;
    for d in manager.list() {
        tracing::info!(device = %d.name, kind = d.kind, simulated = d.simulated, "device");
    }
    Ok(Arc::new(manager))
}

async fn shutdown_signal() -> &'static str {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = match signal(SignalKind::terminate()) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "cannot listen for SIGTERM; only SIGINT stops the daemon");
            let _ = tokio::signal::ctrl_c().await;
            return "SIGINT";
        }
    };
    tokio::select! {
        _ = term.recv() => "SIGTERM",
        _ = tokio::signal::ctrl_c() => "SIGINT",
    }
}

fn notify(state: &[sd_notify::NotifyState<'_>]) {
    if std::env::var_os("NOTIFY_SOCKET").is_some() {
        if let Err(e) = sd_notify::notify(false, state) {
            tracing::warn!(error = %e, "cannot notify systemd");
        }
    }
}

/// Pings systemd's watchdog at half its interval, but only while the store answers.
async fn watchdog(store: Store) {
    let mut usec = 0u64;
    if !sd_notify::watchdog_enabled(false, &mut usec) || usec == 0 {
        return;
    }
    let every = Duration::from_micros(usec / 2);
    loop {
        tokio::time::sleep(every).await;
        let s = store.clone();
        let healthy = tokio::task::spawn_blocking(move || s.health().is_ok())
            .await
            .unwrap_or(false);
        if healthy {
            notify(&[sd_notify::NotifyState::Watchdog]);
        } else {
            tracing::error!("store unhealthy; withholding the watchdog ping");
        }
    }
}

async fn expire_idempotency_keys(store: Store) {
    let mut tick = tokio::time::interval(IDEM_EXPIRY_EVERY);
    loop {
        tick.tick().await;
        let s = store.clone();
        match tokio::task::spawn_blocking(move || s.expire_idempotency_keys()).await {
            Ok(Ok(n)) if n > 0 => tracing::info!(expired = n, "idempotency keys expired"),
            Ok(Ok(_)) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "idempotency key expiry failed"),
            Err(e) => tracing::warn!(error = %e, "idempotency key expiry task failed"),
        }
    }
}

/// Deletes superseded catalog generations now and then: a new snapshot leaves the old one's
/// keys behind until this runs.
async fn sweep_catalog(store: Store) {
    let mut tick = tokio::time::interval(CATALOG_SWEEP_EVERY);
    loop {
        tick.tick().await;
        let s = store.clone();
        match tokio::task::spawn_blocking(move || s.sweep_catalog()).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "catalog sweep failed"),
            Err(e) => tracing::warn!(error = %e, "catalog sweep task failed"),
        }
    }
}
