//! The `Points` service subset: upsert, delete, get, scroll, count, query
//! (nearest to one dense vector) and payload index creation.

use std::sync::Arc;

use qdrant_client::qdrant::{self as q, payload_index_params::IndexParams, points_server::Points};
use qdrant_edge::{
    CountRequest, CreateIndex, FieldIndexOperations, IntegerIndexParams, KeywordIndexParams,
    NamedQuery, Payload, PayloadFieldSchema, PayloadOps, PayloadSchemaParams, PayloadSchemaType,
    PointInsertOperations, PointOperations, PointStruct, QueryEnum, QueryRequest, RetrieveRequest,
    ScoringQuery, ScrollRequest, SearchParams, SetPayloadOp, UpdateOperation, WithPayloadInterface,
    WithVector,
};
use tonic::{Request, Response, Status};

use super::{blocking, convert, grpc_service, State};

/// The service over the shared state.
pub(super) struct Service(pub(super) Arc<State>);

fn done() -> Response<q::PointsOperationResponse> {
    Response::new(q::PointsOperationResponse {
        result: Some(q::UpdateResult {
            operation_id: None,
            status: q::UpdateStatus::Completed as i32,
        }),
        time: 0.0,
        usage: None,
    })
}

fn retrieved(r: qdrant_edge::Record) -> q::RetrievedPoint {
    q::RetrievedPoint {
        id: Some(convert::id_out(r.id)),
        payload: convert::payload_out(r.payload.map(|p| p.0)),
        vectors: convert::vector_out(r.vector),
        shard_key: None,
        order_value: None,
    }
}

fn index_schema(
    field_type: Option<i32>,
    params: Option<q::PayloadIndexParams>,
) -> Result<PayloadFieldSchema, Status> {
    match params.and_then(|p| p.index_params) {
        Some(IndexParams::KeywordIndexParams(k)) => Ok(PayloadFieldSchema::FieldParams(
            PayloadSchemaParams::Keyword(KeywordIndexParams {
                is_tenant: k.is_tenant,
                enable_hnsw: k.enable_hnsw,
                ..Default::default()
            }),
        )),
        Some(IndexParams::IntegerIndexParams(i)) => Ok(PayloadFieldSchema::FieldParams(
            PayloadSchemaParams::Integer(IntegerIndexParams {
                lookup: i.lookup,
                range: i.range,
                is_principal: i.is_principal,
                enable_hnsw: i.enable_hnsw,
                ..Default::default()
            }),
        )),
        Some(_) => Err(Status::unimplemented(
            "index params other than keyword/integer",
        )),
        None => match field_type.map(q::FieldType::try_from) {
            Some(Ok(q::FieldType::Keyword)) => {
                Ok(PayloadFieldSchema::FieldType(PayloadSchemaType::Keyword))
            }
            Some(Ok(q::FieldType::Integer)) => {
                Ok(PayloadFieldSchema::FieldType(PayloadSchemaType::Integer))
            }
            _ => Err(Status::unimplemented(format!(
                "field type {field_type:?} is not supported here"
            ))),
        },
    }
}

grpc_service! {
    impl Points for Service {
        async fn upsert(
            &self,
            request: Request<q::UpsertPoints>,
        ) -> Result<Response<q::PointsOperationResponse>, Status> {
            self.0.enter()?;
            let req = request.into_inner();
            if req.update_filter.is_some() || req.update_mode.is_some() {
                return Err(Status::unimplemented("conditional upserts"));
            }
            let c = self.0.collection(&req.collection_name)?;
            let points = req
                .points
                .into_iter()
                .map(|p| {
                    let id = convert::id_in(p.id)?;
                    let vector = convert::vector_in(p.vectors)?;
                    Ok(PointStruct::new(id, vector, convert::payload_in(p.payload)).into())
                })
                .collect::<Result<Vec<_>, Status>>()?;
            blocking(move || {
                c.shard
                    .update(UpdateOperation::PointOperation(PointOperations::UpsertPoints(
                        PointInsertOperations::PointsList(points),
                    )))
                    .map_err(convert::status)
            })
            .await?;
            Ok(done())
        }

        async fn delete(
            &self,
            request: Request<q::DeletePoints>,
        ) -> Result<Response<q::PointsOperationResponse>, Status> {
            self.0.enter()?;
            let req = request.into_inner();
            let c = self.0.collection(&req.collection_name)?;
            let op = match req.points.and_then(|p| p.points_selector_one_of) {
                Some(q::points_selector::PointsSelectorOneOf::Points(ids)) => {
                    PointOperations::DeletePoints {
                        ids: ids
                            .ids
                            .into_iter()
                            .map(|id| convert::id_in(Some(id)))
                            .collect::<Result<_, _>>()?,
                    }
                }
                Some(q::points_selector::PointsSelectorOneOf::Filter(f)) => {
                    PointOperations::DeletePointsByFilter(convert::filter(f)?)
                }
                None => return Err(Status::invalid_argument("delete without a selector")),
            };
            blocking(move || {
                c.shard
                    .update(UpdateOperation::PointOperation(op))
                    .map_err(convert::status)
            })
            .await?;
            Ok(done())
        }

        async fn overwrite_payload(
            &self,
            request: Request<q::SetPayloadPoints>,
        ) -> Result<Response<q::PointsOperationResponse>, Status> {
            self.0.enter()?;
            let req = request.into_inner();
            if req.key.is_some() {
                return Err(Status::unimplemented("overwriting a payload key"));
            }
            let c = self.0.collection(&req.collection_name)?;
            let points = match req.points_selector.and_then(|p| p.points_selector_one_of) {
                Some(q::points_selector::PointsSelectorOneOf::Points(ids)) => ids
                    .ids
                    .into_iter()
                    .map(|id| convert::id_in(Some(id)))
                    .collect::<Result<Vec<_>, _>>()?,
                _ => return Err(Status::unimplemented("overwrite_payload by filter")),
            };
            let payload = match convert::payload_in(req.payload) {
                serde_json::Value::Object(map) => Payload(map),
                _ => return Err(Status::invalid_argument("payload is not an object")),
            };
            let op = UpdateOperation::PayloadOperation(PayloadOps::OverwritePayload(SetPayloadOp {
                payload,
                points: Some(points),
                filter: None,
                key: None,
            }));
            blocking(move || c.shard.update(op).map_err(convert::status)).await?;
            Ok(done())
        }

        async fn get(
            &self,
            request: Request<q::GetPoints>,
        ) -> Result<Response<q::GetResponse>, Status> {
            self.0.enter()?;
            let req = request.into_inner();
            let c = self.0.collection(&req.collection_name)?;
            let retrieve = RetrieveRequest {
                point_ids: req
                    .ids
                    .into_iter()
                    .map(|id| convert::id_in(Some(id)))
                    .collect::<Result<_, _>>()?,
                with_payload: Some(WithPayloadInterface::Bool(convert::wants_payload(
                    &req.with_payload,
                )?)),
                with_vector: Some(WithVector::Bool(convert::wants_vectors(&req.with_vectors)?)),
            };
            let records = blocking(move || c.shard.retrieve(retrieve).map_err(convert::status)).await?;
            Ok(Response::new(q::GetResponse {
                result: records.into_iter().map(retrieved).collect(),
                time: 0.0,
                usage: None,
            }))
        }

        async fn scroll(
            &self,
            request: Request<q::ScrollPoints>,
        ) -> Result<Response<q::ScrollResponse>, Status> {
            self.0.enter()?;
            let req = request.into_inner();
            if req.order_by.is_some() {
                return Err(Status::unimplemented("scroll order_by"));
            }
            let c = self.0.collection(&req.collection_name)?;
            let scroll = ScrollRequest {
                offset: req.offset.map(|id| convert::id_in(Some(id))).transpose()?,
                limit: Some(req.limit.unwrap_or(10) as usize),
                filter: req.filter.map(convert::filter).transpose()?,
                with_payload: Some(WithPayloadInterface::Bool(convert::wants_payload(
                    &req.with_payload,
                )?)),
                with_vector: WithVector::Bool(convert::wants_vectors(&req.with_vectors)?),
                order_by: None,
            };
            let (records, next) =
                blocking(move || c.shard.scroll(scroll).map_err(convert::status)).await?;
            Ok(Response::new(q::ScrollResponse {
                next_page_offset: next.map(convert::id_out),
                result: records.into_iter().map(retrieved).collect(),
                time: 0.0,
                usage: None,
            }))
        }

        async fn count(
            &self,
            request: Request<q::CountPoints>,
        ) -> Result<Response<q::CountResponse>, Status> {
            self.0.enter()?;
            let req = request.into_inner();
            let c = self.0.collection(&req.collection_name)?;
            let count = CountRequest {
                filter: req.filter.map(convert::filter).transpose()?,
                exact: req.exact.unwrap_or(true),
            };
            let n = blocking(move || c.shard.count(count).map_err(convert::status)).await?;
            Ok(Response::new(q::CountResponse {
                result: Some(q::CountResult { count: n as u64 }),
                time: 0.0,
                usage: None,
            }))
        }

        async fn query(
            &self,
            request: Request<q::QueryPoints>,
        ) -> Result<Response<q::QueryResponse>, Status> {
            self.0.enter()?;
            let req = request.into_inner();
            if !req.prefetch.is_empty() || req.using.as_deref().is_some_and(|u| !u.is_empty()) {
                return Err(Status::unimplemented("prefetch and named vectors"));
            }
            let vector = match req.query.and_then(|q| q.variant) {
                Some(q::query::Variant::Nearest(q::VectorInput {
                    variant: Some(q::vector_input::Variant::Dense(d)),
                })) => d.data,
                _ => return Err(Status::unimplemented("only nearest-to-a-dense-vector queries")),
            };
            let c = self.0.collection(&req.collection_name)?;
            let params = req.params.map(|p| SearchParams {
                hnsw_ef: p.hnsw_ef.map(|e| e as usize),
                exact: p.exact.unwrap_or(false),
                ..Default::default()
            });
            let query = QueryRequest {
                query: Some(ScoringQuery::Vector(QueryEnum::Nearest(
                    NamedQuery::default_dense(vector),
                ))),
                filter: req.filter.map(convert::filter).transpose()?,
                score_threshold: req.score_threshold,
                offset: req.offset.unwrap_or(0) as usize,
                params,
                with_payload: WithPayloadInterface::Bool(convert::wants_payload(&req.with_payload)?),
                with_vector: WithVector::Bool(convert::wants_vectors(&req.with_vectors)?),
                ..QueryRequest::new(req.limit.unwrap_or(10) as usize)
            };
            let points = blocking(move || c.shard.query(query).map_err(convert::status)).await?;
            Ok(Response::new(q::QueryResponse {
                result: points
                    .into_iter()
                    .map(|p| q::ScoredPoint {
                        id: Some(convert::id_out(p.id)),
                        payload: convert::payload_out(p.payload.map(|p| p.0)),
                        score: p.score,
                        version: p.version,
                        vectors: convert::vector_out(p.vector),
                        shard_key: None,
                        order_value: None,
                    })
                    .collect(),
                time: 0.0,
                usage: None,
            }))
        }

        async fn create_field_index(
            &self,
            request: Request<q::CreateFieldIndexCollection>,
        ) -> Result<Response<q::PointsOperationResponse>, Status> {
            self.0.enter()?;
            let req = request.into_inner();
            let c = self.0.collection(&req.collection_name)?;
            let field_name = req
                .field_name
                .parse()
                .map_err(|_| Status::invalid_argument(format!("bad field `{}`", req.field_name)))?;
            let schema = index_schema(req.field_type, req.field_index_params)?;
            blocking(move || {
                c.shard
                    .update(UpdateOperation::FieldIndexOperation(FieldIndexOperations::CreateIndex(
                        CreateIndex {
                            field_name,
                            field_schema: Some(schema),
                        },
                    )))
                    .map_err(convert::status)
            })
            .await?;
            Ok(done())
        }
    }
    unimplemented {
        update_vectors(UpdatePointVectors) -> PointsOperationResponse;
        delete_vectors(DeletePointVectors) -> PointsOperationResponse;
        set_payload(SetPayloadPoints) -> PointsOperationResponse;
        delete_payload(DeletePayloadPoints) -> PointsOperationResponse;
        clear_payload(ClearPayloadPoints) -> PointsOperationResponse;
        delete_field_index(DeleteFieldIndexCollection) -> PointsOperationResponse;
        create_vector_name(CreateVectorNameRequest) -> PointsOperationResponse;
        delete_vector_name(DeleteVectorNameRequest) -> PointsOperationResponse;
        search(SearchPoints) -> SearchResponse;
        search_batch(SearchBatchPoints) -> SearchBatchResponse;
        search_groups(SearchPointGroups) -> SearchGroupsResponse;
        recommend(RecommendPoints) -> RecommendResponse;
        recommend_batch(RecommendBatchPoints) -> RecommendBatchResponse;
        recommend_groups(RecommendPointGroups) -> RecommendGroupsResponse;
        discover(DiscoverPoints) -> DiscoverResponse;
        discover_batch(DiscoverBatchPoints) -> DiscoverBatchResponse;
        update_batch(UpdateBatchPoints) -> UpdateBatchResponse;
        query_batch(QueryBatchPoints) -> QueryBatchResponse;
        query_groups(QueryPointGroups) -> QueryGroupsResponse;
        facet(FacetCounts) -> FacetResponse;
        search_matrix_pairs(SearchMatrixPoints) -> SearchMatrixPairsResponse;
        search_matrix_offsets(SearchMatrixPoints) -> SearchMatrixOffsetsResponse;
    }
}
