use std::cell::{Cell, RefCell};
use std::future::Future;
use std::mem;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

use rand::rngs::SmallRng;
use tokio::runtime::Runtime;
use tokio::task::JoinHandle;
use tokio::task::LocalSet;
use tokio::time::{sleep, Duration, Instant};

use super::Result;

// To support re-creation, we need to store a factory of the future that
// represents the software. This is somewhat annoying in that it requires
// boxxing to avoid generics.
type Software<'a> = Box<dyn Fn() -> Pin<Box<dyn Future<Output = Result>>> + 'a>;

/// Runtime kinds.
pub enum Kind<'a> {
    /// A runtime for executing test code.
    Client,

    /// A runtime that is running simulated host software.
    Host { software: Software<'a> },

    /// A runtime without any software. The network topology uses this for
    /// time tracking and message delivery.
    NoSoftware,
}

/// Runtime configuration.
#[derive(Clone, Default)]
pub struct Config {
    /// Whether io is enabled on the runtime.
    pub enable_io: bool,

    /// Rng used to seed the tokio runtime.
    ///
    /// Only used if the `tokio_unstable` cfg flag is set.
    #[cfg_attr(not(tokio_unstable), expect(dead_code))]
    pub rng: Option<SmallRng>,

    /// mesochaos patch 4: the host's slot among `Sim`'s woken flags (a
    /// runtime without one gets a slot of its own).
    pub woken: Option<WokenFlag>,
}

impl Config {
    fn woken_flag(&self) -> WokenFlag {
        self.woken.clone().unwrap_or_else(|| {
            WokenFlag::new(Arc::new(std::array::from_fn(|_| AtomicBool::new(false))), 0)
        })
    }
}

/// Per host simulated runtime.
///
/// The tokio runtime is paused (see [`Builder::start_paused`]), which gives us
/// control over when and how to advance time. In particular, see [`Rt::tick`],
/// which lets the runtime do a bit more work.
pub struct Rt<'a> {
    pub kind: Kind<'a>,

    /// Handle to the Tokio runtime driving this simulated host. Each runtime
    /// may have a different sense of "now" which simulates clock skew.
    tokio: Runtime,

    /// Local task set used for running !Send tasks.
    local: LocalSet,

    /// A user readable name to identify the node.
    pub nodename: Arc<str>,

    /// Optional handle to a host's software. When software finishes, the handle is
    /// consumed to check for error, which is propagated up to fail the simulation.
    handle: Option<JoinHandle<Result>>,

    /// Runtime configuration.
    config: Config,

    /// mesochaos patch 4: what the idle-host oracle knows about this runtime.
    idle: IdleState,
}

/// mesochaos patch 4: the idle-host oracle's view of one runtime.
///
/// A task of the host's software runs only when something wakes it. A wake
/// from inside the `LocalSet` (one task waking another while it runs) queues
/// the task locally, and the `LocalSet` runs it before its tick ends. Any
/// other wake (a timer firing, a message delivered, a channel written from
/// another host or from outside the simulation) goes through the waker the
/// `LocalSet` registered, which `tick` makes a [`Watch`]: it raises `woken`
/// and passes the wake on. `woken` is lowered just before each
/// `LocalSet::tick`, which runs every queued task (or, stopped by its budget
/// of 61, wakes the `LocalSet` again, through the `Watch`). So a runtime
/// whose `woken` is low has no task to run.
struct IdleState {
    /// Raised by any wake that reaches the `LocalSet` from outside, or when
    /// the software is (re)started; lowered before each `LocalSet::tick`.
    woken: WokenFlag,

    /// The last (block_on waker, its watching proxy) pair, reused while the
    /// block_on waker stays the same, so the `LocalSet` keeps one waker.
    wakers: RefCell<Option<(Waker, Waker)>>,

    /// How many times the last tick polled its `LocalSet` before the tick's
    /// sleep completed (each such poll runs one `LocalSet::tick`).
    local_ticks: Cell<u32>,
}

impl IdleState {
    fn new(woken: WokenFlag) -> Self {
        woken.store(true);
        Self {
            woken,
            wakers: RefCell::new(None),
            local_ticks: Cell::new(0),
        }
    }
}

/// mesochaos patch 4: the `woken` flags of 64 hosts, side by side, so that
/// `Sim::step` reads an idle host's flag without touching its runtime.
pub(crate) type WokenBlock = [AtomicBool; 64];

/// One host's `woken` flag: a slot in a [`WokenBlock`].
#[derive(Clone)]
pub(crate) struct WokenFlag {
    block: Arc<WokenBlock>,
    slot: usize,
}

impl WokenFlag {
    pub(crate) fn new(block: Arc<WokenBlock>, slot: usize) -> Self {
        Self { block, slot }
    }

    fn store(&self, value: bool) {
        self.block[self.slot].store(value, Ordering::Relaxed)
    }
}

/// The waker `tick` hands the `LocalSet`: it notes the wake, then wakes the
/// runtime's `block_on` exactly as the bare waker would have.
struct Watch {
    inner: Waker,
    woken: WokenFlag,
}

impl Wake for Watch {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true);
        self.inner.wake_by_ref();
    }
}

/// Polls `inner` (the `LocalSet::run_until`) with the watching waker.
struct Watched<'r, F> {
    inner: Pin<&'r mut F>,
    idle: &'r IdleState,
}

impl<F: Future> Future for Watched<'_, F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let idle = self.idle;
        let current =
            matches!(&*idle.wakers.borrow(), Some((inner, _)) if inner.will_wake(cx.waker()));
        if !current {
            let proxy = Waker::from(Arc::new(Watch {
                inner: cx.waker().clone(),
                woken: idle.woken.clone(),
            }));
            *idle.wakers.borrow_mut() = Some((cx.waker().clone(), proxy));
        }
        let wakers = idle.wakers.borrow();
        let (_, proxy) = wakers.as_ref().expect("set above");
        self.inner.as_mut().poll(&mut Context::from_waker(proxy))
    }
}

/// The tick's own sleep, polled with the bare `block_on` waker: its firing is
/// the end of the tick, not a wake of the software.
struct Unwatched<'r, F> {
    inner: Pin<&'r mut F>,
    idle: &'r IdleState,
}

impl<F: Future> Future for Unwatched<'_, F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let idle = self.idle;
        let poll = match &*idle.wakers.borrow() {
            Some((bare, _)) => self.inner.as_mut().poll(&mut Context::from_waker(bare)),
            None => self.inner.as_mut().poll(cx),
        };
        if poll.is_pending() {
            // `RunUntil` runs `LocalSet::tick` right after a pending poll of
            // this, which runs every task queued so far.
            idle.woken.store(false);
            idle.local_ticks.set(idle.local_ticks.get() + 1);
        }
        poll
    }
}

impl<'a> Rt<'a> {
    pub(crate) fn client<F>(nodename: Arc<str>, client: F, mut config: Config) -> Self
    where
        F: Future<Output = Result> + 'static,
    {
        let (tokio, local) = init(&mut config);
        let woken = config.woken_flag();

        let handle = with(&tokio, &local, || tokio::task::spawn_local(client));

        Self {
            kind: Kind::Client,
            tokio,
            local,
            nodename,
            handle: Some(handle),
            config,
            idle: IdleState::new(woken),
        }
    }

    pub(crate) fn host<F, Fut>(nodename: Arc<str>, software: F, mut config: Config) -> Self
    where
        F: Fn() -> Fut + 'a,
        Fut: Future<Output = Result> + 'static,
    {
        let (tokio, local) = init(&mut config);
        let woken = config.woken_flag();

        let software: Software = Box::new(move || Box::pin(software()));
        let handle = with(&tokio, &local, || tokio::task::spawn_local(software()));

        Self {
            kind: Kind::Host { software },
            tokio,
            local,
            nodename,
            handle: Some(handle),
            config,
            idle: IdleState::new(woken),
        }
    }

    pub(crate) fn no_software() -> Self {
        let mut config = Config::default();
        let (tokio, local) = init(&mut config);
        let woken = config.woken_flag();

        Self {
            kind: Kind::NoSoftware,
            tokio,
            local,
            nodename: String::new().into(),
            handle: None,
            config,
            idle: IdleState::new(woken),
        }
    }

    pub(crate) fn is_client(&self) -> bool {
        matches!(self.kind, Kind::Client)
    }

    fn is_host(&self) -> bool {
        matches!(self.kind, Kind::Host { .. })
    }

    pub(crate) fn is_software_running(&self) -> bool {
        self.handle.is_some()
    }

    pub(crate) fn now(&self) -> Instant {
        let _guard = self.tokio.enter();
        Instant::now()
    }

    // This method is called by [`Sim::run`], which iterates through all the
    // runtimes and ticks each one. The magic of this method is described in the
    // documentation for [`LocalSet::run_until`], but it may not be entirely
    // obvious how things fit together.
    //
    // A [`LocalSet`] tracks the tasks to run, which may in turn spawn more
    // tasks. `run_until` drives a top level task to completion, but not its
    // children. If you look below, you may be confused. The task we run here
    // just sleeps and has no children! However, it's the _same `LocalSet`_ that
    // is used to run software on the host.
    //
    // In this way, every time `tick` is called, the following unfolds:
    //
    // 1. Time advances on the runtime
    // 2. We schedule a new task that simply sleeps
    // 3. Other tasks on the `LocalSet` get a chance to run
    // 4. The sleep finishes
    // 5. The runtime pauses
    //
    // Returns whether the software has finished successfully or the error
    // that caused failure. Subsequent calls do not return the error as it is
    // expected to fail the simulation.
    //
    // mesochaos patch 4: the `LocalSet` is polled through [`Watched`], so any
    // wake that reaches it from outside raises `idle.woken`, and the tick's
    // sleep through [`Unwatched`], so that the end of the tick does not. Both
    // pass every wake on to the same `block_on` waker as before: the runtime
    // sees the same wakes in the same order.
    //
    // `lag`: skipped ticks whose clock advance is owed and fires no timer (see
    // `Sim::step`); the clock is advanced by them first, before any task runs.
    pub(crate) fn tick(&mut self, duration: Duration, lag: u32) -> Result<bool> {
        self.idle.woken.store(false);
        self.idle.local_ticks.set(0);
        let idle = &self.idle;
        let local = &self.local;
        self.tokio.block_on(async {
            if lag > 0 {
                tokio::time::advance(duration * lag).await;
            }
            let tick_sleep = sleep(duration);
            tokio::pin!(tick_sleep);
            let run = local.run_until(Unwatched {
                inner: tick_sleep.as_mut(),
                idle,
            });
            tokio::pin!(run);
            Watched {
                inner: run.as_mut(),
                idle,
            }
            .await
        });

        // pull for software completion
        match &self.handle {
            Some(handle) if handle.is_finished() => {
                // Consume handle to extract task result
                if let Some(h) = self.handle.take() {
                    match self.tokio.block_on(h) {
                        // If the host was crashed the JoinError is cancelled, which
                        // needs to be handled to not fail the simulation.
                        Err(je) if je.is_cancelled() => {}
                        res => res??,
                    }
                };
                Ok(true)
            }
            Some(_) => Ok(false),
            None => Ok(true),
        }
    }

    /// mesochaos patch 4: how many times the last tick ran `LocalSet::tick`.
    pub(crate) fn last_local_ticks(&self) -> u32 {
        self.idle.local_ticks.get()
    }

    /// mesochaos patch 4: brings a runtime's clock up to date with the `lag`
    /// ticks it skipped, before anything observes it. Each would have advanced
    /// the clock by `tick` and fired no timer (the oracle saw none due before
    /// the tick ended); the clock is advanced by all of them at once, without
    /// polling the `LocalSet`: a task woken since the host was skipped runs in
    /// the coming tick, at the time it would have run.
    ///
    /// An idle tick also ran `LocalSet::tick` once, which found no task but
    /// counted the call (a `u8` that makes every 31st call serve the remote
    /// queue first). That count cannot matter here: tokio (1.54) queues a task
    /// woken on the `LocalSet`'s own thread locally, and a simulation runs on
    /// one thread, so the remote queue is always empty.
    pub(crate) fn catch_up(&mut self, tick: Duration, lag: u32) {
        if lag > 0 {
            self.tokio.block_on(tokio::time::advance(tick * lag));
        }
    }

    pub(crate) fn crash(&mut self) {
        if !self.is_host() {
            panic!("can only crash host's software");
        }

        if self.handle.take().is_some() {
            self.cancel_tasks();
        };
    }

    pub(crate) fn bounce(&mut self) {
        if !self.is_host() {
            panic!("can only bounce host's software");
        }

        self.cancel_tasks();

        if let Kind::Host { software } = &self.kind {
            let handle = with(&self.tokio, &self.local, || {
                tokio::task::spawn_local(software())
            });
            self.handle.replace(handle);
        };
    }

    /// Cancel all tasks within the [`Rt`] by dropping the current tokio
    /// [`Runtime`].
    ///
    /// Dropping the runtime blocks the calling thread until all futures have
    /// completed, which is desired here to ensure host software completes and
    /// all resources are dropped.
    ///
    /// Both the [`Runtime`] and [`LocalSet`] are replaced with new instances.
    fn cancel_tasks(&mut self) {
        let (tokio, local) = init(&mut self.config);
        // mesochaos patch 4: a new runtime, whose restarted software's first
        // task is queued. The old runtime's wakers share the flag: a stale
        // wake can only cost a tick.
        self.idle = IdleState::new(self.idle.woken.clone());

        _ = mem::replace(&mut self.tokio, tokio);
        drop(mem::replace(&mut self.local, local));
    }
}

/// mesochaos patch 4: how many times an idle tick runs `LocalSet::tick`:
/// `RunUntil` polls the tick's sleep once (pending), ticks the empty
/// `LocalSet`, and returns when the woken sleep is ready. Checked on every
/// tick by [`crate::Builder::verify_idle_skips`].
pub(crate) const LOCAL_TICKS_PER_IDLE_TICK: u32 = 1;

fn init(config: &mut Config) -> (Runtime, LocalSet) {
    let mut tokio_builder = tokio::runtime::Builder::new_current_thread();

    #[cfg(tokio_unstable)]
    tokio_builder.unhandled_panic(tokio::runtime::UnhandledPanic::ShutdownRuntime);

    if config.enable_io {
        tokio_builder.enable_io();
    }

    #[cfg(tokio_unstable)]
    if let Some(rng) = &mut config.rng {
        let bytes: [u8; 32] = rand::Rng::random(rng);
        let seed = tokio::runtime::RngSeed::from_bytes(&bytes);
        tokio_builder.rng_seed(seed);
    }

    let tokio = tokio_builder
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap();

    tokio.block_on(async {
        // Sleep to "round" `Instant::now()` to the closest `ms`
        tokio::time::sleep(Duration::from_millis(1)).await;
    });

    (tokio, new_local())
}

fn new_local() -> LocalSet {
    #[cfg(not(tokio_unstable))]
    let local = LocalSet::new();

    #[cfg(tokio_unstable)]
    let mut local = LocalSet::new();

    #[cfg(tokio_unstable)]
    local.unhandled_panic(tokio::runtime::UnhandledPanic::ShutdownRuntime);

    local
}

fn with<R>(tokio: &Runtime, local: &LocalSet, f: impl FnOnce() -> R) -> R {
    tokio.block_on(async { local.run_until(async { f() }).await })
}
