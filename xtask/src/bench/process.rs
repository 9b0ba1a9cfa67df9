//! The servers as child processes: started, waited for and stopped, and what an upload cost them.

use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

/// A server we started, stopped with SIGTERM (nginx's fast shutdown, ours' graceful one) when
/// dropped; SIGKILL would leave nginx's worker running.
pub(super) struct Process {
    pub(super) child: Child,
    pub(super) name: &'static str,
}

impl Drop for Process {
    fn drop(&mut self) {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        eprintln!("{} (pid {pid}) did not stop on SIGTERM; killing it", self.name);
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port free now, for nginx to listen on; the race with other processes is harmless here.
pub(super) fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?.local_addr()?.port())
}

pub(super) fn wait_until_listening(
    process: &mut Process,
    port: u16,
    log: &Path,
) -> anyhow::Result<()> {
    let address = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if let Some(status) = process.child.try_wait()? {
            let log = std::fs::read_to_string(log).unwrap_or_default();
            bail!("{} exited ({status}):\n{log}", process.name);
        }
        if TcpStream::connect_timeout(&address, Duration::from_millis(100)).is_ok() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    bail!("{} is not listening on {address}", process.name)
}

pub(super) fn stderr(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).trim().to_owned()
}

/// One upload, as the server experienced it.
pub(super) struct Upload {
    /// Wall time until the server had it all: our job COMPLETE, nginx's 201.
    pub(super) seconds: f64,
    /// CPU time the server spent meanwhile, all threads and processes.
    pub(super) cpu_seconds: f64,
}

/// User and system CPU time of a process, all its threads included.
pub(super) fn cpu_seconds(pid: u32) -> anyhow::Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // Fields 14 and 15 (utime, stime) count after the command name, which may hold spaces.
    let (_, rest) = stat.rsplit_once(')').context("malformed /proc/PID/stat")?;
    let mut fields = rest.split_whitespace().skip(11);
    let mut next = || -> anyhow::Result<u64> {
        Ok(fields.next().context("malformed /proc/PID/stat")?.parse()?)
    };
    let ticks = next()? + next()?;
    // USER_HZ: 100 on every Linux architecture we run on.
    Ok(ticks as f64 / 100.0)
}
