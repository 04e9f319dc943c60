//! What the printer simulators share: a TCP listener with a thread per connection, the
//! simulated state, the finished jobs, bytes to inject before the next reply, and a clean stop.
//!
//! A simulator supplies `serve`, which reads one connection until it ends or the host stops;
//! the host registers the connection (so unsolicited bytes can be sent on it) and forgets it
//! afterwards.

use std::io::{self, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How often blocked threads look at the stop flag.
pub(crate) const TICK: Duration = Duration::from_millis(20);

/// Locks, ignoring poisoning: a panicking test thread must not wedge the simulator.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// State shared by the host and its connection threads.
#[derive(Debug)]
pub(crate) struct Shared<S, J> {
    pub state: Mutex<S>,
    /// Finished jobs (receipts, labels), in order.
    pub done: Mutex<Vec<J>>,
    /// Bytes sent just before the next reply, in the same write.
    pub inject: Mutex<Vec<u8>>,
    pub conns: Mutex<Vec<TcpStream>>,
    pub stop: AtomicBool,
}

impl<S: Default, J> Default for Shared<S, J> {
    fn default() -> Self {
        Shared {
            state: Mutex::default(),
            done: Mutex::new(Vec::new()),
            inject: Mutex::default(),
            conns: Mutex::default(),
            stop: AtomicBool::new(false),
        }
    }
}

impl<S, J> Shared<S, J> {
    /// Whether the host is stopping.
    pub fn stopping(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    /// `bytes` preceded by whatever was set to be injected.
    pub fn with_injected(&self, bytes: &[u8]) -> Vec<u8> {
        let mut out = std::mem::take(&mut *lock(&self.inject));
        out.extend_from_slice(bytes);
        out
    }
}

/// A running simulator host; stops and joins its thread when dropped.
#[derive(Debug)]
pub(crate) struct Host<S, J> {
    addr: SocketAddr,
    pub shared: Arc<Shared<S, J>>,
    thread: Option<JoinHandle<()>>,
}

impl<S, J> Host<S, J>
where
    S: Default + Send + 'static,
    J: Send + 'static,
{
    /// Listens on `addr`; every connection is served by `serve` on its own thread.
    pub fn bind(
        addr: impl ToSocketAddrs,
        name: &'static str,
        serve: fn(TcpStream, &Shared<S, J>),
    ) -> io::Result<Self> {
        let listener = TcpListener::bind(addr)?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared::default());
        let accept_shared = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name(name.into())
            .spawn(move || accept_loop(&listener, &accept_shared, name, serve))?;
        Ok(Host {
            addr,
            shared,
            thread: Some(thread),
        })
    }

    /// A host without a listener: `run` serves whatever it is given (a pty, say) until the
    /// host stops.
    pub fn detached(
        name: &'static str,
        run: impl FnOnce(Arc<Shared<S, J>>) + Send + 'static,
    ) -> io::Result<Self> {
        let shared = Arc::new(Shared::default());
        let run_shared = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name(name.into())
            .spawn(move || run(run_shared))?;
        Ok(Host {
            addr: SocketAddr::from(([0, 0, 0, 0], 0)),
            shared,
            thread: Some(thread),
        })
    }
}

impl<S: Clone, J: Clone> Host<S, J> {
    /// The listening address (unspecified for a detached host).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn state(&self) -> S {
        lock(&self.shared.state).clone()
    }

    pub fn set_state(&self, state: S) {
        *lock(&self.shared.state) = state;
    }

    pub fn update_state(&self, f: impl FnOnce(&mut S)) {
        f(&mut lock(&self.shared.state));
    }

    pub fn inject_before_next_reply(&self, bytes: &[u8]) {
        lock(&self.shared.inject).extend_from_slice(bytes);
    }

    /// Sends `bytes` now on every open connection; a closed one simply misses them.
    pub fn send_unsolicited(&self, bytes: &[u8]) {
        for mut conn in lock(&self.shared.conns).iter() {
            let _ = conn.write_all(bytes);
        }
    }

    pub fn done(&self) -> Vec<J> {
        lock(&self.shared.done).clone()
    }

    pub fn take_done(&self) -> Vec<J> {
        std::mem::take(&mut *lock(&self.shared.done))
    }

    /// Waits until at least `count` jobs are done or `timeout` passes; returns them all.
    pub fn wait_for(&self, count: usize, timeout: Duration) -> Vec<J> {
        let deadline = Instant::now() + timeout;
        loop {
            let done = self.done();
            if done.len() >= count || Instant::now() >= deadline {
                return done;
            }
            std::thread::sleep(TICK / 4);
        }
    }
}

impl<S, J> Drop for Host<S, J> {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        for conn in lock(&self.shared.conns).iter() {
            let _ = conn.shutdown(std::net::Shutdown::Both);
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn accept_loop<S: Send + 'static, J: Send + 'static>(
    listener: &TcpListener,
    shared: &Arc<Shared<S, J>>,
    name: &'static str,
    serve: fn(TcpStream, &Shared<S, J>),
) {
    while !shared.stopping() {
        match listener.accept() {
            Ok((stream, _)) => {
                let shared = Arc::clone(shared);
                let spawned = std::thread::Builder::new()
                    .name(format!("{name}-conn"))
                    .spawn(move || register_and_serve(stream, &shared, serve));
                // Out of threads: the client sees the connection close.
                drop(spawned);
            }
            Err(_) => std::thread::sleep(TICK),
        }
    }
}

fn register_and_serve<S, J>(
    stream: TcpStream,
    shared: &Shared<S, J>,
    serve: fn(TcpStream, &Shared<S, J>),
) {
    let setup = stream
        .set_nonblocking(false)
        .and_then(|()| stream.set_read_timeout(Some(TICK)))
        .and_then(|()| stream.try_clone());
    let Ok(clone) = setup else { return };
    let peer = stream.peer_addr().ok();
    lock(&shared.conns).push(clone);
    serve(stream, shared);
    lock(&shared.conns).retain(|c| c.peer_addr().ok() != peer);
}
