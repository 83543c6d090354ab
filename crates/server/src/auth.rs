//! Authentication as an extractor: a handler that takes `Key<Ask>` runs only for a valid,
//! unrevoked key with the `ask` scope (or `admin`) that is within its rate limit. The key is
//! checked before the body is read, so an unauthenticated upload is refused without reading it.

use std::marker::PhantomData;
use std::num::NonZeroU32;
use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::StatusCode;
use axum::http::request::Parts;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use lexdesk_core::config::ServerConfig;

use crate::AppState;
use crate::error::ApiError;
use crate::keys::Scope;

/// Per-key rate limiter (GCRA).
pub(crate) type Limiter = DefaultKeyedRateLimiter<String>;

pub(crate) fn limiter(config: &ServerConfig) -> Option<Arc<Limiter>> {
    let per_minute = NonZeroU32::new(config.rate_limit_per_minute)?;
    let burst = NonZeroU32::new(config.rate_limit_burst).unwrap_or(NonZeroU32::MIN);
    Some(Arc::new(RateLimiter::keyed(Quota::per_minute(per_minute).allow_burst(burst))))
}

/// A scope as a type.
pub(crate) trait ScopeMarker: Send + Sync + 'static {
    const SCOPE: Scope;
}

macro_rules! scope_marker {
    ($name:ident, $scope:expr) => {
        #[derive(Debug)]
        pub(crate) struct $name;
        impl ScopeMarker for $name {
            const SCOPE: Scope = $scope;
        }
    };
}
scope_marker!(Read, Scope::Read);
scope_marker!(Ask, Scope::Ask);
scope_marker!(Ingest, Scope::Ingest);
scope_marker!(Admin, Scope::Admin);
scope_marker!(MetricsScope, Scope::Metrics);
scope_marker!(EvalScope, Scope::Eval);

/// Proof that the caller's key was checked for scope `S`.
#[derive(Debug)]
pub(crate) struct Key<S>(PhantomData<S>);

impl<S: ScopeMarker> FromRequestParts<AppState> for Key<S> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let header = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .ok_or_else(|| ApiError::unauthenticated("an API key is required: Authorization: Bearer lxd_…"))?;
        let token = header
            .to_str()
            .ok()
            .and_then(|h| h.strip_prefix("Bearer ").or_else(|| h.strip_prefix("bearer ")))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| ApiError::unauthenticated("the Authorization header must be `Bearer <API key>`"))?;
        let record = state
            .keys
            .verify(token)
            .map_err(|e| {
                tracing::error!("API keys cannot be read: {e}");
                ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "KEYS_UNAVAILABLE", "the key store cannot be read")
            })?
            .ok_or_else(|| ApiError::unauthenticated("invalid or revoked API key"))?;
        if !record.allows(S::SCOPE) {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "INSUFFICIENT_SCOPE",
                format!("this key lacks the `{}` scope", S::SCOPE.as_str()),
            ));
        }
        if let Some(limiter) = &state.limiter
            && let Err(not_until) = limiter.check_key(&record.id)
        {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            state.metrics.rejected.with_label_values(&["rate_limit"]).inc();
            return Err(ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "RATE_LIMITED",
                format!("rate limit of this key reached; retry in {:.1} s", wait.as_secs_f64()),
            )
            .retry_after(wait.as_secs_f64().ceil() as u64));
        }
        tracing::debug!(key = %record.id, name = %record.name, scope = S::SCOPE.as_str(), "authorised");
        Ok(Self(PhantomData))
    }
}
