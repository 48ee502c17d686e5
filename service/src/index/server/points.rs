//! The point operations of [`QdrantServerIndex`]: the [`VectorIndex`] calls
//! as gRPC requests (the connection, retries and collection set-up are in the
//! parent module).

use qdrant_client::qdrant::{
    points_selector::PointsSelectorOneOf, query::Variant, vector_input, with_payload_selector,
    with_vectors_selector, CountPoints, DeletePoints, DenseVector, GetPoints, PointStruct,
    PointsIdsList, PointsSelector, Query, QueryPoints, ScrollPoints, SearchParams,
    SetPayloadPoints, UpsertPoints, VectorInput, Vectors, WithPayloadSelector, WithVectorsSelector,
};

use std::sync::atomic::Ordering;

use super::super::{
    BackendKind, CaseFilter, CasePayload, CasePoint, Hit, IndexSnapshot, Result, ScrollPage,
    VectorIndex, SEARCH_EF,
};
use super::{wire, QdrantServerIndex};

fn with_payload() -> Option<WithPayloadSelector> {
    Some(WithPayloadSelector {
        selector_options: Some(with_payload_selector::SelectorOptions::Enable(true)),
    })
}

fn with_vectors(on: bool) -> Option<WithVectorsSelector> {
    Some(WithVectorsSelector {
        selector_options: Some(with_vectors_selector::SelectorOptions::Enable(on)),
    })
}

fn case_point(p: qdrant_client::qdrant::RetrievedPoint) -> Result<CasePoint> {
    Ok(CasePoint {
        id: wire::num_id(p.id)?,
        vector: wire::dense(p.vectors)?,
        payload: wire::from_payload(p.payload)?,
    })
}

#[async_trait::async_trait]
impl VectorIndex for QdrantServerIndex {
    async fn upsert(&self, points: Vec<CasePoint>) -> Result<()> {
        for p in &points {
            self.check_dim(&p.vector)?;
        }
        if points.is_empty() {
            return Ok(());
        }
        let structs = points
            .into_iter()
            .map(|p| {
                Ok(PointStruct {
                    id: Some(wire::point_id(p.id)),
                    payload: wire::to_payload(&p.payload)?,
                    vectors: Some(Vectors::from(p.vector)),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let req = UpsertPoints {
            collection_name: self.name(),
            wait: Some(true),
            points: structs,
            ordering: Some(self.cfg.write_ordering.wire()),
            ..Default::default()
        };
        self.call("upsert", || {
            let mut c = self.points.clone();
            let req = req.clone();
            async move { c.upsert(req).await }
        })
        .await?;
        self.bump();
        Ok(())
    }

    async fn delete(&self, ids: Vec<u64>) -> Result<()> {
        let req = DeletePoints {
            collection_name: self.name(),
            wait: Some(true),
            points: Some(PointsSelector {
                points_selector_one_of: Some(PointsSelectorOneOf::Points(PointsIdsList {
                    ids: ids.into_iter().map(wire::point_id).collect(),
                })),
            }),
            ordering: Some(self.cfg.write_ordering.wire()),
            ..Default::default()
        };
        self.call("delete", || {
            let mut c = self.points.clone();
            let req = req.clone();
            async move { c.delete(req).await }
        })
        .await?;
        self.bump();
        Ok(())
    }

    async fn payloads(&self, ids: Vec<u64>) -> Result<Vec<(u64, CasePayload)>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let req = GetPoints {
            collection_name: self.name(),
            ids: ids.iter().copied().map(wire::point_id).collect(),
            with_payload: with_payload(),
            with_vectors: with_vectors(false),
            ..Default::default()
        };
        let res = self
            .call("get payloads", || {
                let mut c = self.points.clone();
                let req = req.clone();
                async move { c.get(req).await }
            })
            .await?;
        let mut by_id = std::collections::HashMap::new();
        for p in res.result {
            by_id.insert(wire::num_id(p.id)?, wire::from_payload(p.payload)?);
        }
        Ok(ids
            .iter()
            .filter_map(|id| by_id.remove(id).map(|p| (*id, p)))
            .collect())
    }

    async fn set_payloads(&self, items: Vec<(u64, CasePayload)>) -> Result<()> {
        for (id, payload) in items {
            let req = SetPayloadPoints {
                collection_name: self.name(),
                wait: Some(true),
                payload: wire::to_payload(&payload)?,
                points_selector: Some(PointsSelector {
                    points_selector_one_of: Some(PointsSelectorOneOf::Points(PointsIdsList {
                        ids: vec![wire::point_id(id)],
                    })),
                }),
                ordering: Some(self.cfg.write_ordering.wire()),
                ..Default::default()
            };
            self.call("overwrite payload", || {
                let mut c = self.points.clone();
                let req = req.clone();
                async move { c.overwrite_payload(req).await }
            })
            .await?;
        }
        self.bump();
        Ok(())
    }

    async fn search(&self, vector: Vec<f32>, filter: CaseFilter, k: usize) -> Result<Vec<Hit>> {
        self.check_dim(&vector)?;
        if k == 0 {
            return Ok(Vec::new());
        }
        let req = QueryPoints {
            collection_name: self.name(),
            query: Some(Query {
                variant: Some(Variant::Nearest(VectorInput {
                    variant: Some(vector_input::Variant::Dense(DenseVector { data: vector })),
                })),
            }),
            filter: Some(wire::to_filter(&filter)),
            params: Some(SearchParams {
                hnsw_ef: Some(SEARCH_EF),
                ..Default::default()
            }),
            limit: Some(k as u64),
            with_payload: with_payload(),
            with_vectors: with_vectors(false),
            ..Default::default()
        };
        let res = self
            .call("query", || {
                let mut c = self.points.clone();
                let req = req.clone();
                async move { c.query(req).await }
            })
            .await?;
        res.result
            .into_iter()
            .map(|p| {
                Ok(Hit {
                    id: wire::num_id(p.id)?,
                    score: p.score,
                    payload: wire::from_payload(p.payload)?,
                })
            })
            .collect()
    }

    async fn count(&self, filter: CaseFilter) -> Result<u64> {
        self.count_filtered(Some(wire::to_filter(&filter))).await
    }

    async fn scroll(
        &self,
        filter: CaseFilter,
        offset: Option<u64>,
        limit: usize,
    ) -> Result<ScrollPage> {
        if limit == 0 {
            return Ok(ScrollPage {
                points: Vec::new(),
                next_offset: offset,
            });
        }
        let req = ScrollPoints {
            collection_name: self.name(),
            filter: Some(wire::to_filter(&filter)),
            offset: offset.map(wire::point_id),
            limit: Some(u32::try_from(limit).unwrap_or(u32::MAX)),
            with_payload: with_payload(),
            with_vectors: with_vectors(true),
            ..Default::default()
        };
        let res = self
            .call("scroll", || {
                let mut c = self.points.clone();
                let req = req.clone();
                async move { c.scroll(req).await }
            })
            .await?;
        Ok(ScrollPage {
            points: res
                .result
                .into_iter()
                .map(case_point)
                .collect::<Result<_>>()?,
            next_offset: match res.next_page_offset {
                Some(id) => Some(wire::num_id(Some(id))?),
                None => None,
            },
        })
    }

    async fn retrieve(&self, ids: Vec<u64>) -> Result<Vec<CasePoint>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let req = GetPoints {
            collection_name: self.name(),
            ids: ids.iter().copied().map(wire::point_id).collect(),
            with_payload: with_payload(),
            with_vectors: with_vectors(true),
            ..Default::default()
        };
        let res = self
            .call("get points", || {
                let mut c = self.points.clone();
                let req = req.clone();
                async move { c.get(req).await }
            })
            .await?;
        // The trait promises the asked order; a cluster answers in its own.
        let mut by_id = std::collections::HashMap::new();
        for p in res.result {
            let p = case_point(p)?;
            by_id.insert(p.id, p);
        }
        Ok(ids.iter().filter_map(|id| by_id.remove(id)).collect())
    }

    async fn flush(&self) -> Result<()> {
        // Every write was sent with `wait: true`: the server has applied it to its
        // WAL before answering, which is the server's durability point.
        Ok(())
    }

    async fn optimize(&self) -> Result<()> {
        // The server's background optimiser builds HNSW by itself.
        Ok(())
    }

    fn version(&self) -> u64 {
        self.writes.load(Ordering::Relaxed)
    }

    async fn snapshot(&self) -> Result<IndexSnapshot> {
        let version = self.version();
        Ok(IndexSnapshot {
            backend: BackendKind::Server,
            location: format!("{}/{}", self.cfg.url, self.cfg.collection),
            dim: self.dim,
            points: self.count_filtered(None).await?,
            version,
        })
    }
}

impl QdrantServerIndex {
    async fn count_filtered(&self, filter: Option<qdrant_client::qdrant::Filter>) -> Result<u64> {
        let req = CountPoints {
            collection_name: self.name(),
            filter,
            exact: Some(true),
            ..Default::default()
        };
        let res = self
            .call("count", || {
                let mut c = self.points.clone();
                let req = req.clone();
                async move { c.count(req).await }
            })
            .await?;
        Ok(res.result.map_or(0, |r| r.count))
    }
}
