//! A TCP proxy in front of the server that breaks connections, as a flaky link or a VPN does:
//! the first `cuts` connections that carry more than `after` bytes from the client are cut
//! there, both ways, without a word; the others pass untouched. It keeps the head of the first
//! request of each connection, for a test to see what the client sent.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use droplet_test_s3_server::Background;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

pub struct CuttingProxy {
    /// `http://ADDR` of the proxy: the API's URL for a client behind it.
    pub url: String,
    cut: Arc<AtomicU32>,
    heads: Arc<Mutex<Vec<String>>>,
    _background: Background,
}

impl CuttingProxy {
    pub fn start(target: SocketAddr, after: u64, cuts: u32) -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a port for the proxy");
        let url = format!("http://{}", listener.local_addr().expect("its address"));
        let (left, cut) = (Arc::new(AtomicU32::new(cuts)), Arc::new(AtomicU32::new(0)));
        let heads = Arc::new(Mutex::new(Vec::new()));
        let (counted, seen) = (cut.clone(), heads.clone());
        let background = Background::serve(listener, move |client| {
            let (left, cut, heads) = (left.clone(), counted.clone(), seen.clone());
            async move {
                if let Ok(server) = TcpStream::connect(target).await {
                    pass(client, server, after, Faults { left, cut, heads }).await;
                }
            }
        });
        CuttingProxy { url, cut, heads, _background: background }
    }

    /// The head of the first request of each connection so far, lower-cased.
    pub fn heads(&self) -> Vec<String> {
        self.heads.lock().expect("not poisoned").clone()
    }

    /// The connections cut so far.
    pub fn cut(&self) -> u32 {
        self.cut.load(Ordering::SeqCst)
    }
}

/// The cuts left and made, and the heads seen.
struct Faults {
    left: Arc<AtomicU32>,
    cut: Arc<AtomicU32>,
    heads: Arc<Mutex<Vec<String>>>,
}

/// Copies both ways until either side closes, or until the client has sent more than `after`
/// bytes while cuts are left.
async fn pass(client: TcpStream, server: TcpStream, after: u64, faults: Faults) {
    let Faults { left, cut, heads } = faults;
    let (mut from_client, mut to_client) = client.into_split();
    let (mut from_server, mut to_server) = server.into_split();
    let upstream = async {
        let (mut sent, mut buffer) = (0u64, vec![0u8; 64 * 1024]);
        let mut head = Some(Vec::new());
        loop {
            let read = match from_client.read(&mut buffer).await {
                Ok(0) | Err(_) => return,
                Ok(read) => read,
            };
            sent += read as u64;
            if let Some(seen) = &mut head {
                seen.extend_from_slice(&buffer[..read]);
                if let Some(end) = seen.windows(4).position(|w| w == b"\r\n\r\n") {
                    let text = String::from_utf8_lossy(&seen[..end]).to_lowercase();
                    heads.lock().expect("not poisoned").push(text);
                    head = None;
                }
            }
            let take_cut = || {
                left.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok()
            };
            if sent > after && take_cut() {
                cut.fetch_add(1, Ordering::SeqCst);
                return;
            }
            if to_server.write_all(&buffer[..read]).await.is_err() {
                return;
            }
        }
    };
    let downstream = tokio::io::copy(&mut from_server, &mut to_client);
    // Whichever way ends first ends both: the halves drop, and both sockets close.
    tokio::select! {
        _ = upstream => {}
        _ = downstream => {}
    }
}
