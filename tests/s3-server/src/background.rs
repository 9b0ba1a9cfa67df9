//! A loopback server on a thread and runtime of its own: it accepts connections until it is
//! stopped (or dropped), and then closes every open one. The S3 server runs on it, and so does the
//! end-to-end tests' proxy that plays a store under strain.

use std::future::Future;

use tokio::net::TcpStream;

pub struct Background {
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Background {
    /// Hands each connection accepted on `listener` to `connection`, as a task of its own.
    pub fn serve<F, Fut>(listener: std::net::TcpListener, connection: F) -> Background
    where
        F: Fn(TcpStream) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        listener.set_nonblocking(true).expect("a non-blocking listener");
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Runtime::new().expect("a runtime for the server");
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
                let mut stopped = std::pin::pin!(stopped);
                loop {
                    tokio::select! {
                        accepted = listener.accept() => {
                            if let Ok((socket, _)) = accepted {
                                tokio::spawn(connection(socket));
                            }
                        }
                        _ = &mut stopped => break,
                    }
                }
            });
            // Dropping the runtime drops every open connection with it.
        });
        Background { stop: Some(stop), thread: Some(thread) }
    }

    /// Stops accepting and closes every connection.
    pub fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        self.stop();
    }
}
