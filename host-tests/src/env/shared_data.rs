//! Shared data and queues: the `env.proxy_*` functions of this area of the ABI.

use super::*;

pub(super) fn get_shared_data(caller: &mut Caller<'_, HostState>, a: &Args<'_>) -> R {
    let Some(key) = read(caller, a.w(0), a.w(1)) else { return imo(String::new()) };
    let shown = quote(&key);
    let Some((value, cas)) = caller.data().shared.get_data(&key) else {
        return Ok(Ret::status(Status::NotFound, shown));
    };
    if !copy_out(caller, &value, a.w(2), a.w(3))? || !write_u32(caller, a.w(4), cas) {
        return imo(shown);
    }
    Ok(Ret::ok_with(shown, format!("{}, cas {cas}", quote(&value))))
}

pub(super) fn set_shared_data(caller: &mut Caller<'_, HostState>, a: &Args<'_>) -> R {
    let (Some(key), Some(value)) = (read(caller, a.w(0), a.w(1)), read(caller, a.w(2), a.w(3))) else {
        return imo(String::new());
    };
    let status = caller.data().shared.set_data(&key, &value, a.w(4));
    Ok(Ret::status(status, format!("{}, {}, cas {}", quote(&key), quote(&value), a.w(4))))
}

pub(super) fn register_shared_queue(caller: &mut Caller<'_, HostState>, a: &Args<'_>) -> R {
    let Some(name) = read(caller, a.w(0), a.w(1)) else { return imo(String::new()) };
    let state = caller.data();
    let token = state.shared.register_queue(b"", &name, (state.vm, state.target_root()));
    if !write_u32(caller, a.w(2), token) {
        return imo(quote(&name));
    }
    Ok(Ret::ok_with(quote(&name), token.to_string()))
}

pub(super) fn resolve_shared_queue(caller: &mut Caller<'_, HostState>, a: &Args<'_>) -> R {
    let (Some(vm_id), Some(name)) = (read(caller, a.w(0), a.w(1)), read(caller, a.w(2), a.w(3))) else {
        return imo(String::new());
    };
    let shown = format!("{}, {}", quote(&vm_id), quote(&name));
    // Every VM started from one host has the empty VM id, which is also what an empty `vm_id` means.
    let Some(token) = caller.data().shared.resolve_queue(b"", &name).filter(|_| vm_id.is_empty()) else {
        return Ok(Ret::status(Status::NotFound, shown));
    };
    if !write_u32(caller, a.w(4), token) {
        return imo(shown);
    }
    Ok(Ret::ok_with(shown, token.to_string()))
}

pub(super) fn dequeue_shared_queue(caller: &mut Caller<'_, HostState>, a: &Args<'_>) -> R {
    let token = a.w(0);
    let value = match caller.data().shared.dequeue(token) {
        Ok(v) => v,
        Err(status) => return Ok(Ret::status(status, token.to_string())),
    };
    if !copy_out(caller, &value, a.w(1), a.w(2))? {
        return imo(token.to_string());
    }
    Ok(Ret::ok_with(token.to_string(), quote(&value)))
}

pub(super) fn enqueue_shared_queue(caller: &mut Caller<'_, HostState>, a: &Args<'_>) -> R {
    let token = a.w(0);
    let Some(value) = read(caller, a.w(1), a.w(2)) else { return imo(token.to_string()) };
    let shown = format!("{token}, {}", quote(&value));
    let state = caller.data_mut();
    match state.shared.enqueue(token, &value) {
        None => Ok(Ret::status(Status::NotFound, shown)),
        Some((vm, root)) => {
            // Envoy posts `proxy_on_queue_ready` to the registering VM's thread; this host delivers it to its own
            // VM after the current callback and does not reach other VMs.
            if vm == state.vm {
                state.pending_queue_ready.push((root, token));
            }
            Ok(Ret::status(Status::Ok, shown))
        }
    }
}
