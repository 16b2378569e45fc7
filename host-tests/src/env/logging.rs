//! Logging and time: the `env.proxy_*` functions of this area of the ABI.

use super::*;

pub(super) fn log(caller: &mut Caller<'_, HostState>, a: &Args<'_>) -> R {
    let Some(level) = LogLevel::from_code(a.w(0)) else {
        return Ok(Ret::status(Status::BadArgument, format!("level {}", a.w(0))));
    };
    let Some(message) = read(caller, a.w(1), a.w(2)) else { return imo(format!("{level:?}")) };
    caller.data_mut().log(level, &message);
    Ok(Ret::status(Status::Ok, format!("{level:?}, {}", quote(&message))))
}

pub(super) fn get_log_level(caller: &mut Caller<'_, HostState>, a: &Args<'_>) -> R {
    let level = caller.data().log_level;
    if !write_u32(caller, a.w(0), level.code()) {
        return imo(String::new());
    }
    Ok(Ret::ok_with(String::new(), format!("{level:?}")))
}

pub(super) fn get_current_time(caller: &mut Caller<'_, HostState>, a: &Args<'_>) -> R {
    let now = caller.data().now_nanos();
    if !write_u64(caller, a.w(0), now) {
        return imo(String::new());
    }
    Ok(Ret::ok_with(String::new(), now.to_string()))
}

pub(super) fn set_tick_period(caller: &mut Caller<'_, HostState>, a: &Args<'_>) -> R {
    let state = caller.data_mut();
    let root = state.target_root();
    state.tick_periods.insert(root, a.w(0));
    Ok(Ret::status(Status::Ok, format!("{} ms", a.w(0))))
}

pub(super) fn get_status(caller: &mut Caller<'_, HostState>, a: &Args<'_>) -> R {
    // No HTTP or gRPC call ever completes in this host, so the root context's status is Envoy's initial one.
    if !write_u32(caller, a.w(0), 0) || !copy_out(caller, b"", a.w(1), a.w(2))? {
        return imo(String::new());
    }
    Ok(Ret::ok_with(String::new(), "0, \"\"".to_string()))
}
