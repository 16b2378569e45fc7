//! Metrics: the `env.proxy_*` functions of this area of the ABI.

use super::*;

pub(super) fn define_metric(caller: &mut Caller<'_, HostState>, a: &Args<'_>) -> R {
    let Some(name) = read(caller, a.w(1), a.w(2)) else { return imo(String::new()) };
    let name = String::from_utf8_lossy(&name).into_owned();
    let Some(kind) = MetricKind::from_code(a.w(0)) else {
        return Ok(Ret::status(Status::BadArgument, format!("kind {}, {name:?}", a.w(0))));
    };
    let shown = format!("{kind:?}, {name:?}");
    let state = caller.data_mut();
    let slot = match kind {
        MetricKind::Counter => 0,
        MetricKind::Gauge => 1,
        MetricKind::Histogram => 2,
    };
    let Some(next) = state.next_metric_id.get_mut(slot) else { return Ok(Ret::status(Status::InternalFailure, shown)) };
    *next = next.wrapping_add(4);
    let id = *next;
    state.shared.define_metric(kind, &name);
    state.metric_ids.insert(id, (kind, name));
    if !write_u32(caller, a.w(3), id) {
        return imo(shown);
    }
    Ok(Ret::ok_with(shown, format!("id {id}")))
}

pub(super) fn metric(state: &HostState, id: u32) -> Option<(MetricKind, String)> {
    state.metric_ids.get(&id).filter(|(kind, _)| kind.tag() == id & 3).cloned()
}

pub(super) fn increment_metric(caller: &mut Caller<'_, HostState>, a: &Args<'_>) -> R {
    let (id, delta) = (a.w(0), a.l(1) as i64);
    let shown = format!("{id}, {delta}");
    let state = caller.data();
    let status = match (id & 3, metric(state, id)) {
        (0, Some((kind, name))) if delta > 0 => {
            state.shared.with_metric(kind, &name, |m| m.value = m.value.wrapping_add(delta.unsigned_abs()));
            Status::Ok
        }
        (0, Some(_)) => Status::BadArgument,
        (1, Some((kind, name))) => {
            state.shared.with_metric(kind, &name, |m| {
                m.value = if delta > 0 {
                    m.value.wrapping_add(delta.unsigned_abs())
                } else {
                    m.value.wrapping_sub(delta.unsigned_abs())
                }
            });
            Status::Ok
        }
        (0 | 1, None) => Status::NotFound,
        _ => Status::BadArgument,
    };
    Ok(Ret::status(status, shown))
}

pub(super) fn record_metric(caller: &mut Caller<'_, HostState>, a: &Args<'_>) -> R {
    let (id, value) = (a.w(0), a.l(1));
    let shown = format!("{id}, {value}");
    let state = caller.data();
    let status = match metric(state, id) {
        Some((kind, name)) => {
            state.shared.with_metric(kind, &name, |m| match kind {
                MetricKind::Counter => m.value = m.value.wrapping_add(value),
                MetricKind::Gauge => m.value = value,
                MetricKind::Histogram => {
                    m.samples.push(value);
                    m.value = u64::try_from(m.samples.len()).unwrap_or(u64::MAX);
                }
            });
            Status::Ok
        }
        None => Status::NotFound,
    };
    Ok(Ret::status(status, shown))
}

pub(super) fn get_metric(caller: &mut Caller<'_, HostState>, a: &Args<'_>) -> R {
    let id = a.w(0);
    let state = caller.data();
    let value = match (id & 3, metric(state, id)) {
        (0 | 1, Some((kind, name))) => state.shared.with_metric(kind, &name, |m| m.value).unwrap_or(0),
        (0 | 1, None) => return Ok(Ret::status(Status::NotFound, id.to_string())),
        _ => return Ok(Ret::status(Status::BadArgument, id.to_string())),
    };
    if !write_u64(caller, a.w(1), value) {
        return imo(id.to_string());
    }
    Ok(Ret::ok_with(id.to_string(), value.to_string()))
}
