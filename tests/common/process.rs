//! A server process's end and a start that must fail: SIGTERM and waiting
//! for the exit, and settings that the server refuses before it touches
//! the database.

use std::process::{Command, ExitStatus};
use std::time::{Duration, Instant};

use super::server::TestServer;

impl TestServer {
    /// Asks the server process to stop (SIGTERM) and returns at once.
    pub fn terminate(&self) {
        let pid = self.child.as_ref().expect("a server process").id();
        let status = Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .expect("kill");
        assert!(status.success());
    }

    /// Waits for the server process to exit, for at most `timeout`.
    pub fn wait_for_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let child = self.child.as_mut().expect("a server process");
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Some(status) = child.try_wait().expect("wait") {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

/// Starts `update-mode serve` with `env` on a SQLite file that must not come
/// to exist, expects it to refuse to start, and returns what it said.
pub fn refused_start(env: &[(&str, &str)]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_update-mode"));
    command.args(["serve", "--listen", "127.0.0.1:0"]).env(
        "DATABASE_URL",
        format!("sqlite://{}/x.db", dir.path().display()),
    );
    for (name, value) in env {
        command.env(name, value);
    }
    let output = command.output().expect("update-mode serve");
    assert!(!output.status.success(), "the server started");
    assert!(
        !dir.path().join("x.db").exists(),
        "touched the database before refusing"
    );
    String::from_utf8_lossy(&output.stderr).into_owned()
}
