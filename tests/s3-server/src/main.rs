//! The S3 server as a process of its own: `droplet-test-s3-server DIR` serves DIR on a free
//! loopback port, prints `listening on http://ADDR`, and runs until its standard input closes
//! (its parent went away) or it is sent SIGTERM.

use std::io::{Read, Write};
use std::path::PathBuf;

use droplet_test_s3_server::S3Server;

fn main() {
    let Some(root) = std::env::args_os().nth(1).map(PathBuf::from) else {
        eprintln!("usage: droplet-test-s3-server DIR");
        std::process::exit(2);
    };
    let server = S3Server::start(&root);
    let mut stdout = std::io::stdout();
    writeln!(stdout, "listening on {}", server.endpoint).expect("writing to stdout");
    stdout.flush().expect("flushing stdout");
    let _ = std::io::stdin().read_to_end(&mut Vec::new());
    drop(server);
}
