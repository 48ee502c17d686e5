//! Dynamic embedding batcher: concurrent requests are embedded together.
//!
//! The encoder is far more efficient on one batch of 16 texts than on 16 calls
//! of one text (packed attention, one pass over the weights), so the serving
//! path does not call [`Embedder::embed`] per request. Callers hand their texts
//! to [`Batcher::embed`]; one worker task collects waiting jobs until the batch
//! holds `max_batch` texts or `max_wait` has passed since the first job, runs the
//! model once off the async runtime, and hands each caller its vectors.
//!
//! The queue is bounded in texts (`queue_capacity`): when it is full a caller
//! gets [`BatchError::Overloaded`] at once (the HTTP layer answers 429), instead
//! of piling up latency and memory. A text the model refuses fails only its own
//! job: a failing batch is retried job by job so one bad request never fails its
//! neighbours.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot, OwnedSemaphorePermit, Semaphore};
use triage_models::{Embedder, Role};

use crate::metrics as m;

/// Limits of the batcher. Every field has a CLI flag / env twin in the serve config.
#[derive(Debug, Clone)]
pub struct BatcherConfig {
    /// Most texts embedded in one model call (default 32).
    pub max_batch: usize,
    /// Longest a job waits for companions before its batch runs (default 5 ms).
    pub max_wait: Duration,
    /// Most texts waiting or running at once; beyond it callers are refused (default 1024).
    pub queue_capacity: usize,
    /// Vectors of recent texts kept, so a text seen again is not embedded again
    /// (default 10,000, about 15 MB at 384 dimensions; 0 turns the cache off).
    /// Real appeal streams repeat themselves: 28% of the St Petersburg appeals
    /// are exact repeats of another ("Мусор").
    pub cache_entries: usize,
}

impl Default for BatcherConfig {
    fn default() -> Self {
        Self {
            max_batch: 32,
            max_wait: Duration::from_millis(5),
            queue_capacity: 1024,
            cache_entries: 10_000,
        }
    }
}

/// Why a batch request failed.
#[derive(Debug, thiserror::Error)]
pub enum BatchError {
    /// The queue is full: retry later (HTTP 429).
    #[error("the embedding queue is full ({capacity} texts); retry later")]
    Overloaded {
        /// The configured capacity.
        capacity: usize,
    },
    /// More texts in one call than the queue can ever hold.
    #[error("{len} texts in one call is over the queue capacity of {capacity}")]
    TooMany {
        /// Texts passed.
        len: usize,
        /// The configured capacity.
        capacity: usize,
    },
    /// The model refused the input (empty, too long, not UTF-8).
    #[error("{0}")]
    Input(String),
    /// The model failed, or the batcher is shutting down.
    #[error("embedding failed: {0}")]
    Failed(String),
}

/// Counters the metrics endpoint reads; updated lock-free by the worker.
#[derive(Debug, Default)]
pub struct BatcherStats {
    /// Texts waiting or being embedded now.
    pub queued_texts: AtomicU64,
    /// Model calls made.
    pub batches: AtomicU64,
    /// Texts embedded.
    pub texts: AtomicU64,
    /// Calls refused because the queue was full.
    pub rejected: AtomicU64,
    /// Texts answered from the cache of recent vectors, without the model.
    pub cache_hits: AtomicU64,
}

impl BatcherStats {
    fn observe_batch(&self, size: usize, took: Duration) {
        self.batches.fetch_add(1, Ordering::Relaxed);
        self.texts.fetch_add(size as u64, Ordering::Relaxed);
        metrics::histogram!(m::EMBED_BATCH_SIZE).record(size as f64);
        m::observe_stage(m::Stage::Embed, took);
    }
}

struct Job {
    texts: Vec<String>,
    role: Role,
    reply: oneshot::Sender<Result<Vec<Vec<f32>>, BatchError>>,
    /// When it entered the queue (its queue wait ends when its batch starts).
    queued_at: Instant,
    _permit: OwnedSemaphorePermit,
}

/// Handle on the batcher; cheap to clone, share it in an `Arc` or clone it.
#[derive(Clone)]
pub struct Batcher {
    tx: mpsc::UnboundedSender<Job>,
    permits: Arc<Semaphore>,
    config: BatcherConfig,
    stats: Arc<BatcherStats>,
    embedder: Arc<Embedder>,
    cache: Option<Arc<VectorCache>>,
}

/// Recent vectors by (role, text); the model is deterministic, so a hit is
/// exactly what embedding the text again would give.
type VectorCache = quick_cache::sync::Cache<(Role, String), Arc<[f32]>>;

impl Batcher {
    /// Starts the worker on the current Tokio runtime. It stops when every
    /// handle is dropped, after finishing the jobs already queued.
    pub fn start(embedder: Arc<Embedder>, config: BatcherConfig) -> Self {
        let config = BatcherConfig {
            max_batch: config.max_batch.max(1),
            queue_capacity: config.queue_capacity.max(1),
            ..config
        };
        let (tx, rx) = mpsc::unbounded_channel();
        let stats = Arc::new(BatcherStats::default());
        tokio::spawn(worker(rx, embedder.clone(), config.clone(), stats.clone()));
        let cache =
            (config.cache_entries > 0).then(|| Arc::new(VectorCache::new(config.cache_entries)));
        Self {
            tx,
            permits: Arc::new(Semaphore::new(config.queue_capacity)),
            config,
            stats,
            embedder,
            cache,
        }
    }

    /// Embeds `texts` together with whatever else is waiting; vectors in order.
    /// Texts whose vectors are cached skip the model (and the queue).
    pub async fn embed(&self, texts: Vec<String>, role: Role) -> Result<Vec<Vec<f32>>, BatchError> {
        let Some(cache) = &self.cache else {
            return self.embed_queued(texts, role).await;
        };
        let mut out: Vec<Option<Vec<f32>>> = Vec::with_capacity(texts.len());
        // Each distinct missing text once, with the positions waiting for it.
        let mut missing: Vec<(String, Vec<usize>)> = Vec::new();
        let mut slot: HashMap<String, usize> = HashMap::new();
        for (i, text) in texts.into_iter().enumerate() {
            let key = (role, text);
            if let Some(v) = cache.get(&key) {
                out.push(Some(v.to_vec()));
                continue;
            }
            out.push(None);
            match slot.get(&key.1) {
                Some(&j) => missing[j].1.push(i),
                None => {
                    slot.insert(key.1.clone(), missing.len());
                    missing.push((key.1, vec![i]));
                }
            }
        }
        let hits = out.iter().filter(|v| v.is_some()).count();
        self.stats
            .cache_hits
            .fetch_add(hits as u64, Ordering::Relaxed);
        metrics::counter!(m::EMBED_CACHE_HITS).increment(hits as u64);
        if !missing.is_empty() {
            let unique: Vec<String> = missing.iter().map(|(t, _)| t.clone()).collect();
            let vectors = self.embed_queued(unique, role).await?;
            for ((text, positions), v) in missing.into_iter().zip(vectors) {
                for &i in &positions {
                    out[i] = Some(v.clone());
                }
                cache.insert((role, text), Arc::from(v));
            }
        }
        out.into_iter()
            .map(|v| v.ok_or_else(|| BatchError::Failed("a vector is missing".into())))
            .collect()
    }

    /// Embeds `texts` through the queue, with whatever else is waiting.
    async fn embed_queued(
        &self,
        texts: Vec<String>,
        role: Role,
    ) -> Result<Vec<Vec<f32>>, BatchError> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let capacity = self.config.queue_capacity;
        if texts.len() > capacity {
            return Err(BatchError::TooMany {
                len: texts.len(),
                capacity,
            });
        }
        let permit = match self
            .permits
            .clone()
            .try_acquire_many_owned(texts.len() as u32)
        {
            Ok(p) => p,
            Err(_) => {
                self.stats.rejected.fetch_add(1, Ordering::Relaxed);
                metrics::counter!(m::EMBED_REJECTED).increment(1);
                return Err(BatchError::Overloaded { capacity });
            }
        };
        let (reply, rx) = oneshot::channel();
        self.stats
            .queued_texts
            .fetch_add(texts.len() as u64, Ordering::Relaxed);
        let n = texts.len() as u64;
        let job = Job {
            texts,
            role,
            reply,
            queued_at: Instant::now(),
            _permit: permit,
        };
        if self.tx.send(job).is_err() {
            self.stats.queued_texts.fetch_sub(n, Ordering::Relaxed);
            return Err(BatchError::Failed("the batcher has stopped".into()));
        }
        rx.await
            .map_err(|_| BatchError::Failed("the batcher dropped the job".into()))?
    }

    /// The counters for the metrics endpoint.
    pub fn stats(&self) -> &Arc<BatcherStats> {
        &self.stats
    }

    /// The limits in force.
    pub fn config(&self) -> &BatcherConfig {
        &self.config
    }

    /// The model behind the batcher (its fingerprint, dimension).
    pub fn embedder(&self) -> &Arc<Embedder> {
        &self.embedder
    }
}

async fn worker(
    mut rx: mpsc::UnboundedReceiver<Job>,
    embedder: Arc<Embedder>,
    config: BatcherConfig,
    stats: Arc<BatcherStats>,
) {
    // A job taken from the queue that did not fit the previous batch.
    let mut carry: Option<Job> = None;
    loop {
        let first = match carry.take() {
            Some(j) => j,
            None => match rx.recv().await {
                Some(j) => j,
                None => return,
            },
        };
        let role = first.role;
        let mut size = first.texts.len();
        let mut jobs = vec![first];
        let deadline = Instant::now() + config.max_wait;
        while size < config.max_batch {
            let left = deadline.saturating_duration_since(Instant::now());
            let next = if left.is_zero() {
                match rx.try_recv() {
                    Ok(j) => j,
                    Err(_) => break,
                }
            } else {
                match tokio::time::timeout(left, rx.recv()).await {
                    Ok(Some(j)) => j,
                    _ => break,
                }
            };
            if next.role != role || size + next.texts.len() > config.max_batch {
                carry = Some(next);
                break;
            }
            size += next.texts.len();
            jobs.push(next);
        }
        run_batch(&embedder, jobs, role, &stats).await;
    }
}

/// Embeds the jobs in one model call; on failure retries each job alone so the
/// error reaches only the job that caused it.
async fn run_batch(embedder: &Arc<Embedder>, jobs: Vec<Job>, role: Role, stats: &BatcherStats) {
    let texts: Vec<String> = jobs.iter().flat_map(|j| j.texts.iter().cloned()).collect();
    let n = texts.len();
    let started = Instant::now();
    for job in &jobs {
        m::observe_stage(m::Stage::QueueWait, started - job.queued_at);
    }
    let result = embed_blocking(embedder, texts, role).await;
    stats.observe_batch(n, started.elapsed());
    match result {
        Ok(mut vectors) => {
            for job in jobs.into_iter().rev() {
                let tail = vectors.split_off(vectors.len() - job.texts.len());
                finish(job, Ok(tail), stats);
            }
        }
        Err(_) if jobs.len() > 1 => {
            for job in jobs {
                let started = Instant::now();
                let r = embed_blocking(embedder, job.texts.clone(), role).await;
                stats.observe_batch(job.texts.len(), started.elapsed());
                finish(job, r, stats);
            }
        }
        Err(e) => {
            for job in jobs {
                finish(job, Err(clone_err(&e)), stats);
            }
        }
    }
}

fn finish(job: Job, r: Result<Vec<Vec<f32>>, BatchError>, stats: &BatcherStats) {
    stats
        .queued_texts
        .fetch_sub(job.texts.len() as u64, Ordering::Relaxed);
    // The caller may have gone away (request cancelled): nothing to do then.
    let _ = job.reply.send(r);
}

fn clone_err(e: &BatchError) -> BatchError {
    match e {
        BatchError::Input(m) => BatchError::Input(m.clone()),
        other => BatchError::Failed(other.to_string()),
    }
}

async fn embed_blocking(
    embedder: &Arc<Embedder>,
    texts: Vec<String>,
    role: Role,
) -> Result<Vec<Vec<f32>>, BatchError> {
    let embedder = embedder.clone();
    tokio::task::spawn_blocking(move || {
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        embedder.embed(&refs, role)
    })
    .await
    .map_err(|e| BatchError::Failed(e.to_string()))?
    .map_err(|e| {
        if e.is_input() {
            BatchError::Input(e.to_string())
        } else {
            BatchError::Failed(e.to_string())
        }
    })
}
