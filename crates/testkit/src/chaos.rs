//! A fault-injecting TCP proxy between a server and PostgreSQL. It reads the frontend side of
//! the PostgreSQL protocol (the start-up packet, then typed messages) and, when armed, cuts the
//! connection at a `COMMIT`: either before forwarding it (the transaction is rolled back), or
//! just after PostgreSQL has committed it but before its answer reaches the server — the case
//! where the server cannot know whether its batch is durable.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Where to cut.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Drop the connection instead of forwarding the COMMIT.
    BeforeCommit,
    /// Forward the COMMIT, let PostgreSQL answer it, and drop the connection before the
    /// answer reaches the client.
    AfterCommit,
}

struct Shared {
    fault: Mutex<Option<Fault>>,
    /// How many more COMMITs to cut.
    remaining: AtomicU32,
    /// How many were cut.
    cut: AtomicU32,
    stop: AtomicBool,
}

/// The running proxy; stops when dropped.
pub struct ChaosProxy {
    /// Where clients connect.
    pub addr: SocketAddr,
    shared: Arc<Shared>,
}

impl ChaosProxy {
    /// A proxy to `upstream` (host:port of PostgreSQL), passing everything through until armed.
    pub fn start(upstream: SocketAddr) -> ChaosProxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let shared = Arc::new(Shared {
            fault: Mutex::new(None),
            remaining: AtomicU32::new(0),
            cut: AtomicU32::new(0),
            stop: AtomicBool::new(false),
        });
        let accepting = shared.clone();
        std::thread::spawn(move || {
            for client in listener.incoming() {
                if accepting.stop.load(Ordering::Relaxed) {
                    return;
                }
                let Ok(client) = client else { continue };
                let Ok(server) = TcpStream::connect(upstream) else {
                    continue;
                };
                let shared = accepting.clone();
                std::thread::spawn(move || relay(client, server, shared));
            }
        });
        ChaosProxy { addr, shared }
    }

    /// Cuts the next `times` COMMITs as `fault` says.
    pub fn arm(&self, fault: Fault, times: u32) {
        *self.shared.fault.lock().unwrap() = Some(fault);
        self.shared.remaining.store(times, Ordering::SeqCst);
    }

    /// How many COMMITs were cut so far.
    pub fn cut(&self) -> u32 {
        self.shared.cut.load(Ordering::SeqCst)
    }
}

impl Drop for ChaosProxy {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Relaxed);
        // Wake the accept loop so it sees the stop.
        let _ = TcpStream::connect(self.addr);
    }
}

fn read_exact(stream: &mut TcpStream, buf: &mut [u8]) -> bool {
    stream.read_exact(buf).is_ok()
}

/// Relays one connection: the frontend side message by message, the backend side as bytes
/// (muted once a cut after COMMIT begins).
fn relay(mut client: TcpStream, mut server: TcpStream, shared: Arc<Shared>) {
    let muted = Arc::new(AtomicBool::new(false));
    let answered = Arc::new(AtomicBool::new(false));
    {
        let (mut from, mut to) = (server.try_clone().unwrap(), client.try_clone().unwrap());
        let (muted, answered) = (muted.clone(), answered.clone());
        std::thread::spawn(move || {
            let mut buf = [0u8; 16 * 1024];
            loop {
                match from.read(&mut buf) {
                    Ok(0) | Err(_) => {
                        let _ = to.shutdown(Shutdown::Both);
                        return;
                    }
                    Ok(n) => {
                        if muted.load(Ordering::SeqCst) {
                            answered.store(true, Ordering::SeqCst);
                            continue;
                        }
                        if to.write_all(&buf[..n]).is_err() {
                            return;
                        }
                    }
                }
            }
        });
    }
    // The start-up packet: a length (counting itself) and no type byte.
    let mut len = [0u8; 4];
    if !read_exact(&mut client, &mut len) {
        return;
    }
    let size = u32::from_be_bytes(len) as usize;
    let mut rest = vec![0u8; size.saturating_sub(4)];
    if !read_exact(&mut client, &mut rest)
        || server.write_all(&len).is_err()
        || server.write_all(&rest).is_err()
    {
        return;
    }
    loop {
        let mut head = [0u8; 5];
        if !read_exact(&mut client, &mut head) {
            let _ = server.shutdown(Shutdown::Both);
            return;
        }
        let size = u32::from_be_bytes([head[1], head[2], head[3], head[4]]) as usize;
        let mut body = vec![0u8; size.saturating_sub(4)];
        if !read_exact(&mut client, &mut body) {
            let _ = server.shutdown(Shutdown::Both);
            return;
        }
        let is_commit =
            head[0] == b'Q' && body.len() >= 6 && body[..6].eq_ignore_ascii_case(b"COMMIT");
        let fault = if is_commit { take_fault(&shared) } else { None };
        match fault {
            Some(Fault::BeforeCommit) => {
                let _ = client.shutdown(Shutdown::Both);
                let _ = server.shutdown(Shutdown::Both);
                return;
            }
            Some(Fault::AfterCommit) => {
                muted.store(true, Ordering::SeqCst);
                let _ = server.write_all(&head);
                let _ = server.write_all(&body);
                // Wait for PostgreSQL's answer (the commit is then done), then cut.
                for _ in 0..200 {
                    if answered.load(Ordering::SeqCst) {
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(5));
                }
                let _ = client.shutdown(Shutdown::Both);
                let _ = server.shutdown(Shutdown::Both);
                return;
            }
            None => {
                if server.write_all(&head).is_err() || server.write_all(&body).is_err() {
                    let _ = client.shutdown(Shutdown::Both);
                    return;
                }
            }
        }
    }
}

fn take_fault(shared: &Shared) -> Option<Fault> {
    let fault = *shared.fault.lock().unwrap();
    let fault = fault?;
    let taken = shared
        .remaining
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok();
    if taken {
        shared.cut.fetch_add(1, Ordering::SeqCst);
        Some(fault)
    } else {
        None
    }
}
