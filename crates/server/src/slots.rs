//! Admission of generation requests: `parallel` run at once, up to `queue` wait (each at most
//! `queue_timeout_secs`), the rest are refused at once with 503 and `Retry-After`. Queue depth
//! and running requests are exported as gauges.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::http::StatusCode;
use lexdesk_core::config::ServerConfig;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::error::ApiError;
use crate::metrics::Metrics;

#[derive(Debug)]
pub(crate) struct Slots {
    running: Arc<Semaphore>,
    waiting: AtomicUsize,
    queue: usize,
    timeout: Duration,
    metrics: Metrics,
}

/// A running generation; dropping it frees the slot.
#[derive(Debug)]
pub(crate) struct Slot {
    _permit: OwnedSemaphorePermit,
    metrics: Metrics,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.metrics.active_sequences.dec();
    }
}

/// Decrements the queue gauge however the wait ends (admitted, timed out, client gone).
struct Waiting<'a>(&'a Slots);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.waiting.fetch_sub(1, Ordering::SeqCst);
        self.0.metrics.queue_depth.dec();
    }
}

impl Slots {
    pub(crate) fn new(config: &ServerConfig, metrics: Metrics) -> Self {
        Self {
            running: Arc::new(Semaphore::new(config.parallel.max(1) as usize)),
            waiting: AtomicUsize::new(0),
            queue: config.queue as usize,
            timeout: Duration::from_secs(config.queue_timeout_secs.max(1)),
            metrics,
        }
    }

    fn busy(&self, why: &str) -> ApiError {
        self.metrics.rejected.with_label_values(&[why]).inc();
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "SERVER_BUSY", "all generation slots are busy; retry shortly")
            .retry_after(2)
    }

    pub(crate) async fn admit(&self) -> Result<Slot, ApiError> {
        let permit = match Arc::clone(&self.running).try_acquire_owned() {
            Ok(p) => p,
            Err(_) => {
                if self.waiting.fetch_add(1, Ordering::SeqCst) >= self.queue {
                    self.waiting.fetch_sub(1, Ordering::SeqCst);
                    return Err(self.busy("queue_full"));
                }
                self.metrics.queue_depth.inc();
                let _waiting = Waiting(self);
                match tokio::time::timeout(self.timeout, Arc::clone(&self.running).acquire_owned()).await {
                    Ok(Ok(p)) => p,
                    Ok(Err(_)) => return Err(self.busy("closed")),
                    Err(_) => return Err(self.busy("queue_timeout")),
                }
            }
        };
        self.metrics.active_sequences.inc();
        Ok(Slot { _permit: permit, metrics: self.metrics.clone() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn bounded_queue_refuses_with_retry_after() {
        let config = ServerConfig { parallel: 1, queue: 1, queue_timeout_secs: 1, ..ServerConfig::default() };
        let metrics = Metrics::new();
        let slots = Arc::new(Slots::new(&config, metrics.clone()));
        let first = slots.admit().await.unwrap();
        assert_eq!(metrics.active_sequences.get(), 1);
        let waiter = tokio::spawn({
            let slots = Arc::clone(&slots);
            async move { slots.admit().await.map(|_slot| ()) }
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(metrics.queue_depth.get(), 1);
        // The queue (1) is full: refused at once.
        let e = slots.admit().await.unwrap_err();
        assert_eq!((e.status, e.retry_after), (StatusCode::SERVICE_UNAVAILABLE, Some(2)));
        drop(first);
        waiter.await.unwrap().unwrap();
        assert_eq!((metrics.queue_depth.get(), metrics.active_sequences.get()), (0, 0));
        // A wait longer than the timeout ends in 503 too.
        let _held = slots.admit().await.unwrap();
        let e = slots.admit().await.unwrap_err();
        assert_eq!(e.code, "SERVER_BUSY");
        assert_eq!(metrics.queue_depth.get(), 0);
    }
}
