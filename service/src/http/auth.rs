//! Authentication and authorisation: an API key per request, its tenant and
//! role, and the per-key rate limit.
//!
//! The key comes in `Authorization: Bearer <key>` or `X-Api-Key: <key>`
//! (Open311 clients pass `api_key` as a form or query field; see `open311`).
//! Handlers take [`Portal`], [`Supervisor`] or [`Admin`]: the extractor *is*
//! the permission check, so a handler cannot forget it. Every query a handler
//! makes is scoped by `caller.tenant()`, which is how a key of tenant A can
//! never read or affect tenant B (another tenant's ids answer 404, not 403, so
//! their existence does not leak either).

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;

use super::error::ApiError;
use super::AppState;
use crate::record::{ApiKey, KeyRole};

/// An authenticated caller.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The key it presented.
    pub key: ApiKey,
}

impl Caller {
    /// The tenant every action of this caller is confined to.
    pub fn tenant(&self) -> &str {
        &self.key.tenant_id
    }

    /// The audit actor: `key:<id>` (the key id is public, the secret never logged).
    pub fn actor(&self) -> String {
        format!("key:{}", self.key.id)
    }

    /// Whether this caller may read an appeal's text, decisions and history.
    /// Supervisors and admins read every appeal of their tenant; a portal key
    /// only what it submitted itself. A portal key is often public (built
    /// into a web page or a mobile app), so it must not open imported history
    /// or other portals' appeals, however their ids are guessed.
    pub fn may_read(&self, appeal: &crate::record::AppealData) -> bool {
        self.key.role >= KeyRole::Supervisor
            || appeal.submitted_by.as_deref() == Some(self.actor().as_str())
    }

    /// A decision as this caller may see it: a portal key gets the similar
    /// past cases' ids, departments and similarity, not their (masked) text,
    /// which is other citizens' appeals; supervisors see all of it.
    pub fn shown(&self, mut d: triage_domain::RoutingDecision) -> triage_domain::RoutingDecision {
        if self.key.role < KeyRole::Supervisor {
            for c in &mut d.evidence.cases {
                c.snippet.clear();
            }
        }
        d
    }
}

/// Authenticates a presented key, applies the rate limit and checks the role.
pub async fn authenticate(
    state: &AppState,
    presented: Option<&str>,
    needed: KeyRole,
) -> Result<Caller, ApiError> {
    let presented = presented.map(str::trim).filter(|k| !k.is_empty());
    let Some(presented) = presented else {
        return Err(ApiError::unauthorized());
    };
    let found = state
        .record
        .authenticate_api_key(presented)
        .await?
        .ok_or_else(ApiError::unauthorized)?;
    let key = found.key;
    if found.tenant_suspended {
        return Err(ApiError::new(
            axum::http::StatusCode::FORBIDDEN,
            "tenant_suspended",
            format!("tenant {} is suspended by the operator", key.tenant_id),
        ));
    }
    rate_limited(state, &key.id, "this API key")?;
    if key.role < needed {
        return Err(ApiError::forbidden(format!(
            "this action needs the {needed} role; the key has {}",
            key.role
        )));
    }
    Ok(Caller { key })
}

/// The per-key quota: 429 `rate_limited` with `Retry-After` once `id` (named
/// `who` in the message) has spent it.
fn rate_limited(state: &AppState, id: &str, who: &str) -> Result<(), ApiError> {
    state.limiter.check(id).map_err(|secs| {
        ApiError::too_many(
            "rate_limited",
            format!("rate limit of {who} exceeded; retry in {secs} s"),
            secs,
        )
    })
}

/// The key presented in the headers, if any.
pub fn presented_key(parts: &Parts) -> Option<&str> {
    if let Some(v) = parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        if let Some(k) = v
            .strip_prefix("Bearer ")
            .or_else(|| v.strip_prefix("bearer "))
        {
            return Some(k);
        }
    }
    parts.headers.get("x-api-key").and_then(|v| v.to_str().ok())
}

macro_rules! role_extractor {
    ($name:ident, $role:expr, $doc:literal) => {
        #[doc = $doc]
        #[derive(Debug, Clone)]
        pub struct $name(pub Caller);

        impl FromRequestParts<AppState> for $name {
            type Rejection = ApiError;

            async fn from_request_parts(
                parts: &mut Parts,
                state: &AppState,
            ) -> Result<Self, Self::Rejection> {
                let caller = authenticate(state, presented_key(parts), $role).await?;
                // The access-log span names the key id (never the key itself).
                let span = tracing::Span::current();
                span.record("key", caller.key.id.as_str());
                span.record("tenant", caller.tenant());
                Ok(Self(caller))
            }
        }
    };
}

role_extractor!(
    Portal,
    KeyRole::Portal,
    "A caller with at least the portal role (submit appeals, read them)."
);
role_extractor!(
    Supervisor,
    KeyRole::Supervisor,
    "A caller with at least the supervisor role (review queue, decisions, reroutes)."
);
role_extractor!(
    Admin,
    KeyRole::Admin,
    "A caller with the admin role (catalogue, tenant settings, keys, import)."
);

/// The operator: the one secret from `--operator-key-file` (only its hash is
/// kept), which manages tenants and their first keys over the API on a
/// running service. It is no tenant's key: it reads no appeals, and tenant
/// keys cannot act as it.
#[derive(Debug, Clone)]
pub struct Operator;

impl FromRequestParts<AppState> for Operator {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        use subtle::ConstantTimeEq;
        let Some(want) = state.operator_hash.as_deref() else {
            return Err(ApiError::forbidden(
                "no operator key is configured (--operator-key-file)".to_string(),
            ));
        };
        let presented = presented_key(parts)
            .map(str::trim)
            .filter(|k| !k.is_empty())
            .ok_or_else(ApiError::unauthorized)?;
        let ok: bool = crate::record::hash_secret(presented)
            .as_bytes()
            .ct_eq(want.as_bytes())
            .into();
        if !ok {
            return Err(ApiError::unauthorized());
        }
        rate_limited(state, "operator", "the operator key")?;
        tracing::Span::current().record("key", "operator");
        Ok(Self)
    }
}
