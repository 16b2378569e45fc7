//! State that outlives one VM and is shared by every plugin started from the same [`crate::FilterHost`], as
//! Envoy shares it between the VMs of its worker threads: shared data, shared queues and metrics.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard};

use crate::abi::{MetricKind, Status};

/// A metric as Envoy's stats store holds it (`/stats` shows it as `wasmcustom.<name>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Metric {
    /// The name the guest defined.
    pub name: String,
    /// Counter, gauge or histogram.
    pub kind: MetricKind,
    /// The counter or gauge value; for a histogram, the number of samples.
    pub value: u64,
    /// The samples recorded into a histogram, in order.
    pub samples: Vec<u64>,
}

#[derive(Default)]
pub(crate) struct Shared {
    data: Mutex<SharedData>,
    queues: Mutex<Queues>,
    metrics: Mutex<BTreeMap<(MetricKind, String), Metric>>,
    /// Where `proxy_http_call` reaches each named cluster.
    pub(crate) clusters: crate::http_call::Clusters,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A poisoned lock only means another thread panicked while holding it; the data is still usable.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[derive(Default)]
struct SharedData {
    entries: HashMap<Vec<u8>, (Vec<u8>, u32)>,
    next_cas: u32,
}

#[derive(Default)]
struct Queues {
    by_name: HashMap<(Vec<u8>, Vec<u8>), u32>,
    queues: HashMap<u32, Queue>,
    next_token: u32,
}

struct Queue {
    items: VecDeque<Vec<u8>>,
    /// The plugin (VM instance) and root context that registered the queue, for `proxy_on_queue_ready`.
    owner: (u64, u32),
}

impl Shared {
    /// `proxy_get_shared_data`: the value and its compare-and-swap token.
    pub(crate) fn get_data(&self, key: &[u8]) -> Option<(Vec<u8>, u32)> {
        lock(&self.data).entries.get(key).cloned()
    }

    /// `proxy_set_shared_data` with Envoy's CAS rule: a non-zero `cas` must match the current token.
    pub(crate) fn set_data(&self, key: &[u8], value: &[u8], cas: u32) -> Status {
        let mut d = lock(&self.data);
        if let Some((_, current)) = d.entries.get(key) {
            if cas != 0 && cas != *current {
                return Status::CasMismatch;
            }
        }
        // Envoy's tokens start at 1 and skip 0 on wrap-around.
        if d.next_cas == 0 {
            d.next_cas = 1;
        }
        let token = d.next_cas;
        d.next_cas = d.next_cas.wrapping_add(1);
        d.entries.insert(key.to_vec(), (value.to_vec(), token));
        Status::Ok
    }

    /// `proxy_register_shared_queue`: the existing queue's token, or a new queue owned by `owner`.
    pub(crate) fn register_queue(&self, vm_id: &[u8], name: &[u8], owner: (u64, u32)) -> u32 {
        let mut q = lock(&self.queues);
        let key = (vm_id.to_vec(), name.to_vec());
        if let Some(token) = q.by_name.get(&key).copied() {
            if let Some(queue) = q.queues.get_mut(&token) {
                queue.owner = owner;
            }
            return token;
        }
        let mut token = q.next_token;
        loop {
            token = token.wrapping_add(1);
            if token != 0 && !q.queues.contains_key(&token) {
                break;
            }
        }
        q.next_token = token;
        q.by_name.insert(key, token);
        q.queues.insert(token, Queue { items: VecDeque::new(), owner });
        token
    }

    /// `proxy_resolve_shared_queue`.
    pub(crate) fn resolve_queue(&self, vm_id: &[u8], name: &[u8]) -> Option<u32> {
        lock(&self.queues).by_name.get(&(vm_id.to_vec(), name.to_vec())).copied()
    }

    /// `proxy_enqueue_shared_queue`: the owner to notify, or `None` for an unknown token.
    pub(crate) fn enqueue(&self, token: u32, value: &[u8]) -> Option<(u64, u32)> {
        let mut q = lock(&self.queues);
        let queue = q.queues.get_mut(&token)?;
        queue.items.push_back(value.to_vec());
        Some(queue.owner)
    }

    /// `proxy_dequeue_shared_queue`: `Err(NotFound)` for an unknown token, `Err(Empty)` for an empty queue.
    pub(crate) fn dequeue(&self, token: u32) -> Result<Vec<u8>, Status> {
        let mut q = lock(&self.queues);
        let queue = q.queues.get_mut(&token).ok_or(Status::NotFound)?;
        queue.items.pop_front().ok_or(Status::Empty)
    }

    /// Make sure a metric exists (defining the same name twice shares one stat, as in Envoy's store).
    pub(crate) fn define_metric(&self, kind: MetricKind, name: &str) {
        lock(&self.metrics).entry((kind, name.to_string())).or_insert_with(|| Metric {
            name: name.to_string(),
            kind,
            value: 0,
            samples: Vec::new(),
        });
    }

    /// Apply `f` to a defined metric.
    pub(crate) fn with_metric<R>(&self, kind: MetricKind, name: &str, f: impl FnOnce(&mut Metric) -> R) -> Option<R> {
        lock(&self.metrics).get_mut(&(kind, name.to_string())).map(f)
    }

    /// Every metric, ordered by kind and name.
    pub(crate) fn metrics(&self) -> Vec<Metric> {
        lock(&self.metrics).values().cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn cas_tokens_guard_updates() {
        let s = Shared::default();
        assert_eq!(s.get_data(b"k"), None);
        assert_eq!(s.set_data(b"k", b"v1", 0), Status::Ok);
        let (v, cas) = s.get_data(b"k").unwrap();
        assert_eq!((v.as_slice(), cas), (&b"v1"[..], 1));
        assert_eq!(s.set_data(b"k", b"v2", cas + 7), Status::CasMismatch);
        assert_eq!(s.set_data(b"k", b"v2", cas), Status::Ok);
        assert_eq!(s.get_data(b"k").unwrap(), (b"v2".to_vec(), 2));
    }

    #[test]
    fn queues_register_resolve_and_drain() {
        let s = Shared::default();
        let t = s.register_queue(b"", b"q", (1, 1));
        assert_ne!(t, 0);
        assert_eq!(s.register_queue(b"", b"q", (1, 1)), t);
        assert_eq!(s.resolve_queue(b"", b"q"), Some(t));
        assert_eq!(s.resolve_queue(b"", b"other"), None);
        assert_eq!(s.dequeue(t), Err(Status::Empty));
        assert_eq!(s.enqueue(t, b"x"), Some((1, 1)));
        assert_eq!(s.dequeue(t), Ok(b"x".to_vec()));
        assert_eq!(s.dequeue(t + 1), Err(Status::NotFound));
        assert_eq!(s.enqueue(t + 1, b"x"), None);
    }
}
