//! [`VectorIndex`] on Qdrant's in-process engine (`qdrant-edge`), in the data
//! directory: no server to run. The engine's calls block, so each one runs on
//! tokio's blocking pool. Writes go to the engine's WAL, which `load` replays: an
//! unflushed write survives a crash; `flush` makes it durable on disk.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use qdrant_edge::external::ordered_float::OrderedFloat;
use qdrant_edge::external::serde_json;
use qdrant_edge::{
    Condition, CountRequest, CreateIndex, Distance, EdgeConfig, EdgeShard, EdgeVectorParams,
    FieldCondition, FieldIndexOperations, Filter, IntegerIndexParams, JsonPath, KeywordIndexParams,
    Match, NamedQuery, Payload, PayloadFieldSchema, PayloadOps, PayloadSchemaParams, PointId,
    PointInsertOperations, PointOperations, PointStruct, QueryEnum, QueryRequest, Range, Record,
    RetrieveRequest, ScoringQuery, ScrollRequest, SearchParams, SetPayloadOp, UpdateOperation,
    VectorInternal, VectorStructInternal, WithPayloadInterface, WithVector, DEFAULT_VECTOR_NAME,
};

use super::{
    BackendKind, CaseFilter, CasePayload, CasePoint, Hit, IndexError, IndexSnapshot, Result,
    ScrollPage, VectorIndex, KEYWORD_FIELDS, SEARCH_EF,
};

/// Keyword field holding a case's tenant and district together.
///
/// Same-district lookups select a few percent of a tenant. The engine answers
/// a small filter by walking the points of its most selective condition and
/// checking the others on each: with separate `tenant` and `district`
/// conditions that walk covers the whole tenant (50k points per lookup in the
/// 1M benchmark, ~4 ms); with this one key it covers only the matching cases.
const PLACE_KEY: &str = "tenant_district";

/// The [`PLACE_KEY`] value of a tenant and district.
fn place_key_value(tenant: &str, district: &str) -> String {
    format!("{tenant}\u{1f}{district}")
}

/// The embedded index.
pub struct EmbeddedIndex {
    shard: Arc<EdgeShard>,
    dir: PathBuf,
    dim: usize,
    writes: AtomicU64,
    /// Whether the index has the [`PLACE_KEY`] payload index, i.e. was created
    /// with it and so every point carries the key. Indexes created before it
    /// existed filter on `tenant` and `district` (until `appeal-triage
    /// reindex` rebuilds them).
    place_key: bool,
}

fn path(key: &str) -> JsonPath {
    key.parse()
        .expect("static payload keys are valid JSON paths")
}

fn engine(e: impl std::fmt::Display) -> IndexError {
    IndexError::Engine(e.to_string())
}

impl EmbeddedIndex {
    /// Opens the index in `dir`, creating it (with payload indexes) if absent.
    ///
    /// A damaged directory is [`IndexError::Corrupt`] (which tells the operator
    /// to rebuild with `appeal-triage reindex`), never a panic: the engine's own
    /// panics on malformed files are caught here.
    pub fn open(dir: &Path, dim: usize) -> Result<Self> {
        let corrupt = |reason: String| IndexError::Corrupt {
            path: dir.display().to_string(),
            reason,
        };
        let existing = dir.join("edge_config.json").is_file();
        if !existing && dir_has_entries(dir) {
            return Err(corrupt(
                "edge_config.json is missing but the directory holds data".into(),
            ));
        }
        let shard = if existing {
            let loaded = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                EdgeShard::load(
                    dir,
                    Some(EdgeConfig {
                        max_search_threads: Some(search_threads()),
                        ..Default::default()
                    }),
                )
            }))
            .map_err(|panic| {
                corrupt(format!(
                    "the engine failed reading it: {}",
                    panic_text(&panic)
                ))
            })?;
            loaded.map_err(|e| {
                let msg = e.to_string();
                if msg.contains("WouldBlock") {
                    IndexError::InUse(dir.display().to_string())
                } else {
                    corrupt(msg)
                }
            })?
        } else {
            std::fs::create_dir_all(dir).map_err(engine)?;
            let config = EdgeConfig::builder()
                .vector(
                    DEFAULT_VECTOR_NAME,
                    EdgeVectorParams::builder(dim, Distance::Cosine).build(),
                )
                .max_search_threads(search_threads())
                .build();
            let shard = EdgeShard::new(dir, config).map_err(engine)?;
            let index = |field: &str, schema| {
                shard.update(UpdateOperation::FieldIndexOperation(
                    FieldIndexOperations::CreateIndex(CreateIndex {
                        field_name: path(field),
                        field_schema: Some(schema),
                    }),
                ))
            };
            index(
                "tenant",
                PayloadFieldSchema::FieldParams(PayloadSchemaParams::Keyword(KeywordIndexParams {
                    is_tenant: Some(true),
                    ..Default::default()
                })),
            )
            .map_err(engine)?;
            for (field, links) in KEYWORD_FIELDS.into_iter().chain([(PLACE_KEY, false)]) {
                index(
                    field,
                    PayloadFieldSchema::FieldParams(PayloadSchemaParams::Keyword(
                        KeywordIndexParams {
                            enable_hnsw: Some(links),
                            ..Default::default()
                        },
                    )),
                )
                .map_err(engine)?;
            }
            // Date windows (duplicates, campaigns) select recent cases: few
            // enough for the payload index alone, so no per-range links.
            index(
                "received_at",
                PayloadFieldSchema::FieldParams(PayloadSchemaParams::Integer(IntegerIndexParams {
                    lookup: Some(false),
                    range: Some(true),
                    enable_hnsw: Some(false),
                    ..Default::default()
                })),
            )
            .map_err(engine)?;
            shard.flush().map_err(engine)?;
            shard
        };
        let place_key = shard
            .info()
            .map_err(engine)?
            .payload_schema
            .contains_key(&path(PLACE_KEY));
        if !place_key {
            tracing::info!(
                dir = %dir.display(),
                "the index predates the tenant+district key: same-district lookups walk the \
                 whole tenant until `appeal-triage reindex` rebuilds it"
            );
        }
        Ok(Self {
            shard: Arc::new(shard),
            dir: dir.to_path_buf(),
            dim,
            writes: AtomicU64::new(0),
            place_key,
        })
    }

    /// Opens an index that must already exist, with the vector width it was
    /// created with: for tools (migration) that read an index without the model.
    pub fn open_existing(dir: &Path) -> Result<Self> {
        let config = dir.join("edge_config.json");
        if !config.is_file() {
            return Err(IndexError::Config(format!(
                "no embedded index in {} (no edge_config.json)",
                dir.display()
            )));
        }
        let dim = std::fs::read(&config)
            .ok()
            .and_then(|bytes| serde_json::from_slice::<EdgeConfig>(&bytes).ok())
            .and_then(|c| c.vectors.get(DEFAULT_VECTOR_NAME).map(|v| v.size))
            .ok_or_else(|| IndexError::Corrupt {
                path: dir.display().to_string(),
                reason: "edge_config.json has no readable vector size".into(),
            })?;
        Self::open(dir, dim)
    }

    /// Width of the stored vectors.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// The index directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&EdgeShard) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let shard = self.shard.clone();
        tokio::task::spawn_blocking(move || f(&shard))
            .await
            .map_err(engine)?
    }

    fn check_dim(&self, v: &[f32]) -> Result<()> {
        if v.len() != self.dim {
            return Err(IndexError::Dimension {
                got: v.len(),
                want: self.dim,
            });
        }
        Ok(())
    }
}

/// Threads in the engine's search pool: one per core.
///
/// The engine's default is four per core, for searches that wait on disk. Ours
/// are in memory and CPU-bound, and a decision runs several at once: with four
/// threads per core the idle ones spin and yield, and a profile at 1M cases
/// showed that spinning as ~8% of the decision time.
fn search_threads() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get())
}

/// True if `dir` exists and holds anything.
fn dir_has_entries(dir: &Path) -> bool {
    std::fs::read_dir(dir).is_ok_and(|mut entries| entries.next().is_some())
}

/// The message of a caught panic.
fn panic_text(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "panic".into())
}

fn keyword(key: &str, value: &str) -> Condition {
    Condition::Field(FieldCondition::new_match(
        path(key),
        Match::from(value.to_string()),
    ))
}

fn num_id(id: PointId) -> Result<u64> {
    match id {
        PointId::NumId(n) => Ok(n),
        other => Err(engine(format!("unexpected point id {other:?}"))),
    }
}

fn case_payload(payload: Option<qdrant_edge::Payload>) -> Result<CasePayload> {
    let map = payload.map(|pl| pl.0).unwrap_or_default();
    serde_json::from_value(serde_json::Value::Object(map)).map_err(engine)
}

/// A case's payload as stored: its fields plus [`PLACE_KEY`] when it has a district.
fn stored_payload(p: &CasePayload) -> Result<serde_json::Map<String, serde_json::Value>> {
    let mut map = match serde_json::to_value(p).map_err(engine)? {
        serde_json::Value::Object(map) => map,
        other => return Err(engine(format!("a payload serialised as {other}"))),
    };
    if let Some(d) = &p.district {
        map.insert(
            PLACE_KEY.into(),
            serde_json::Value::String(place_key_value(&p.tenant, d)),
        );
    }
    Ok(map)
}

/// A stored record back as a [`CasePoint`] (it was asked for with its vector).
fn case_point(r: Record) -> Result<CasePoint> {
    let vector = match r.vector {
        Some(VectorStructInternal::Single(v)) => v,
        Some(VectorStructInternal::Named(mut named)) => match named.remove(DEFAULT_VECTOR_NAME) {
            Some(VectorInternal::Dense(v)) => v,
            _ => return Err(engine(format!("point {:?} has no dense vector", r.id))),
        },
        _ => return Err(engine(format!("point {:?} has no dense vector", r.id))),
    };
    Ok(CasePoint {
        id: num_id(r.id)?,
        vector,
        payload: case_payload(r.payload)?,
    })
}

/// The engine filter of a [`CaseFilter`]; `place_key`: the index has
/// [`PLACE_KEY`], so a district condition uses it.
fn to_filter(f: &CaseFilter, place_key: bool) -> Filter {
    let mut must = vec![keyword("tenant", &f.tenant)];
    if let Some(d) = &f.department {
        must.push(keyword("department", d));
    }
    match &f.district {
        Some(d) if place_key => must.push(keyword(PLACE_KEY, &place_key_value(&f.tenant, d))),
        Some(d) => must.push(keyword("district", d)),
        None => {}
    }
    if !f.statuses.is_empty() {
        // One `match any` condition rather than a nested `should` of single
        // matches: the engine checks it with one lookup in the payload index
        // and estimates its cardinality directly, which keeps the filtered
        // graph walk on the fast path.
        must.push(Condition::Field(FieldCondition::new_match(
            path("status"),
            Match::from(f.statuses.clone()),
        )));
    }
    if f.received_from.is_some() || f.received_before.is_some() {
        must.push(Condition::Field(FieldCondition::new_range(
            path("received_at"),
            Range {
                gte: f.received_from.map(|v| OrderedFloat(v as f64)),
                lt: f.received_before.map(|v| OrderedFloat(v as f64)),
                gt: None,
                lte: None,
            },
        )));
    }
    Filter {
        must: Some(must),
        ..Default::default()
    }
}

#[async_trait::async_trait]
impl VectorIndex for EmbeddedIndex {
    async fn upsert(&self, points: Vec<CasePoint>) -> Result<()> {
        for p in &points {
            self.check_dim(&p.vector)?;
        }
        let structs = points
            .into_iter()
            .map(|p| {
                let payload = stored_payload(&p.payload)?;
                Ok(PointStruct::new(p.id, p.vector, serde_json::Value::Object(payload)).into())
            })
            .collect::<Result<Vec<_>>>()?;
        self.blocking(move |s| {
            s.update(UpdateOperation::PointOperation(
                PointOperations::UpsertPoints(PointInsertOperations::PointsList(structs)),
            ))
            .map_err(engine)
        })
        .await?;
        self.writes.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    async fn delete(&self, ids: Vec<u64>) -> Result<()> {
        self.blocking(move |s| {
            s.update(UpdateOperation::PointOperation(
                PointOperations::DeletePoints {
                    ids: ids.into_iter().map(PointId::NumId).collect(),
                },
            ))
            .map_err(engine)
        })
        .await?;
        self.writes.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    async fn search(&self, vector: Vec<f32>, filter: CaseFilter, k: usize) -> Result<Vec<Hit>> {
        let filter = to_filter(&filter, self.place_key);
        self.check_dim(&vector)?;
        if k == 0 {
            return Ok(Vec::new());
        }
        let points = self
            .blocking(move |s| {
                s.query(QueryRequest {
                    query: Some(ScoringQuery::Vector(QueryEnum::Nearest(
                        NamedQuery::default_dense(vector),
                    ))),
                    filter: Some(filter),
                    params: Some(SearchParams {
                        hnsw_ef: Some(SEARCH_EF as usize),
                        ..Default::default()
                    }),
                    with_payload: WithPayloadInterface::Bool(true),
                    with_vector: WithVector::Bool(false),
                    ..QueryRequest::new(k)
                })
                .map_err(engine)
            })
            .await?;
        points
            .into_iter()
            .map(|p| {
                Ok(Hit {
                    id: num_id(p.id)?,
                    score: p.score,
                    payload: case_payload(p.payload)?,
                })
            })
            .collect()
    }

    async fn count(&self, filter: CaseFilter) -> Result<u64> {
        let filter = to_filter(&filter, self.place_key);
        let n = self
            .blocking(move |s| {
                s.count(CountRequest {
                    filter: Some(filter),
                    exact: true,
                })
                .map_err(engine)
            })
            .await?;
        Ok(n as u64)
    }

    async fn scroll(
        &self,
        filter: CaseFilter,
        offset: Option<u64>,
        limit: usize,
    ) -> Result<ScrollPage> {
        let filter = to_filter(&filter, self.place_key);
        if limit == 0 {
            return Ok(ScrollPage {
                points: Vec::new(),
                next_offset: offset,
            });
        }
        let (records, next) = self
            .blocking(move |s| {
                s.scroll(ScrollRequest {
                    offset: offset.map(PointId::NumId),
                    limit: Some(limit),
                    filter: Some(filter),
                    with_payload: Some(WithPayloadInterface::Bool(true)),
                    with_vector: WithVector::Bool(true),
                    order_by: None,
                })
                .map_err(engine)
            })
            .await?;
        Ok(ScrollPage {
            points: records.into_iter().map(case_point).collect::<Result<_>>()?,
            next_offset: next.map(num_id).transpose()?,
        })
    }

    async fn retrieve(&self, ids: Vec<u64>) -> Result<Vec<CasePoint>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let records = self
            .blocking(move |s| {
                s.retrieve(RetrieveRequest {
                    point_ids: ids.into_iter().map(PointId::NumId).collect(),
                    with_payload: Some(WithPayloadInterface::Bool(true)),
                    with_vector: Some(WithVector::Bool(true)),
                })
                .map_err(engine)
            })
            .await?;
        records.into_iter().map(case_point).collect()
    }

    async fn payloads(&self, ids: Vec<u64>) -> Result<Vec<(u64, CasePayload)>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let records = self
            .blocking(move |s| {
                s.retrieve(RetrieveRequest {
                    point_ids: ids.into_iter().map(PointId::NumId).collect(),
                    with_payload: Some(WithPayloadInterface::Bool(true)),
                    with_vector: Some(WithVector::Bool(false)),
                })
                .map_err(engine)
            })
            .await?;
        records
            .into_iter()
            .map(|r| Ok((num_id(r.id)?, case_payload(r.payload)?)))
            .collect()
    }

    async fn set_payloads(&self, items: Vec<(u64, CasePayload)>) -> Result<()> {
        if items.is_empty() {
            return Ok(());
        }
        let ops = items
            .iter()
            .map(|(id, p)| {
                Ok(UpdateOperation::PayloadOperation(
                    PayloadOps::OverwritePayload(SetPayloadOp {
                        payload: Payload(stored_payload(p)?),
                        points: Some(vec![PointId::NumId(*id)]),
                        filter: None,
                        key: None,
                    }),
                ))
            })
            .collect::<Result<Vec<_>>>()?;
        self.blocking(move |s| {
            for op in ops {
                s.update(op).map_err(engine)?;
            }
            Ok(())
        })
        .await?;
        self.writes.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    async fn snapshot(&self) -> Result<IndexSnapshot> {
        let version = self.version();
        let points = self
            .blocking(|s| {
                s.count(CountRequest {
                    filter: None,
                    exact: true,
                })
                .map_err(engine)
            })
            .await?;
        Ok(IndexSnapshot {
            backend: BackendKind::Embedded,
            location: self.dir.display().to_string(),
            dim: self.dim,
            points: points as u64,
            version,
        })
    }

    async fn flush(&self) -> Result<()> {
        self.blocking(|s| s.flush().map_err(engine)).await
    }

    async fn optimize(&self) -> Result<()> {
        self.blocking(|s| s.optimize().map(|_| ()).map_err(engine))
            .await
    }

    fn version(&self) -> u64 {
        self.writes.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(id: u64) -> CasePoint {
        let mut vector = vec![1.0, 0.0, 0.0, 0.0];
        vector[(id % 4) as usize] += id as f32 / 10.0;
        CasePoint {
            id,
            vector,
            payload: CasePayload {
                tenant: if id.is_multiple_of(2) { "a" } else { "b" }.into(),
                department: Some("dept".into()),
                district: Some(format!("d{}", id % 3)),
                status: "imported".into(),
                received_at: id as i64,
                model: "m".into(),
            },
        }
    }

    /// A new index filters districts through the joined key; an index made
    /// before the key existed (simulated by turning the flag off) filters on
    /// the two fields. Both give the same cases, and never another tenant's.
    #[tokio::test]
    async fn district_lookups_agree_with_and_without_the_place_key() {
        let dir = tempfile::tempdir().unwrap();
        let mut index = EmbeddedIndex::open(dir.path(), 4).unwrap();
        assert!(index.place_key, "a new index has the tenant+district key");
        index.upsert((1..=60).map(point).collect()).await.unwrap();
        let want: Vec<u64> = (1..=60).filter(|i| i % 2 == 0 && i % 3 == 1).collect();
        let filter = CaseFilter {
            district: Some("d1".into()),
            ..CaseFilter::tenant("a")
        };
        for place_key in [true, false] {
            index.place_key = place_key;
            let count = index.count(filter.clone()).await.unwrap();
            assert_eq!(count, want.len() as u64, "place_key {place_key}");
            let mut got: Vec<u64> = index
                .search(point(4).vector, filter.clone(), 60)
                .await
                .unwrap()
                .into_iter()
                .map(|h| h.id)
                .collect();
            got.sort_unstable();
            assert_eq!(got, want, "place_key {place_key}");
        }
        drop(index);
        let reopened = EmbeddedIndex::open(dir.path(), 4).unwrap();
        assert!(reopened.place_key, "the key is found again on reopen");
    }

    #[test]
    fn the_place_key_replaces_the_district_condition() {
        let f = CaseFilter {
            district: Some("d1".into()),
            ..CaseFilter::tenant("a")
        };
        let keys = |filter: Filter| -> Vec<String> {
            filter
                .must
                .unwrap()
                .into_iter()
                .map(|c| match c {
                    Condition::Field(f) => f.key.to_string(),
                    other => panic!("unexpected condition {other:?}"),
                })
                .collect()
        };
        assert_eq!(keys(to_filter(&f, true)), ["tenant", PLACE_KEY]);
        assert_eq!(keys(to_filter(&f, false)), ["tenant", "district"]);
    }
}
