//! A TCP proxy in front of the server that breaks connections, as a flaky link or a VPN does:
//! the first `cuts` connections that carry more than `after` bytes from the client are cut
//! there, both ways, without a word; the others pass untouched.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use droplet_test_s3_server::Background;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

pub struct CuttingProxy {
    /// `http://ADDR` of the proxy: the API's URL for a client behind it.
    pub url: String,
    cut: Arc<AtomicU32>,
    _background: Background,
}

impl CuttingProxy {
    pub fn start(target: SocketAddr, after: u64, cuts: u32) -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a port for the proxy");
        let url = format!("http://{}", listener.local_addr().expect("its address"));
        let (left, cut) = (Arc::new(AtomicU32::new(cuts)), Arc::new(AtomicU32::new(0)));
        let counted = cut.clone();
        let background = Background::serve(listener, move |client| {
            let (left, cut) = (left.clone(), counted.clone());
            async move {
                if let Ok(server) = TcpStream::connect(target).await {
                    pass(client, server, after, left, cut).await;
                }
            }
        });
        CuttingProxy { url, cut, _background: background }
    }

    /// The connections cut so far.
    pub fn cut(&self) -> u32 {
        self.cut.load(Ordering::SeqCst)
    }
}

/// Copies both ways until either side closes, or until the client has sent more than `after`
/// bytes while cuts are left.
async fn pass(
    client: TcpStream,
    server: TcpStream,
    after: u64,
    left: Arc<AtomicU32>,
    cut: Arc<AtomicU32>,
) {
    let (mut from_client, mut to_client) = client.into_split();
    let (mut from_server, mut to_server) = server.into_split();
    let upstream = async {
        let (mut sent, mut buffer) = (0u64, vec![0u8; 64 * 1024]);
        loop {
            let read = match from_client.read(&mut buffer).await {
                Ok(0) | Err(_) => return,
                Ok(read) => read,
            };
            sent += read as u64;
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
