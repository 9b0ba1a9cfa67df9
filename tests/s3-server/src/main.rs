//! The S3 server as a process of its own: `droplet-test-s3-server [--tls] DIR` serves DIR on a
//! free loopback port, prints `listening on http://ADDR` (`https://` with `--tls`, the
//! certificate in `DIR/tls-ca.pem`), and runs until its standard input closes (its parent went
//! away) or it is sent SIGTERM.

use std::io::{Read, Write};
use std::path::PathBuf;

use droplet_test_s3_server::S3Server;

fn main() {
    let mut args: Vec<_> = std::env::args_os().skip(1).collect();
    let tls = args.first().is_some_and(|first| first == "--tls");
    if tls {
        args.remove(0);
    }
    let [root] = &args[..] else {
        eprintln!("usage: droplet-test-s3-server [--tls] DIR");
        std::process::exit(2);
    };
    let root = PathBuf::from(root);
    let server = if tls { S3Server::start_tls(&root) } else { S3Server::start(&root) };
    let mut stdout = std::io::stdout();
    writeln!(stdout, "listening on {}", server.endpoint).expect("writing to stdout");
    stdout.flush().expect("flushing stdout");
    let _ = std::io::stdin().read_to_end(&mut Vec::new());
    drop(server);
}
