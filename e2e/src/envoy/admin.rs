//! What a running Envoy tells: its admin interface (stats) and its log.

use super::*;

impl Envoy {
    /// GET on the admin interface.
    pub fn admin_get(&self, path: &str) -> Result<Response> {
        http::send(self.admin, &Request::new("GET", path))
    }

    /// Counters and gauges whose names contain `filter` (admin `/stats`), by name.
    pub fn stats(&self, filter: &str) -> Result<BTreeMap<String, u64>> {
        let response = self.admin_get(&format!("/stats?filter={filter}"))?;
        Ok(response
            .text()
            .lines()
            .filter_map(|line| {
                let (name, value) = line.split_once(": ")?;
                Some((name.to_owned(), value.trim().parse().ok()?))
            })
            .collect())
    }

    /// Waits until the stat `name` is at least `value`; returns the last value read (0 if absent).
    pub fn wait_for_stat(&self, name: &str, value: u64, timeout: Duration) -> Result<u64> {
        let began = Instant::now();
        loop {
            let current = self.stats(name)?.get(name).copied().unwrap_or(0);
            if current >= value || began.elapsed() > timeout {
                return Ok(current);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// A mark in the log: lines after it are the ones logged from now on.
    pub fn log_mark(&self) -> usize {
        self.log.len()
    }

    /// Log lines since `mark`.
    pub fn log_since(&self, mark: usize) -> Vec<String> {
        self.log.since(mark)
    }

    /// The last lines of the log, for error messages.
    pub fn log_tail(&self) -> String {
        self.log.tail()
    }

    /// The first access log line after `mark` (see [`crate::bootstrap::Bootstrap::access_log`]), waiting up to
    /// `timeout` for it to arrive.
    pub fn access_logged_since(&self, mark: usize, timeout: Duration) -> Option<AccessLogged> {
        let began = Instant::now();
        loop {
            if let Some(logged) = self.log.since(mark).iter().find_map(|line| AccessLogged::parse(line)) {
                return Some(logged);
            }
            if began.elapsed() > timeout {
                return None;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}
