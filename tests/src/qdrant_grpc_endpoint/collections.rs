//! The `Collections` service subset: exists, create, get (info), list, delete.

use std::sync::Arc;

use qdrant_client::qdrant::{
    self as q, collections_server::Collections, payload_index_params::IndexParams,
    vectors_config::Config,
};
use qdrant_edge::{
    EdgeConfig, EdgeShard, EdgeVectorParams, PayloadSchemaParams, PayloadSchemaType,
    DEFAULT_VECTOR_NAME,
};
use tonic::{Request, Response, Status};

use super::{blocking, convert, grpc_service, Collection, State};

/// The service over the shared state.
pub(super) struct Service(pub(super) Arc<State>);

fn field_type(t: PayloadSchemaType) -> q::PayloadSchemaType {
    match t {
        PayloadSchemaType::Keyword => q::PayloadSchemaType::Keyword,
        PayloadSchemaType::Integer => q::PayloadSchemaType::Integer,
        PayloadSchemaType::Float => q::PayloadSchemaType::Float,
        PayloadSchemaType::Geo => q::PayloadSchemaType::Geo,
        PayloadSchemaType::Text => q::PayloadSchemaType::Text,
        PayloadSchemaType::Bool => q::PayloadSchemaType::Bool,
        PayloadSchemaType::Datetime => q::PayloadSchemaType::Datetime,
        PayloadSchemaType::Uuid => q::PayloadSchemaType::Uuid,
    }
}

fn index_params(p: Option<PayloadSchemaParams>) -> Option<q::PayloadIndexParams> {
    let params = match p? {
        PayloadSchemaParams::Keyword(k) => IndexParams::KeywordIndexParams(q::KeywordIndexParams {
            is_tenant: k.is_tenant,
            enable_hnsw: k.enable_hnsw,
            ..Default::default()
        }),
        PayloadSchemaParams::Integer(i) => IndexParams::IntegerIndexParams(q::IntegerIndexParams {
            lookup: i.lookup,
            range: i.range,
            is_principal: i.is_principal,
            enable_hnsw: i.enable_hnsw,
            ..Default::default()
        }),
        _ => return None,
    };
    Some(q::PayloadIndexParams {
        index_params: Some(params),
    })
}

grpc_service! {
    impl Collections for Service {
        async fn collection_exists(
            &self,
            request: Request<q::CollectionExistsRequest>,
        ) -> Result<Response<q::CollectionExistsResponse>, Status> {
            self.0.enter()?;
            let name = request.into_inner().collection_name;
            let exists = self.0.collection(&name).is_ok();
            Ok(Response::new(q::CollectionExistsResponse {
                result: Some(q::CollectionExists { exists }),
                time: 0.0,
            }))
        }

        async fn create(
            &self,
            request: Request<q::CreateCollection>,
        ) -> Result<Response<q::CollectionOperationResponse>, Status> {
            self.0.enter()?;
            let req = request.into_inner();
            let name = req.collection_name.clone();
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
                return Err(Status::invalid_argument(format!("bad collection name `{name}`")));
            }
            if self.0.collection(&name).is_ok() {
                return Err(Status::already_exists(format!(
                    "Wrong input: Collection `{name}` already exists!"
                )));
            }
            let Some(Config::Params(params)) = req.vectors_config.as_ref().and_then(|v| v.config.clone())
            else {
                return Err(Status::unimplemented("only one unnamed dense vector is supported here"));
            };
            let distance = convert::distance(params.distance)?;
            let size = params.size as usize;
            let dir = self.0.dir.join(&name);
            let shard = blocking(move || {
                std::fs::create_dir_all(&dir).map_err(|e| Status::internal(e.to_string()))?;
                let config = EdgeConfig::builder()
                    .vector(DEFAULT_VECTOR_NAME, EdgeVectorParams::builder(size, distance).build())
                    .build();
                EdgeShard::new(&dir, config).map_err(convert::status)
            })
            .await?;
            let collection = Collection {
                shard: Arc::new(shard),
                params: q::CollectionParams {
                    shard_number: req.shard_number.unwrap_or(1),
                    vectors_config: req.vectors_config,
                    replication_factor: req.replication_factor,
                    write_consistency_factor: req.write_consistency_factor,
                    ..Default::default()
                },
            };
            self.0
                .collections
                .lock()
                .expect("collections lock")
                .insert(name, Arc::new(collection));
            Ok(Response::new(q::CollectionOperationResponse {
                result: true,
                time: 0.0,
            }))
        }

        async fn get(
            &self,
            request: Request<q::GetCollectionInfoRequest>,
        ) -> Result<Response<q::GetCollectionInfoResponse>, Status> {
            self.0.enter()?;
            let c = self.0.collection(&request.into_inner().collection_name)?;
            let shard = c.shard.clone();
            let info = blocking(move || shard.info().map_err(convert::status)).await?;
            let payload_schema = info
                .payload_schema
                .into_iter()
                .map(|(k, v)| {
                    (
                        k.to_string(),
                        q::PayloadSchemaInfo {
                            data_type: field_type(v.data_type) as i32,
                            params: index_params(v.params),
                            points: Some(v.points as u64),
                        },
                    )
                })
                .collect();
            Ok(Response::new(q::GetCollectionInfoResponse {
                result: Some(q::CollectionInfo {
                    status: q::CollectionStatus::Green as i32,
                    segments_count: info.segments_count as u64,
                    config: Some(q::CollectionConfig {
                        params: Some(c.params.clone()),
                        ..Default::default()
                    }),
                    payload_schema,
                    points_count: Some(info.points_count as u64),
                    indexed_vectors_count: Some(info.indexed_vectors_count as u64),
                    ..Default::default()
                }),
                time: 0.0,
            }))
        }

        async fn list(
            &self,
            _request: Request<q::ListCollectionsRequest>,
        ) -> Result<Response<q::ListCollectionsResponse>, Status> {
            self.0.enter()?;
            let mut names: Vec<String> =
                self.0.collections.lock().expect("collections lock").keys().cloned().collect();
            names.sort();
            Ok(Response::new(q::ListCollectionsResponse {
                collections: names
                    .into_iter()
                    .map(|name| q::CollectionDescription { name })
                    .collect(),
                time: 0.0,
            }))
        }

        async fn delete(
            &self,
            request: Request<q::DeleteCollection>,
        ) -> Result<Response<q::CollectionOperationResponse>, Status> {
            self.0.enter()?;
            let name = request.into_inner().collection_name;
            let removed = self.0.collections.lock().expect("collections lock").remove(&name);
            let result = removed.is_some();
            if let Some(c) = removed {
                drop(c);
                let dir = self.0.dir.join(&name);
                blocking(move || {
                    std::fs::remove_dir_all(&dir).map_err(|e| Status::internal(e.to_string()))
                })
                .await?;
            }
            Ok(Response::new(q::CollectionOperationResponse {
                result,
                time: 0.0,
            }))
        }
    }
    unimplemented {
        update(UpdateCollection) -> CollectionOperationResponse;
        update_aliases(ChangeAliases) -> CollectionOperationResponse;
        list_collection_aliases(ListCollectionAliasesRequest) -> ListAliasesResponse;
        list_aliases(ListAliasesRequest) -> ListAliasesResponse;
        collection_cluster_info(CollectionClusterInfoRequest) -> CollectionClusterInfoResponse;
        update_collection_cluster_setup(UpdateCollectionClusterSetupRequest) -> UpdateCollectionClusterSetupResponse;
        create_shard_key(CreateShardKeyRequest) -> CreateShardKeyResponse;
        delete_shard_key(DeleteShardKeyRequest) -> DeleteShardKeyResponse;
        list_shard_keys(ListShardKeysRequest) -> ListShardKeysResponse;
    }
}
