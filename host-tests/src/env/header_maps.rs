//! Header maps: the `env.proxy_*` functions of this area of the ABI.

use super::*;

/// The map Envoy's `getConstMap` returns for reads.
pub(super) fn const_map(state: &HostState, ty: MapType) -> Option<&HeaderMap> {
    if ty == MapType::HttpCallResponseHeaders {
        return state.http_call_response.as_ref().map(|answer| &answer.headers).filter(|headers| headers.len() > 0);
    }
    let stream = state.target_stream()?;
    match ty {
        MapType::RequestHeaders if stream.access_log || stream.request_live => Some(&stream.request_headers),
        // Envoy gives no request trailers to `proxy_on_log`.
        MapType::RequestTrailers if stream.request_trailers_live => stream.request_trailers.as_ref(),
        MapType::ResponseHeaders if stream.access_log || stream.response_live => stream.response_headers.as_ref(),
        _ => None,
    }
}

/// The map Envoy's `getMap` returns for writes.
pub(super) fn mut_map(state: &mut HostState, ty: MapType) -> Option<&mut HeaderMap> {
    let stream = state.target_stream_mut()?;
    match ty {
        MapType::RequestHeaders if stream.request_live => Some(&mut stream.request_headers),
        MapType::RequestTrailers if stream.request_trailers_live => stream.request_trailers.as_mut(),
        MapType::ResponseHeaders if stream.response_live => stream.response_headers.as_mut(),
        _ => None,
    }
}

pub(super) fn access_log_phase(state: &HostState) -> bool {
    state.target_stream().is_some_and(|s| s.access_log)
}

pub(super) fn get_header_map_value(caller: &mut Caller<'_, HostState>, a: &Args<'_>) -> R {
    let Some(ty) = MapType::from_code(a.w(0)) else {
        return Ok(Ret::status(Status::BadArgument, format!("map {}", a.w(0))));
    };
    let Some(key) = read(caller, a.w(1), a.w(2)) else { return imo(format!("{ty:?}")) };
    let shown = format!("{ty:?}, {}", quote(&key));
    let state = caller.data();
    let value = match const_map(state, ty) {
        None if access_log_phase(state) => return Ok(Ret::status(Status::NotFound, shown)),
        None => return Ok(Ret::status(Status::BadArgument, shown)),
        Some(map) => match map.get(&key) {
            None => return Ok(Ret::status(Status::NotFound, shown)),
            Some(v) => v.to_vec(),
        },
    };
    if !copy_out(caller, &value, a.w(3), a.w(4))? {
        return imo(shown);
    }
    Ok(Ret::ok_with(shown, quote(&value)))
}

pub(super) enum Modify {
    Add,
    Replace,
    Remove,
}

pub(super) fn modify_header_map(caller: &mut Caller<'_, HostState>, a: &Args<'_>, op: Modify) -> R {
    let Some(ty) = MapType::from_code(a.w(0)) else {
        return Ok(Ret::status(Status::BadArgument, format!("map {}", a.w(0))));
    };
    let key = read(caller, a.w(1), a.w(2));
    let value = match op {
        Modify::Remove => Some(Vec::new()),
        Modify::Add | Modify::Replace => read(caller, a.w(3), a.w(4)),
    };
    let (Some(key), Some(value)) = (key, value) else { return imo(format!("{ty:?}")) };
    let shown = match op {
        Modify::Remove => format!("{ty:?}, {}", quote(&key)),
        Modify::Add | Modify::Replace => format!("{ty:?}, {}, {}", quote(&key), quote(&value)),
    };
    let Some(map) = mut_map(caller.data_mut(), ty) else { return Ok(Ret::status(Status::BadArgument, shown)) };
    match op {
        Modify::Add => map.add(&key, &value),
        Modify::Replace => map.replace(&key, &value),
        Modify::Remove => map.remove(&key),
    }
    Ok(Ret::status(Status::Ok, shown))
}

pub(super) fn get_header_map_pairs(caller: &mut Caller<'_, HostState>, a: &Args<'_>) -> R {
    let Some(ty) = MapType::from_code(a.w(0)) else {
        return Ok(Ret::status(Status::BadArgument, format!("map {}", a.w(0))));
    };
    let shown = format!("{ty:?}");
    // A missing map reads as empty (Envoy's `headerMapToPairs(nullptr)`).
    let pairs: Vec<(Vec<u8>, Vec<u8>)> = const_map(caller.data(), ty).map(|m| m.pairs().to_vec()).unwrap_or_default();
    let bytes = if pairs.is_empty() { Vec::new() } else { pairs::encode(&pairs) };
    if !copy_out(caller, &bytes, a.w(1), a.w(2))? {
        return imo(shown);
    }
    Ok(Ret::ok_with(shown, quote_pairs(&pairs)))
}

pub(super) fn set_header_map_pairs(caller: &mut Caller<'_, HostState>, a: &Args<'_>) -> R {
    let Some(ty) = MapType::from_code(a.w(0)) else {
        return Ok(Ret::status(Status::BadArgument, format!("map {}", a.w(0))));
    };
    let Some(bytes) = read(caller, a.w(1), a.w(2)) else { return imo(format!("{ty:?}")) };
    let pairs = pairs::decode(&bytes);
    let shown = format!("{ty:?}, {}", quote_pairs(&pairs));
    let Some(map) = mut_map(caller.data_mut(), ty) else { return Ok(Ret::status(Status::BadArgument, shown)) };
    map.set_all(&pairs);
    Ok(Ret::status(Status::Ok, shown))
}

pub(super) fn get_header_map_size(caller: &mut Caller<'_, HostState>, a: &Args<'_>) -> R {
    let Some(ty) = MapType::from_code(a.w(0)) else {
        return Ok(Ret::status(Status::BadArgument, format!("map {}", a.w(0))));
    };
    let shown = format!("{ty:?}");
    let Some(size) = mut_map(caller.data_mut(), ty).map(|m| m.byte_size()) else {
        return Ok(Ret::status(Status::BadArgument, shown));
    };
    let size = u32::try_from(size).unwrap_or(u32::MAX);
    if !write_u32(caller, a.w(1), size) {
        return imo(shown);
    }
    Ok(Ret::ok_with(shown, size.to_string()))
}
