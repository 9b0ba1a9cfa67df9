//! The system tools building the server, the tests, the bench and the documentation use beside
//! the Rust toolchain, so that `cargo build-deps` and `cargo xtask test` work on a fresh Debian
//! machine: as root with apt-get, what is missing is installed (one `apt-get install`) and the
//! local PostgreSQL cluster started; otherwise it stops at once with one line that says what to
//! run. The standard library only: `cargo build-deps` must not wait for xtask's code generators.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A tool and the Debian package that provides it.
struct Tool {
    package: &'static str,
    present: fn() -> bool,
}

/// The raw-HTTP compatibility tests send their uploads with `curl -F`.
const CURL: Tool = Tool { package: "curl", present: || on_path("curl") };
/// The Python test tools live in a virtualenv (`python3 -m venv` needs both modules).
const PYTHON_VENV: Tool = Tool {
    package: "python3-venv",
    present: || succeeds(Command::new("python3").args(["-c", "import venv, ensurepip"])),
};
/// A test renders `/docs` in headless Chromium.
const CHROMIUM: Tool = Tool { package: "chromium", present: || on_path("chromium") };
/// Redocly, run through npm (node comes with the package), renders openapi.html.
const NPM: Tool = Tool { package: "npm", present: || on_path("npm") };
/// A test lints `/metrics` with `promtool check metrics`.
const PROMTOOL: Tool = Tool { package: "prometheus", present: || on_path("promtool") };
/// A test puts nginx in front of the server, with the snippet in `server/deploy`. nginx lives in
/// /usr/sbin, which is not on every user's PATH.
const NGINX: Tool = Tool {
    package: "nginx",
    present: || on_path("nginx") || std::path::Path::new("/usr/sbin/nginx").is_file(),
};
/// The tests create and drop their databases with `psql`; `pg_isready` comes with it.
const PSQL: Tool = Tool { package: "postgresql-client", present: || on_path("psql") };

/// Building ISA-L, the server's inflater (its default `isal` feature): autotools configure it
/// and nasm assembles its x86-64 kernels.
const BUILD_TOOLS: [Tool; 5] = [
    Tool { package: "nasm", present: || on_path("nasm") },
    Tool { package: "autoconf", present: || on_path("autoreconf") },
    Tool { package: "automake", present: || on_path("automake") },
    Tool { package: "libtool", present: || on_path("libtoolize") },
    Tool { package: "make", present: || on_path("make") },
];

/// The tests' administrative connection unless `DROPLET_TEST_POSTGRES` names another (the
/// default of `tests/end_to_end/common/postgres.rs`).
const DEFAULT_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/test";
/// How long a started cluster may take to accept connections.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// Everything `cargo xtask test` needs: the tools, then a PostgreSQL server that answers.
pub fn for_tests() {
    let admin_url = std::env::var("DROPLET_TEST_POSTGRES").ok();
    let mut packages = missing(&[CURL, PYTHON_VENV, CHROMIUM, NPM, PROMTOOL, NGINX, PSQL]);
    packages.extend(missing(&BUILD_TOOLS));
    // No server and no cluster to start: the server package too, in the same apt-get call.
    let new_cluster = admin_url.is_none() && !port_5432_open() && cluster_version().is_none();
    if new_cluster {
        packages.push("postgresql");
    }
    install("the tests need", &packages);
    match admin_url {
        Some(url) => check_connection(&url, "`psql \"$DROPLET_TEST_POSTGRES\" -c 'select 1'`", ""),
        None => local_postgres(new_cluster),
    }
    println!(
        "prerequisites: the build tools, curl, python3-venv, chromium, npm, promtool, nginx, psql \
         and PostgreSQL are ready"
    );
}

/// What building the server needs beside the Rust toolchain (`cargo build-deps`).
pub fn for_build() {
    install("building the server (ISA-L) needs", &missing(&BUILD_TOOLS));
    println!("prerequisites: nasm, autoconf, automake, libtool and make are ready");
}

/// What `cargo xtask bench` needs: the build tools, curl (its client), python3-venv (boto3's),
/// nginx (its reference) and the local PostgreSQL (the list bench's second backend).
pub fn for_bench() {
    let mut packages = missing(&[CURL, PYTHON_VENV, NGINX, PSQL]);
    packages.extend(missing(&BUILD_TOOLS));
    let new_cluster = !port_5432_open() && cluster_version().is_none();
    if new_cluster {
        packages.push("postgresql");
    }
    install("the bench needs", &packages);
    local_postgres(new_cluster);
}

/// What rendering openapi.html needs (`cargo xtask check`, `regen` and `docs`).
pub fn for_docs() {
    install("rendering openapi.html needs", &missing(&[NPM]));
}

/// The packages of the tools that are not there.
fn missing(tools: &[Tool]) -> Vec<&'static str> {
    tools.iter().filter(|tool| !(tool.present)()).map(|tool| tool.package).collect()
}

/// Installs `packages` with apt-get as root, or stops with the command to run.
fn install(needs: &str, packages: &[&str]) {
    if packages.is_empty() {
        return;
    }
    let (names, args) = (packages.join(", "), packages.join(" "));
    if !on_path("apt-get") {
        stop(&format!("{needs} {names} (Debian packages): install them"));
    }
    if !is_root() {
        stop(&format!("{needs} {names}: run `sudo apt-get install -y {args}`"));
    }
    println!("installing {names}: apt-get install -y -qq {args}");
    run(Command::new("apt-get").args(["update", "-qq"]));
    run(Command::new("apt-get")
        .args(["install", "-y", "-qq"])
        .args(packages)
        .env("DEBIAN_FRONTEND", "noninteractive"));
}

/// The local cluster on 127.0.0.1:5432, started if it is not answering, and the tests'
/// connection checked.
fn local_postgres(new_cluster: bool) {
    let version = cluster_version();
    if let (true, Some(version)) = (new_cluster, &version) {
        trust_localhost(version);
    }
    if !pg_isready() {
        let Some(version) = &version else {
            stop(
                "PostgreSQL is not answering on 127.0.0.1:5432 and /etc/postgresql has no \
                 cluster to start: run `sudo apt-get install -y postgresql`",
            );
        };
        if !is_root() {
            stop(&format!(
                "PostgreSQL is not answering on 127.0.0.1:5432: run `sudo {}`",
                shown(&pg_ctlcluster(version, "start"))
            ));
        }
        start(version);
    }
    if new_cluster {
        run(Command::new("psql").args([
            "postgres://postgres@127.0.0.1:5432/postgres",
            "-X",
            "-q",
            "-w",
            "-c",
            "CREATE DATABASE test",
        ]));
    }
    check_connection(
        DEFAULT_ADMIN_URL,
        &format!("`psql {DEFAULT_ADMIN_URL}`"),
        " (trust auth for user postgres, a database test; or set DROPLET_TEST_POSTGRES)",
    );
}

/// Starts the cluster and waits until it accepts connections.
fn start(version: &str) {
    let mut command = pg_ctlcluster(version, "start");
    println!("starting PostgreSQL: {}", shown(&command));
    run(&mut command);
    let deadline = Instant::now() + START_TIMEOUT;
    while !pg_isready() {
        if Instant::now() > deadline {
            stop(&format!(
                "PostgreSQL {version} main is not answering on 127.0.0.1:5432 {} s after start: \
                 see /var/log/postgresql/postgresql-{version}-main.log",
                START_TIMEOUT.as_secs()
            ));
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// A cluster this run created: the tests connect as `postgres` over TCP without a password,
/// which Debian's default `pg_hba.conf` refuses; the first matching line wins.
fn trust_localhost(version: &str) {
    let path = format!("/etc/postgresql/{version}/main/pg_hba.conf");
    let hba = std::fs::read_to_string(&path).unwrap_or_default();
    let line = "# cargo xtask test: the tests connect as postgres without a password\n\
                host all all 127.0.0.1/32 trust\n";
    if let Err(error) = std::fs::write(&path, format!("{line}{hba}")) {
        stop(&format!("writing {path}: {error}"));
    }
    if pg_isready() {
        // apt-get may have started it already; a reload reads the new line.
        run(&mut pg_ctlcluster(version, "reload"));
    }
}

/// `pg_ctlcluster` on cluster `main` of `version`, bypassing systemd (absent in containers).
fn pg_ctlcluster(version: &str, action: &str) -> Command {
    let mut command = Command::new("pg_ctlcluster");
    command.args(["--skip-systemctl-redirect", version, "main", action]);
    command
}

/// Stops unless `psql url -c 'select 1'` works; `what` and `hint` tell the person who must fix
/// it what that takes. `-w`: fail rather than prompt for a password.
fn check_connection(url: &str, what: &str, hint: &str) {
    let output = Command::new("psql").args([url, "-X", "-q", "-w", "-c", "select 1"]).output();
    let error = match output {
        Ok(output) if output.status.success() => return,
        Ok(output) => {
            String::from_utf8_lossy(&output.stderr).split_whitespace().collect::<Vec<_>>().join(" ")
        }
        Err(error) => error.to_string(),
    };
    stop(&format!("the tests need {what} to work{hint}: {error}"));
}

/// The newest PostgreSQL version with a `main` cluster under /etc/postgresql.
fn cluster_version() -> Option<String> {
    let entries = std::fs::read_dir("/etc/postgresql").ok()?;
    let versions = entries.flatten().filter(|entry| entry.path().join("main").is_dir());
    let versions = versions.filter_map(|entry| entry.file_name().into_string().ok());
    versions.max_by_key(|version| {
        version.split('.').map(|part| part.parse::<u32>().unwrap_or(0)).collect::<Vec<_>>()
    })
}

fn pg_isready() -> bool {
    succeeds(Command::new("pg_isready").args(["-q", "-h", "127.0.0.1", "-p", "5432"]))
}

/// Whether anything listens on 127.0.0.1:5432, asked without `pg_isready`, which may be missing.
fn port_5432_open() -> bool {
    let address = std::net::SocketAddr::from(([127, 0, 0, 1], 5432));
    std::net::TcpStream::connect_timeout(&address, Duration::from_secs(1)).is_ok()
}

/// Whether the effective user is root: the second field of `Uid:` in /proc/self/status.
fn is_root() -> bool {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let uid = status.lines().find_map(|line| line.strip_prefix("Uid:"));
    uid.and_then(|ids| ids.split_whitespace().nth(1)) == Some("0")
}

/// Whether an executable `name` is in a directory of `PATH`.
fn on_path(name: &str) -> bool {
    use std::os::unix::fs::PermissionsExt;
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path).any(|dir| {
        let file = dir.join(name);
        file.metadata().is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    })
}

/// Whether `command` runs and exits with success, its output discarded.
fn succeeds(command: &mut Command) -> bool {
    command.stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok_and(|s| s.success())
}

/// Runs `command`, its output shown, and stops if it fails.
fn run(command: &mut Command) {
    let shown = shown(command);
    match command.status() {
        Ok(status) if status.success() => {}
        Ok(status) => stop(&format!("`{shown}` failed ({status})")),
        Err(error) => stop(&format!("`{shown}` did not run: {error}")),
    }
}

/// `command` as one would type it.
fn shown(command: &Command) -> String {
    let args = command.get_args().map(|arg| arg.to_string_lossy());
    std::iter::once(command.get_program().to_string_lossy())
        .chain(args)
        .collect::<Vec<_>>()
        .join(" ")
}

/// Prints `error: <message>` and exits: one line, without anyhow's `Error:` and cause chain, for
/// a person to act on.
fn stop(message: &str) -> ! {
    eprintln!("error: {message}");
    std::process::exit(1)
}
