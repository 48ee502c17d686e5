//! `POST /v1/import`: history in, over HTTP (admin).
//!
//! The body (CSV with a header row, or JSON Lines) is streamed to a spool file
//! in the data directory, never held in memory, up to the configured import
//! limit; then the import module ([`crate::import`]) runs over it exactly as
//! the CLI does, into the caller's tenant. The reply counts imported, skipped
//! and rejected rows and shows the first rejections.

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::atomic::AtomicBool;

use axum::body::Body;
use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use chrono::FixedOffset;
use http_body_util::BodyExt;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::auth::Admin;
use super::error::{ApiError, ApiQuery, ApiResult};
use super::AppState;
use crate::import::{
    self, ColumnMap, Format, ImportOptions, MappingOptions, ReaderLimits, RejectLog,
};

pub(super) fn routes() -> Router<AppState> {
    // The raw body is not subject to the JSON body limit; `spool` enforces the import limit.
    Router::new().route("/v1/import", post(import_history))
}

/// Options of an import.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub(super) struct ImportParams {
    /// `csv` (header row; default) or `jsonl`.
    format: Option<String>,
    /// UTC offset in hours of dates written without one (default 0).
    naive_offset_hours: Option<i32>,
}

/// One rejected row.
#[derive(Debug, Serialize, ToSchema)]
pub struct RejectDto {
    /// 1-based data row.
    pub row: u64,
    /// Line the row starts on.
    pub line: u64,
    /// Its id, when readable.
    pub external_id: Option<String>,
    /// Stable reason code.
    pub code: String,
    /// Why.
    pub message: String,
}

/// What an import did.
#[derive(Debug, Serialize, ToSchema)]
pub struct ImportResponse {
    /// Data rows read.
    pub read: u64,
    /// New appeals stored and indexed.
    pub imported: u64,
    /// Rows already stored before (a repeated import).
    pub already_present: u64,
    /// Rows repeating an id of this file with the same text.
    pub duplicates: u64,
    /// Rows refused.
    pub rejected: u64,
    /// Rejections by reason code.
    pub rejected_by_code: BTreeMap<String, u64>,
    /// The first rejections.
    pub first_rejects: Vec<RejectDto>,
}

/// Imports past appeals with their known departments into the caller's tenant.
#[utoipa::path(post, path = "/v1/import", tag = "admin", security(("api_key" = [])),
    params(ImportParams), request_body(content = String, content_type = "text/csv"),
    responses((status = 200, body = ImportResponse), (status = 400, body = super::error::ErrorBody),
        (status = 413, body = super::error::ErrorBody)))]
pub(super) async fn import_history(
    State(state): State<AppState>,
    Admin(caller): Admin,
    ApiQuery(p): ApiQuery<ImportParams>,
    body: Body,
) -> ApiResult<Json<ImportResponse>> {
    let format = match p.format.as_deref().unwrap_or("csv") {
        "csv" => Format::Csv,
        "jsonl" | "ndjson" => Format::Jsonl,
        other => return Err(ApiError::invalid(format!("format {other:?}: csv or jsonl"))),
    };
    let hours = p.naive_offset_hours.unwrap_or(0);
    let naive_offset = FixedOffset::east_opt(hours * 3600)
        .ok_or_else(|| ApiError::invalid("naive_offset_hours out of range"))?;
    let spool = spool(&state, body).await?;
    let tenant = caller.tenant().to_string();
    let opts = ImportOptions {
        mapping: MappingOptions {
            tenant: tenant.clone(),
            max_text_bytes: state.max_text_bytes(),
            naive_offset,
            aliases: Default::default(),
        },
        batch_size: 128,
        actor: caller.actor(),
    };
    let memory = state.engine.memory().clone();
    let path = spool.path().to_path_buf();
    // The import's future holds the (non-Send) row source: run it on a blocking
    // thread that drives it with the runtime's handle.
    let handle = tokio::runtime::Handle::current();
    let outcome = tokio::task::spawn_blocking(move || {
        handle.block_on(async move {
            let (mut source, _len) = import::open_source(
                &path,
                Some(format),
                &ColumnMap::default(),
                ReaderLimits::default(),
            )?;
            let mut rejects = RejectLog::new(None).map_err(import::ImportError::Rejects)?;
            let stop = AtomicBool::new(false);
            let stats = import::run(
                memory.as_ref(),
                source.as_mut(),
                &opts,
                &mut rejects,
                &stop,
                &mut |_, _| {},
            )
            .await?;
            Ok::<_, import::ImportError>((stats, rejects))
        })
    })
    .await
    .map_err(ApiError::internal)?;
    drop(spool);
    let (stats, rejects) = outcome.map_err(|e| match e {
        import::ImportError::Source(s) => ApiError::invalid(format!("unreadable input: {s}")),
        import::ImportError::Record(r) => ApiError::from(r),
        other => ApiError::internal(other),
    })?;
    state.engine.invalidate(&tenant);
    if stats.imported > 0 {
        let engine = state.engine.clone();
        tokio::spawn(async move {
            if let Err(e) = engine.refit(&tenant).await {
                tracing::warn!(error = %e, "refit after import failed");
            }
        });
    }
    Ok(Json(ImportResponse {
        read: stats.read,
        imported: stats.imported,
        already_present: stats.already_present,
        duplicates: stats.duplicates,
        rejected: stats.rejected,
        rejected_by_code: rejects
            .by_code()
            .iter()
            .map(|(k, v)| (k.to_string(), *v))
            .collect(),
        first_rejects: rejects
            .first()
            .iter()
            .map(|r| RejectDto {
                row: r.row,
                line: r.line,
                external_id: r.external_id.clone(),
                code: r.reason.code().to_string(),
                message: r.reason.to_string(),
            })
            .collect(),
    }))
}

/// A spool file removed on drop.
struct Spool(std::path::PathBuf);

impl Spool {
    fn path(&self) -> &std::path::Path {
        &self.0
    }
}

impl Drop for Spool {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Streams the body into a spool file, enforcing the import size limit.
async fn spool(state: &AppState, body: Body) -> Result<Spool, ApiError> {
    let dir = state.spool_dir.clone();
    std::fs::create_dir_all(&dir).map_err(ApiError::internal)?;
    let mut id = [0u8; 8];
    getrandom::fill(&mut id).map_err(ApiError::internal)?;
    let spool = Spool(dir.join(format!("import-{}.part", hex::encode(id))));
    let mut file =
        std::io::BufWriter::new(std::fs::File::create(spool.path()).map_err(ApiError::internal)?);
    let limit = state.config.max_import_bytes;
    let mut written: u64 = 0;
    let mut body = body;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| ApiError::invalid(format!("reading the upload: {e}")))?;
        if let Ok(data) = frame.into_data() {
            written += data.len() as u64;
            if written > limit {
                return Err(ApiError::too_large(format!(
                    "import over the configured limit of {limit} bytes"
                )));
            }
            file.write_all(&data).map_err(ApiError::internal)?;
        }
    }
    file.flush().map_err(ApiError::internal)?;
    if written == 0 {
        return Err(ApiError::invalid("the upload is empty"));
    }
    Ok(spool)
}
