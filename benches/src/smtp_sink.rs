//! A minimal SMTP server on loopback that accepts every message and keeps only a count, so
//! the server under test delivers its order e-mails over SMTP as it does in production
//! (`CHOSO_SMTP_URL`). Without it the server would write each message to a file of its own,
//! its development fallback: under ordering load, creating those files took about a quarter
//! of the server's CPU (ext4 inode allocation), a cost no production server pays.
//!
//! It speaks just what lettre's client sends: EHLO/HELO, MAIL, RCPT, DATA (up to the line
//! holding a single dot), RSET, NOOP, QUIT.

use std::{
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
};

use tokio::{
    io::{AsyncBufReadExt, AsyncWriteExt, BufReader},
    net::{TcpListener, TcpStream},
    sync::oneshot,
};

pub struct SmtpSink {
    pub addr: SocketAddr,
    messages: Arc<AtomicU64>,
    stop: Option<oneshot::Sender<()>>,
}

impl SmtpSink {
    /// Listens on a free loopback port, on a thread of its own (as a relay would be another
    /// process: the load generator's tasks never delay its answers).
    pub async fn start() -> std::io::Result<SmtpSink> {
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let messages = Arc::new(AtomicU64::new(0));
        let count = messages.clone();
        let (stop, stopped) = oneshot::channel::<()>();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        std::thread::Builder::new()
            .name("smtp-sink".into())
            .spawn(move || {
                runtime.block_on(async move {
                    let Ok(listener) = TcpListener::from_std(listener) else {
                        return;
                    };
                    let accept = async {
                        while let Ok((stream, _)) = listener.accept().await {
                            let count = count.clone();
                            tokio::spawn(async move {
                                // A client that goes away mid-session ends only its session.
                                let _ = session(stream, &count).await;
                            });
                        }
                    };
                    tokio::select! {
                        _ = accept => {}
                        _ = stopped => {}
                    }
                })
            })?;
        Ok(SmtpSink {
            addr,
            messages,
            stop: Some(stop),
        })
    }

    /// Messages accepted so far.
    pub fn messages(&self) -> u64 {
        self.messages.load(Ordering::Relaxed)
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

async fn session(stream: TcpStream, count: &AtomicU64) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut read = BufReader::new(read);
    write.write_all(b"220 bench-sink ESMTP\r\n").await?;
    let mut line = String::new();
    loop {
        line.clear();
        if read.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let verb = line
            .get(..4)
            .map(|v| v.to_ascii_uppercase())
            .unwrap_or_default();
        let answer: &[u8] = match verb.as_str() {
            "EHLO" => b"250-bench-sink\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n",
            "HELO" | "MAIL" | "RCPT" | "RSET" | "NOOP" => b"250 OK\r\n",
            "DATA" => {
                write
                    .write_all(b"354 End data with <CR><LF>.<CR><LF>\r\n")
                    .await?;
                loop {
                    line.clear();
                    if read.read_line(&mut line).await? == 0 {
                        return Ok(());
                    }
                    if line == ".\r\n" || line == ".\n" {
                        break;
                    }
                }
                count.fetch_add(1, Ordering::Relaxed);
                b"250 OK queued\r\n"
            }
            "QUIT" => {
                write.write_all(b"221 Bye\r\n").await?;
                return Ok(());
            }
            _ => b"502 Command not implemented\r\n",
        };
        write.write_all(answer).await?;
    }
}
