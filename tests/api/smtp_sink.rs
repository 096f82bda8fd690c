//! A real SMTP server on loopback for tests: the `mailin` protocol state machine behind a
//! tokio accept loop, keeping every message it accepts.

use std::{
    net::{IpAddr, SocketAddr},
    sync::{Arc, Mutex},
};

use mailin::{Handler, Response, SessionBuilder, response};
use tokio::{
    io::{AsyncBufReadExt, AsyncWriteExt, BufReader},
    net::TcpListener,
    task::JoinHandle,
};

#[derive(Debug, Clone)]
pub struct Received {
    pub to: Vec<String>,
    pub data: Vec<u8>,
}

#[derive(Clone, Default)]
struct Collect {
    out: Arc<Mutex<Vec<Received>>>,
    to: Vec<String>,
    data: Vec<u8>,
}

impl Handler for Collect {
    fn data_start(&mut self, _domain: &str, _from: &str, _is8bit: bool, to: &[String]) -> Response {
        self.to = to.to_vec();
        self.data.clear();
        response::OK
    }
    fn data(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.data.extend_from_slice(buf);
        Ok(())
    }
    fn data_end(&mut self) -> Response {
        if let Ok(mut v) = self.out.lock() {
            v.push(Received {
                to: self.to.clone(),
                data: std::mem::take(&mut self.data),
            });
        }
        response::OK
    }
}

pub struct Sink {
    pub addr: SocketAddr,
    pub messages: Arc<Mutex<Vec<Received>>>,
    task: JoinHandle<()>,
}

impl Sink {
    /// Listens on `addr` (port 0 for any).
    pub async fn start(addr: SocketAddr) -> Sink {
        let listener = TcpListener::bind(addr).await.expect("SMTP sink binds");
        let addr = listener.local_addr().unwrap();
        let messages: Arc<Mutex<Vec<Received>>> = Arc::default();
        let out = messages.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, peer)) = listener.accept().await else {
                    return;
                };
                let out = out.clone();
                tokio::spawn(async move {
                    let (r, mut w) = stream.into_split();
                    let mut r = BufReader::new(r);
                    let handler = Collect {
                        out,
                        ..Default::default()
                    };
                    let mut session =
                        SessionBuilder::new("sink.test").build(peer.ip() as IpAddr, handler);
                    let _ = w
                        .write_all(&session.greeting().buffer().unwrap_or_default())
                        .await;
                    let mut line = Vec::new();
                    loop {
                        line.clear();
                        match r.read_until(b'\n', &mut line).await {
                            Ok(0) | Err(_) => return,
                            Ok(_) => {}
                        }
                        let resp = session.process(&line);
                        if resp.action != mailin::Action::NoReply
                            && w.write_all(&resp.buffer().unwrap_or_default())
                                .await
                                .is_err()
                        {
                            return;
                        }
                        if resp.action == mailin::Action::Close {
                            return;
                        }
                    }
                });
            }
        });
        Sink {
            addr,
            messages,
            task,
        }
    }

    pub fn received(&self) -> Vec<Received> {
        self.messages.lock().unwrap().clone()
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        self.task.abort();
    }
}
