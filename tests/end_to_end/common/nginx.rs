//! nginx in front of the server under test, configured by the snippet the repository ships
//! (`server/deploy/nginx-droplets.conf`) with only its placeholders filled in, run in the
//! foreground with a prefix directory of its own.

use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

use super::assertions::DEADLINE;
use super::server::TestServer;

/// The shipped configuration, read as an operator would copy it.
const SNIPPET: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/nginx-droplets.conf");

/// A running nginx; stopped (SIGTERM, which also stops its workers) when dropped.
pub struct Nginx {
    dir: TempDir,
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub base_url: String,
}

/// A port free now, for nginx to listen on, chosen before the server starts so that the server's
/// `external_url` can name nginx.
pub fn free_port() -> u16 {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("a free port");
    listener.local_addr().expect("its address").port()
}

impl Nginx {
    /// nginx on `port`, proxying to `server` and serving its blob directory.
    pub fn start(port: u16, server: &TestServer) -> Self {
        let binary = binary().unwrap_or_else(|| {
            panic!("nginx is not installed (these tests run it): apt-get install -y nginx")
        });
        let dir = tempfile::Builder::new().prefix("droplet-e2e-nginx-").tempdir().expect("dir");
        let snippet = std::fs::read_to_string(SNIPPET).expect("reading the shipped snippet");
        let placeholders = [
            ("@LISTEN@", format!("127.0.0.1:{port}")),
            ("@UPSTREAM@", server.addr.to_string()),
            ("@BLOB_DIR@", server.blob_dir().display().to_string()),
        ];
        let mut site = snippet;
        for (placeholder, value) in &placeholders {
            assert!(site.contains(placeholder), "the snippet has no {placeholder}");
            site = site.replace(placeholder, value);
        }
        std::fs::write(dir.path().join("droplets.conf"), site).expect("writing the site");
        let conf = dir.path().join("nginx.conf");
        std::fs::write(&conf, main_conf(dir.path())).expect("writing nginx.conf");
        let child = Command::new(binary)
            .arg("-c")
            .arg(&conf)
            .arg("-p")
            .arg(dir.path())
            .arg("-e")
            .arg(dir.path().join("error.log"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.path().join("stderr.log")).expect("stderr.log"))
            .spawn()
            .expect("starting nginx");
        let mut nginx = Nginx { dir, child, base_url: format!("http://127.0.0.1:{port}") };
        nginx.wait_until_listening(port);
        nginx
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// nginx's error log and stderr so far.
    pub fn log(&self) -> String {
        let read = |name: &str| std::fs::read_to_string(self.dir.path().join(name));
        format!(
            "{}{}",
            read("stderr.log").unwrap_or_default(),
            read("error.log").unwrap_or_default()
        )
    }

    fn wait_until_listening(&mut self, port: u16) {
        let address = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        let deadline = Instant::now() + DEADLINE;
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                panic!("nginx exited ({status}):\n{}", self.log());
            }
            if TcpStream::connect_timeout(&address, Duration::from_millis(100)).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("nginx is not listening on {address}:\n{}", self.log());
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        // SIGKILL would leave the workers running; SIGTERM makes the master stop them.
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline && matches!(self.child.try_wait(), Ok(None)) {
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!("---- nginx log ----\n{}", self.log());
        }
    }
}

/// nginx is in an sbin directory, which is not on every user's PATH.
fn binary() -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/usr/local/sbin"].map(PathBuf::from))
        .map(|dir| dir.join("nginx"))
        .find(|candidate| candidate.is_file())
}

/// What nginx.conf holds around the site: everything under `dir`, one worker, and no
/// `default_type`, so that a Content-Type the site failed to keep would show as `text/plain`.
fn main_conf(dir: &Path) -> String {
    let dir = dir.display();
    // As root nginx's workers would drop to nobody, who cannot read the test's 0700 directories.
    let user = if is_root() { "user root;" } else { "" };
    format!(
        "daemon off;\n\
         worker_processes 1;\n\
         {user}\n\
         pid {dir}/nginx.pid;\n\
         error_log {dir}/error.log info;\n\
         events {{ worker_connections 64; }}\n\
         http {{\n\
             access_log {dir}/access.log;\n\
             client_body_temp_path {dir}/body;\n\
             proxy_temp_path {dir}/proxy;\n\
             fastcgi_temp_path {dir}/fastcgi;\n\
             uwsgi_temp_path {dir}/uwsgi;\n\
             scgi_temp_path {dir}/scgi;\n\
             include {dir}/droplets.conf;\n\
         }}\n"
    )
}

fn is_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}
