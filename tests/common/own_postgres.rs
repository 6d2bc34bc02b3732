//! A PostgreSQL server of the test's own, on its own port, that the test can
//! stop and start again (the shared server must never be stopped). Uses the
//! machine's PostgreSQL binaries; as root it runs them as `postgres`.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::database::TestDatabase;

pub struct OwnPostgres {
    pub port: u16,
    bin: PathBuf,
    data: tempfile::TempDir,
}

impl OwnPostgres {
    /// None, with the reason printed, when no PostgreSQL server binaries
    /// are installed; in CI (`CI` set) their absence is a failure, so that
    /// the tests that need them never pass there without running.
    pub fn create() -> Option<OwnPostgres> {
        let Some(bin) = server_binaries() else {
            let message = "skipped: no PostgreSQL server binaries (initdb, pg_ctl) under /usr/lib/postgresql/*/bin";
            assert!(
                std::env::var_os("CI").is_none(),
                "{message}; CI must have them (apt-get install postgresql)"
            );
            eprintln!("{message}");
            return None;
        };
        let data = tempfile::tempdir().expect("temp dir");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let server = OwnPostgres { port, bin, data };
        if is_root() {
            let status = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(server.data.path())
                .status()
                .unwrap();
            assert!(status.success());
        }
        server.run(
            "initdb",
            &[
                "-D",
                &server.cluster(),
                "-A",
                "trust",
                "-U",
                "postgres",
                "--no-sync",
            ],
        );
        server.start();
        Some(server)
    }

    /// The server's `postgres` database, for a test server to use.
    pub fn database(&self) -> TestDatabase {
        TestDatabase::at(format!(
            "postgres://postgres@127.0.0.1:{}/postgres",
            self.port
        ))
    }

    pub fn start(&self) {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            self.port,
            self.data.path().display()
        );
        self.run(
            "pg_ctl",
            &[
                "-D",
                &self.cluster(),
                "-o",
                &options,
                "-l",
                &self.log(),
                "-w",
                "start",
            ],
        );
    }

    /// Stops at once, cutting every connection.
    pub fn stop(&self) {
        self.run(
            "pg_ctl",
            &["-D", &self.cluster(), "-m", "immediate", "-w", "stop"],
        );
    }

    fn cluster(&self) -> String {
        self.data.path().join("cluster").display().to_string()
    }

    fn log(&self) -> String {
        self.data.path().join("postgres.log").display().to_string()
    }

    fn run(&self, program: &str, args: &[&str]) {
        let program = self.bin.join(program);
        let output = if is_root() {
            Command::new("runuser")
                .args(["-u", "postgres", "--"])
                .arg(&program)
                .args(args)
                .output()
        } else {
            Command::new(&program).args(args).output()
        }
        .expect("run a PostgreSQL binary");
        assert!(
            output.status.success(),
            "{} failed: {}{}",
            Path::new(&program).display(),
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

impl Drop for OwnPostgres {
    fn drop(&mut self) {
        let stop = self.bin.join("pg_ctl");
        let args = ["-D", &self.cluster(), "-m", "immediate", "stop"];
        let _ = if is_root() {
            Command::new("runuser")
                .args(["-u", "postgres", "--"])
                .arg(&stop)
                .args(args)
                .output()
        } else {
            Command::new(&stop).args(args).output()
        };
    }
}

/// The `bin` folder of an installed PostgreSQL server that has both tools.
fn server_binaries() -> Option<PathBuf> {
    std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(Result::ok)
        .map(|entry| entry.path().join("bin"))
        .find(|bin| bin.join("initdb").exists() && bin.join("pg_ctl").exists())
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| o.stdout.starts_with(b"0\n"))
        .unwrap_or(false)
}
