//! Properties: the `env.proxy_*` functions of this area of the ABI.

use super::*;

pub(super) fn get_property(caller: &mut Caller<'_, HostState>, a: &Args<'_>) -> R {
    let Some(path) = read(caller, a.w(0), a.w(1)) else { return imo(String::new()) };
    let shown = quote(&path);
    let Some(value) = properties::resolve(caller.data(), &path) else {
        return Ok(Ret::status(Status::NotFound, shown));
    };
    if !copy_out(caller, &value, a.w(2), a.w(3))? {
        return imo(shown);
    }
    Ok(Ret::ok_with(shown, quote(&value)))
}

pub(super) fn set_property(caller: &mut Caller<'_, HostState>, a: &Args<'_>) -> R {
    let (Some(path), Some(value)) = (read(caller, a.w(0), a.w(1)), read(caller, a.w(2), a.w(3))) else {
        return imo(String::new());
    };
    let shown = format!("{}, {}", quote(&path), quote(&value));
    match caller.data_mut().target_stream_mut() {
        Some(stream) => {
            stream.filter_state.insert(path, value);
            Ok(Ret::status(Status::Ok, shown))
        }
        // Envoy keeps properties in the stream info, which a root context does not have.
        None => Ok(Ret::status(Status::NotFound, shown)),
    }
}
