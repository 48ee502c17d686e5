//! Dynamic embedding batcher: concurrent requests are embedded together.
//!
//! The encoder is far more efficient on one batch of 16 texts than on 16 calls
//! of one text (packed attention, one pass over the weights), so the serving
//! path does not call [`Embedder::embed`] per request. Callers hand their texts
//! to [`Batcher::embed`]; a model worker takes everything waiting (up to
//! `max_batch` texts, waiting at most `max_wait` for companions when the queue is
//! empty), runs the model once off the async runtime, and hands each caller its
//! vectors. While a worker computes, the next requests queue, so under load each
//! call takes what arrived during the last one: batches grow with the load.
//!
//! There are `workers` model workers (default: one per core). A small call (under
//! `wide_chars` characters in all) runs on its worker's own thread, so two small
//! calls run at once on two cores; a large one runs on a pool of every core.
//! Why: one short appeal is too small to split well over two cores (one
//! 30-token text runs ~1.4x faster on two threads than on one, and the threads
//! spin and sleep against tokio's and the index's), while two appeals on one
//! core each run 2x. On 2 cores the embedder alone reaches 56 texts/s at batch
//! 1 on one thread, 80 on two threads and 111 at batch 32 on two (`cargo bench
//! -p triage-models`, docs/benchmarks.md). But a long text (the longest 1% of
//! appeals have 200+ tokens, ~120 ms on one core here) decides the p99, and it
//! finishes soonest on every core.
//!
//! The queue is bounded twice: in texts (`queue_capacity`, a guard on memory)
//! and in time (`max_queue_wait`): a text that would wait longer than that for a
//! model call, judged from the texts ahead of it and the model's recent seconds
//! per text, is refused at once ([`BatchError::Behind`]; the HTTP layer answers
//! 429 with `Retry-After`) instead of joining a queue it would time out in.
//! A fixed count of requests in flight cannot do this: how long 64 requests
//! take depends on their texts and on the machine. A text the model refuses fails only its own
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
    /// Longest a job waits for companions when nothing else is queued (default 0:
    /// batches grow from what queues while the workers compute).
    pub max_wait: Duration,
    /// Most texts waiting or running at once; beyond it callers are refused (default 1024).
    pub queue_capacity: usize,
    /// Vectors of recent texts kept, so a text seen again is not embedded again
    /// (default 10,000, about 15 MB at 384 dimensions; 0 turns the cache off).
    /// Real appeal streams repeat themselves: 28% of the St Petersburg appeals
    /// are exact repeats of another ("Мусор").
    pub cache_entries: usize,
    /// Longest a text may be expected to wait for the model before it is
    /// refused with 429 (default 250 ms; zero turns the check off).
    pub max_queue_wait: Duration,
    /// Model calls that run at once (default: one per core).
    pub workers: usize,
    /// A model call of at least this many characters in all runs on every core;
    /// smaller ones run on their worker's one thread (default 300, ~100 tokens).
    pub wide_chars: usize,
}

impl Default for BatcherConfig {
    fn default() -> Self {
        Self {
            max_batch: 32,
            max_wait: Duration::ZERO,
            queue_capacity: 1024,
            cache_entries: 10_000,
            max_queue_wait: Duration::from_millis(250),
            workers: default_workers(),
            wide_chars: 300,
        }
    }
}

/// One model worker per core this process may use.
pub fn default_workers() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
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
    /// The texts already queued would keep this one waiting longer than
    /// `max_queue_wait` (HTTP 429).
    #[error("the model is {wait_ms} ms behind (limit {limit_ms} ms); retry later")]
    Behind {
        /// The expected wait.
        wait_ms: u64,
        /// The configured limit.
        limit_ms: u64,
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
    /// Calls refused because the queue was full or its expected wait too long.
    pub rejected: AtomicU64,
    /// Texts answered from the cache of recent vectors, without the model.
    pub cache_hits: AtomicU64,
    /// Recent model time per text, nanoseconds (a moving average over calls).
    pub nanos_per_text: AtomicU64,
}

impl BatcherStats {
    fn observe_batch(&self, size: usize, took: Duration) {
        if size > 0 {
            // Moving average with weight 1/8 on the newest call; races between
            // workers lose an update at worst.
            let now = (took.as_nanos() / size as u128).min(u64::MAX as u128) as u64;
            let old = self.nanos_per_text.load(Ordering::Relaxed);
            let avg = if old == 0 {
                now
            } else {
                old - old / 8 + now / 8
            };
            self.nanos_per_text.store(avg, Ordering::Relaxed);
        }
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
    ///
    /// Fails only if a worker's thread pool cannot be built (the OS refused threads).
    pub fn start(embedder: Arc<Embedder>, config: BatcherConfig) -> Result<Self, BatchError> {
        let config = BatcherConfig {
            max_batch: config.max_batch.max(1),
            queue_capacity: config.queue_capacity.max(1),
            workers: config.workers.max(1),
            ..config
        };
        let (tx, rx) = mpsc::unbounded_channel();
        let stats = Arc::new(BatcherStats::default());
        let queue = Arc::new(tokio::sync::Mutex::new(Queue { rx, carry: None }));
        let pool = |name: &'static str, i: usize, threads: usize| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .thread_name(move |t| format!("{name}-{i}-{t}"))
                .build()
                .map(Arc::new)
                .map_err(|e| BatchError::Failed(format!("model thread pool: {e}")))
        };
        let wide = pool("model-wide", 0, default_workers())?;
        let cores = Arc::new(tokio::sync::RwLock::new(()));
        for i in 0..config.workers {
            let model = Model {
                embedder: embedder.clone(),
                narrow: pool("model", i, 1)?,
                wide: wide.clone(),
                wide_chars: config.wide_chars,
                cores: cores.clone(),
            };
            tokio::spawn(worker(queue.clone(), model, config.clone(), stats.clone()));
        }
        let cache =
            (config.cache_entries > 0).then(|| Arc::new(VectorCache::new(config.cache_entries)));
        Ok(Self {
            tx,
            permits: Arc::new(Semaphore::new(config.queue_capacity)),
            config,
            stats,
            embedder,
            cache,
        })
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
        self.check_wait()?;
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

    /// Refuses a new text if the queue ahead of it would outlast `max_queue_wait`:
    /// the texts waiting or running, at the model's recent time per text,
    /// shared among the workers.
    fn check_wait(&self) -> Result<(), BatchError> {
        let limit = self.config.max_queue_wait;
        if limit.is_zero() {
            return Ok(());
        }
        let ahead = self.stats.queued_texts.load(Ordering::Relaxed) as u128;
        let per_text = self.stats.nanos_per_text.load(Ordering::Relaxed) as u128;
        let wait = Duration::from_nanos(
            (ahead * per_text / self.config.workers as u128).min(u64::MAX as u128) as u64,
        );
        if wait <= limit {
            return Ok(());
        }
        self.stats.rejected.fetch_add(1, Ordering::Relaxed);
        metrics::counter!(m::EMBED_REJECTED).increment(1);
        Err(BatchError::Behind {
            wait_ms: wait.as_millis() as u64,
            limit_ms: limit.as_millis() as u64,
        })
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

/// The queue the workers share: whichever worker holds the lock takes the next batch.
struct Queue {
    rx: mpsc::UnboundedReceiver<Job>,
    /// A job taken from the queue that did not fit the previous batch.
    carry: Option<Job>,
}

impl Queue {
    /// The next batch: the first job (waiting for one if none is queued), then
    /// whatever else is queued of the same role, up to `max_batch` texts; when
    /// the queue runs dry it waits up to `max_wait` after the first job for more.
    /// `None` when every handle is gone and the queue is empty.
    async fn next_batch(&mut self, config: &BatcherConfig) -> Option<(Vec<Job>, Role)> {
        let first = match self.carry.take() {
            Some(j) => j,
            None => self.rx.recv().await?,
        };
        let role = first.role;
        let mut size = first.texts.len();
        let mut jobs = vec![first];
        let deadline = Instant::now() + config.max_wait;
        while size < config.max_batch {
            let next = match self.rx.try_recv() {
                Ok(j) => j,
                Err(_) => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        break;
                    }
                    match tokio::time::timeout(left, self.rx.recv()).await {
                        Ok(Some(j)) => j,
                        _ => break,
                    }
                }
            };
            if next.role != role || size + next.texts.len() > config.max_batch {
                self.carry = Some(next);
                break;
            }
            size += next.texts.len();
            jobs.push(next);
        }
        Some((jobs, role))
    }
}

async fn worker(
    queue: Arc<tokio::sync::Mutex<Queue>>,
    model: Model,
    config: BatcherConfig,
    stats: Arc<BatcherStats>,
) {
    loop {
        // The lock is held only while taking a batch, never while computing.
        let Some((jobs, role)) = queue.lock().await.next_batch(&config).await else {
            return;
        };
        run_batch(&model, jobs, role, &stats).await;
    }
}

/// A model worker's embedder and the threads it computes on.
struct Model {
    embedder: Arc<Embedder>,
    /// The worker's own thread, for small calls.
    narrow: Arc<rayon::ThreadPool>,
    /// Every core, shared by the workers, for calls of `wide_chars` or more.
    wide: Arc<rayon::ThreadPool>,
    wide_chars: usize,
    /// Narrow calls share the cores (read), a wide call has them alone (write):
    /// a wide call whose threads are preempted by a narrow one waits at each
    /// of its fork-join points, so running both at once is slower for both.
    cores: Arc<tokio::sync::RwLock<()>>,
}

/// A call's hold on the cores, released when dropped.
struct Hold {
    _shared: Option<tokio::sync::OwnedRwLockReadGuard<()>>,
    _alone: Option<tokio::sync::OwnedRwLockWriteGuard<()>>,
}

impl Model {
    /// Waits for the cores this call needs; returns its pool and its hold.
    async fn acquire(&self, texts: &[String]) -> (Arc<rayon::ThreadPool>, Hold) {
        let chars: usize = texts.iter().map(|t| t.chars().count()).sum();
        if chars >= self.wide_chars {
            let hold = Hold {
                _shared: None,
                _alone: Some(self.cores.clone().write_owned().await),
            };
            (self.wide.clone(), hold)
        } else {
            let hold = Hold {
                _shared: Some(self.cores.clone().read_owned().await),
                _alone: None,
            };
            (self.narrow.clone(), hold)
        }
    }
}

/// Embeds the jobs in one model call; on failure retries each job alone so the
/// error reaches only the job that caused it.
async fn run_batch(model: &Model, jobs: Vec<Job>, role: Role, stats: &BatcherStats) {
    let texts: Vec<String> = jobs.iter().flat_map(|j| j.texts.iter().cloned()).collect();
    let n = texts.len();
    let started = Instant::now();
    for job in &jobs {
        m::observe_stage(m::Stage::QueueWait, started - job.queued_at);
    }
    let result = embed_blocking(model, texts, role).await;
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
                let r = embed_blocking(model, job.texts.clone(), role).await;
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
    model: &Model,
    texts: Vec<String>,
    role: Role,
) -> Result<Vec<Vec<f32>>, BatchError> {
    let embedder = model.embedder.clone();
    let (pool, hold) = model.acquire(&texts).await;
    // Straight onto the worker's pool and back: no blocking-pool thread in
    // between (each hand-off between threads is two context switches, and they
    // were 7% of the server's CPU at 40 req/s). A panic inside the model is
    // caught here: a rayon job that panics would otherwise abort the process.
    let (tx, rx) = oneshot::channel();
    pool.spawn(move || {
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        let out = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            embedder
                .embed_timed(&refs, role)
                .map(|(vectors, tokenize)| {
                    m::observe_stage(m::Stage::Tokenize, tokenize);
                    vectors
                })
        }));
        drop(hold);
        let _ = tx.send(out);
    });
    rx.await
        .map_err(|_| BatchError::Failed("the model worker stopped".into()))?
        .map_err(|_| BatchError::Failed("the model panicked".into()))?
        .map_err(|e| {
            if e.is_input() {
                BatchError::Input(e.to_string())
            } else {
                BatchError::Failed(e.to_string())
            }
        })
}
