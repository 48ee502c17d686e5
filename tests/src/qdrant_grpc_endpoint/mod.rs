//! [`EdgeBackedQdrantEndpoint`]: an in-process gRPC endpoint that answers the
//! part of Qdrant's gRPC API our server adapter uses, backed by Qdrant's
//! embedded engine (`qdrant-edge`).
//!
//! **It is NOT a Qdrant server.** No Qdrant server can be installed or built on
//! our machines (see `docs/case-memory.md`), so this endpoint exists only so
//! that CI exercises our wire-level code for real: request building, filters,
//! payload and id conversion, vector extraction, error mapping, retries and
//! timeouts, over a real tonic HTTP/2 connection with the message types and
//! service traits generated in `qdrant-client`. Storage and search behind it are
//! Qdrant's own engine, so results are real, but cluster behaviour (sharding,
//! replication, consistency, the server's own validation and optimiser) is not
//! reproduced. Calls outside the subset answer `UNIMPLEMENTED`. Tests against a
//! real server run where `QDRANT_URL` is set.

mod collections;
mod convert;
mod points;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use qdrant_client::qdrant::collections_server::CollectionsServer;
use qdrant_client::qdrant::points_server::PointsServer;
use qdrant_client::qdrant::CollectionParams;
use qdrant_edge::EdgeShard;
use tonic::service::interceptor::InterceptedService;
use tonic::service::Interceptor;
use tonic::transport::server::TcpIncoming;
use tonic::{Code, Status};

/// One collection: an edge shard in its own directory and the parameters it
/// was created with (reported back by `get`).
struct Collection {
    shard: Arc<EdgeShard>,
    params: CollectionParams,
}

/// Shared state of both services.
struct State {
    dir: PathBuf,
    collections: Mutex<HashMap<String, Arc<Collection>>>,
    /// Calls still to fail with `fail_code` (fault injection for retry tests).
    fail_next: AtomicU32,
    fail_code: Mutex<Code>,
    /// Calls answered, failed ones included.
    calls: AtomicU32,
}

impl State {
    /// Counts the call and fails it if a fault is armed.
    fn enter(&self) -> Result<(), Status> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let armed = self
            .fail_next
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        if armed {
            let code = *self.fail_code.lock().expect("fault lock");
            return Err(Status::new(code, "injected fault"));
        }
        Ok(())
    }

    fn collection(&self, name: &str) -> Result<Arc<Collection>, Status> {
        self.collections
            .lock()
            .expect("collections lock")
            .get(name)
            .cloned()
            .ok_or_else(|| Status::not_found(format!("Collection `{name}` doesn't exist!")))
    }
}

/// The running endpoint; it stops when dropped.
pub struct EdgeBackedQdrantEndpoint {
    addr: SocketAddr,
    state: Arc<State>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl EdgeBackedQdrantEndpoint {
    /// Starts serving on `127.0.0.1:<free port>`, keeping collections under
    /// `dir` (one edge shard per collection). Must run inside a tokio runtime.
    pub async fn start(dir: &Path) -> std::io::Result<Self> {
        Self::serve(dir, None).await
    }

    /// Like [`Self::start`], but every call must carry `api-key: <key>` (as a
    /// Qdrant server with an API key configured demands); others get
    /// `UNAUTHENTICATED`.
    pub async fn start_with_api_key(dir: &Path, key: &str) -> std::io::Result<Self> {
        Self::serve(dir, Some(key.to_string())).await
    }

    async fn serve(dir: &Path, key: Option<String>) -> std::io::Result<Self> {
        let incoming = TcpIncoming::bind(SocketAddr::from(([127, 0, 0, 1], 0)))?;
        let addr = incoming.local_addr()?;
        let state = Arc::new(State {
            dir: dir.to_path_buf(),
            collections: Mutex::new(HashMap::new()),
            fail_next: AtomicU32::new(0),
            fail_code: Mutex::new(Code::Unavailable),
            calls: AtomicU32::new(0),
        });
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let check = KeyCheck(key.map(Arc::from));
        let router = tonic::transport::Server::builder()
            .add_service(InterceptedService::new(
                CollectionsServer::new(collections::Service(state.clone())),
                check.clone(),
            ))
            .add_service(InterceptedService::new(
                PointsServer::new(points::Service(state.clone()))
                    .max_decoding_message_size(64 << 20),
                check,
            ));
        tokio::spawn(async move {
            let _ = router
                .serve_with_incoming_shutdown(incoming, async {
                    let _ = stopped.await;
                })
                .await;
        });
        Ok(Self {
            addr,
            state,
            stop: Some(stop),
        })
    }

    /// The gRPC URL to give the adapter (`http://127.0.0.1:PORT`).
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Makes the next `n` calls fail with `code`, as a flaky network or an
    /// overloaded server would.
    pub fn fail_next(&self, n: u32, code: Code) {
        *self.state.fail_code.lock().expect("fault lock") = code;
        self.state.fail_next.store(n, Ordering::SeqCst);
    }

    /// Calls received so far (failed ones included).
    pub fn calls(&self) -> u32 {
        self.state.calls.load(Ordering::SeqCst)
    }
}

impl Drop for EdgeBackedQdrantEndpoint {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Refuses calls without the configured API key.
#[derive(Clone)]
struct KeyCheck(Option<Arc<str>>);

impl Interceptor for KeyCheck {
    fn call(&mut self, req: tonic::Request<()>) -> Result<tonic::Request<()>, Status> {
        let Some(want) = &self.0 else {
            return Ok(req);
        };
        match req.metadata().get("api-key").and_then(|v| v.to_str().ok()) {
            Some(got) if got == &**want => Ok(req),
            _ => Err(Status::unauthenticated("Invalid api-key")),
        }
    }
}

/// The answer to a call outside the subset.
fn not_supported(method: &str) -> Status {
    Status::unimplemented(format!(
        "`{method}` is not part of the subset EdgeBackedQdrantEndpoint answers (it is not a Qdrant server)"
    ))
}

/// Runs a blocking engine call off the async runtime.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, Status> + Send + 'static,
) -> Result<T, Status> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Status::internal(e.to_string()))?
}

/// Implements a generated service trait: the methods written out, plus
/// `UNIMPLEMENTED` answers for every listed one.
macro_rules! grpc_service {
    (
        impl $trait:ident for $ty:ident { $($body:tt)* }
        unimplemented { $($name:ident($req:ident) -> $resp:ident;)* }
    ) => {
        #[tonic::async_trait]
        impl $trait for $ty {
            $($body)*
            $(
                async fn $name(
                    &self,
                    _request: tonic::Request<qdrant_client::qdrant::$req>,
                ) -> Result<tonic::Response<qdrant_client::qdrant::$resp>, tonic::Status> {
                    Err($crate::qdrant_grpc_endpoint::not_supported(stringify!($name)))
                }
            )*
        }
    };
}
pub(crate) use grpc_service;
