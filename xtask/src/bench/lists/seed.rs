//! Seeding a server's metadata database with droplets straight through SQL (the API would take
//! minutes for half a million), in the shape of a foundation: one app per five droplets, most of
//! them staged, created a minute apart over most of a year, and a tenth labelled with `env`
//! (prod, staging, dev) and `team` (t1 to t5). The server's own schema and triggers take the
//! rows, so its counters count them as they would count droplets created through the API.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use anyhow::{Context, ensure};

/// Where droplet `i` was created, in Unix seconds.
pub(super) fn created_at(i: u64) -> i64 {
    1_700_000_000 + i as i64 * 60
}

pub(super) fn updated_at(i: u64) -> i64 {
    created_at(i) + (i % 997) as i64 * 7
}

/// Droplet `i`'s guid, as the SQL below makes it.
pub(super) fn droplet_guid(i: u64) -> String {
    format!("{:08x}-{:04x}-4000-8000-{:012x}", (i * 2_654_435_761) % (1 << 32), i % 65536, i)
}

/// The app of droplet `i`.
pub(super) fn app_guid(i: u64) -> String {
    let app = i / 5;
    format!("{app:08x}-aaaa-4000-8000-{app:012x}")
}

/// The rows, from an integer series `s(i)` the backend makes, in SQL both databases take
/// (`{hex8}`, `{hex4}`, `{hex12}` and `{text}` are each backend's spelling).
fn insert_sql(hex: &dyn Fn(&str, usize) -> String, text: &str) -> String {
    let droplet = format!(
        "{} || '-' || {} || '-4000-8000-' || {}",
        hex("(i * 2654435761) % 4294967296", 8),
        hex("i % 65536", 4),
        hex("i", 12)
    );
    let app = format!("{} || '-aaaa-4000-8000-' || {}", hex("i / 5", 8), hex("i / 5", 12));
    let env = "CASE (i / 10) % 3 WHEN 0 THEN 'prod' WHEN 1 THEN 'staging' ELSE 'dev' END";
    let team = format!("'t' || {}", text.replace("{}", "(i / 10) % 5 + 1"));
    format!(
        "INSERT INTO droplets (guid, app_guid, state, error, checksum_sha256, blob_size,
            process_types, labels, annotations, created_at, updated_at)
         SELECT {droplet}, {app},
            CASE i % 10 WHEN 0 THEN 'FAILED' WHEN 1 THEN 'AWAITING_UPLOAD'
                WHEN 2 THEN 'EXPIRED' ELSE 'STAGED' END,
            NULL,
            CASE WHEN i % 10 > 2 THEN '{sha}' END,
            CASE WHEN i % 10 > 2 THEN 1048576 END,
            '{{\"web\":\"bundle exec rackup\"}}',
            CASE WHEN i % 10 = 5
                THEN '{{\"env\":\"' || {env} || '\",\"team\":\"' || {team} || '\"}}'
                ELSE '{{}}' END,
            '{{}}',
            1700000000 + i * 60,
            1700000000 + i * 60 + (i % 997) * 7
         FROM s;
         INSERT INTO droplet_labels (droplet_guid, key, value)
            SELECT {droplet}, 'env', {env} FROM s WHERE i % 10 = 5;
         INSERT INTO droplet_labels (droplet_guid, key, value)
            SELECT {droplet}, 'team', {team} FROM s WHERE i % 10 = 5;",
        sha = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
    )
}

/// Adds droplets `0..n` to the SQLite database at `path` (with Python's sqlite3 module, which
/// every machine the bench runs on has).
pub(super) fn sqlite(path: &Path, n: u64) -> anyhow::Result<()> {
    let hex = |value: &str, width: usize| format!("printf('%0{width}x', {value})");
    let series = format!(
        "WITH RECURSIVE s(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM s WHERE i < {n} - 1) "
    );
    let script = statements(&series, &hex);
    let program = "import sqlite3, sys\n\
        db = sqlite3.connect(sys.argv[1], timeout=60)\n\
        db.executescript('BEGIN;' + sys.stdin.read() + 'COMMIT;')\n";
    run(Command::new("python3").args(["-c", program]).arg(path), &script)
}

/// Adds droplets `0..n` to the PostgreSQL database at `url`, with psql.
pub(super) fn postgres(url: &str, n: u64) -> anyhow::Result<()> {
    let hex = |value: &str, width: usize| format!("lpad(to_hex(({value})::bigint), {width}, '0')");
    let series = format!("WITH s(i) AS (SELECT generate_series(0, {n} - 1)::bigint) ");
    let script = format!("BEGIN;\n{}\nCOMMIT;\nVACUUM ANALYZE;\n", statements(&series, &hex));
    run(Command::new("psql").args(["-v", "ON_ERROR_STOP=1", "-q", url]), &script)
}

/// The seeding statements, each drawing its rows from the integer series `series` defines.
fn statements(series: &str, hex: &dyn Fn(&str, usize) -> String) -> String {
    insert_sql(hex, "CAST({} AS TEXT)")
        .split(';')
        .filter(|s| !s.trim().is_empty())
        .map(|statement| format!("{series}{statement};"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn run(command: &mut Command, script: &str) -> anyhow::Result<()> {
    let mut child = command.stdin(Stdio::piped()).spawn().context("starting the seeding")?;
    child.stdin.take().context("stdin")?.write_all(script.as_bytes())?;
    let status = child.wait()?;
    ensure!(status.success(), "seeding the database failed: {status}");
    Ok(())
}
