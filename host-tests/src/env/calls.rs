//! Calls out: the `env.proxy_*` functions of this area of the ABI.

use super::*;

#[derive(Clone, Copy)]
pub(super) enum Callout {
    Http,
    GrpcCall,
    GrpcStream,
}

/// Envoy numbers callouts in steps of 4 with the kind in the two low bits.
pub(super) fn next_callout(state: &mut HostState, kind: Callout) -> u32 {
    state.next_callout_id = state.next_callout_id.wrapping_add(4);
    let tag = match kind {
        Callout::Http => 0,
        Callout::GrpcCall => 1,
        Callout::GrpcStream => 2,
    };
    state.next_callout_id | tag
}

pub(super) fn http_call(caller: &mut Caller<'_, HostState>, a: &Args<'_>) -> R {
    let upstream = read(caller, a.w(0), a.w(1));
    let headers = read(caller, a.w(2), a.w(3));
    let body = read(caller, a.w(4), a.w(5));
    let trailers = read(caller, a.w(6), a.w(7));
    let (Some(upstream), Some(headers), Some(body), Some(trailers)) = (upstream, headers, body, trailers) else {
        return imo(String::new());
    };
    let headers = HeaderMap::from_pairs(&pairs::decode(&headers));
    let trailers = pairs::decode(&trailers);
    let timeout = a.w(8);
    let shown = format!(
        "{}, {}, {}, {}, {timeout} ms",
        quote(&upstream),
        quote_pairs(headers.pairs()),
        quote(&body),
        quote_pairs(&trailers)
    );
    // Envoy writes the token slot first to check the memory before starting the call.
    if !write_u32(caller, a.w(9), 0) {
        return imo(shown);
    }
    // Envoy takes the timeout as a signed int and needs a known cluster and the request pseudo-headers; any
    // non-empty cluster name counts as known here.
    let missing = [&b":path"[..], b":method", b":authority"].iter().any(|k| headers.get(k).is_none());
    let cluster = caller.data().shared.clusters.resolve(&upstream);
    if (timeout as i32) < 0 || upstream.is_empty() || missing || cluster == Some(None) {
        return Ok(Ret::status(Status::BadArgument, shown));
    }
    let token = next_callout(caller.data_mut(), Callout::Http);
    if let Some(Some(addr)) = cluster {
        let state = caller.data_mut();
        let (headers, root) = (headers.pairs().to_vec(), state.target_root());
        let call = crate::http_call::PendingCall {
            token,
            root,
            addr,
            headers,
            body,
            timeout: std::time::Duration::from_millis(timeout.into()),
        };
        state.pending_http_calls.push(call);
    }
    if !write_u32(caller, a.w(9), token) {
        return imo(shown);
    }
    Ok(Ret::ok_with(shown, format!("token {token}")))
}

pub(super) fn grpc_open(caller: &mut Caller<'_, HostState>, a: &Args<'_>, kind: Callout) -> R {
    let upstream = read(caller, a.w(0), a.w(1));
    let service = read(caller, a.w(2), a.w(3));
    let method = read(caller, a.w(4), a.w(5));
    let metadata = read(caller, a.w(6), a.w(7));
    let (message, token_ptr) = match kind {
        Callout::GrpcCall => (read(caller, a.w(8), a.w(9)), a.w(11)),
        Callout::GrpcStream | Callout::Http => (Some(Vec::new()), a.w(8)),
    };
    let (Some(upstream), Some(service), Some(method), Some(metadata), Some(message)) =
        (upstream, service, method, metadata, message)
    else {
        return imo(String::new());
    };
    let shown = format!(
        "{}, {}, {}, {}, {}",
        quote(&upstream),
        quote(&service),
        quote(&method),
        quote_pairs(&pairs::decode(&metadata)),
        quote(&message)
    );
    if upstream.is_empty() {
        return Ok(Ret::status(Status::ParseFailure, shown));
    }
    let state = caller.data_mut();
    let token = next_callout(state, kind);
    match kind {
        Callout::GrpcStream => state.grpc_streams.insert(token),
        Callout::GrpcCall | Callout::Http => state.grpc_calls.insert(token),
    };
    if !write_u32(caller, token_ptr, token) {
        return imo(shown);
    }
    Ok(Ret::ok_with(shown, format!("token {token}")))
}

pub(super) fn grpc_send(caller: &mut Caller<'_, HostState>, a: &Args<'_>) -> R {
    let token = a.w(0);
    let Some(message) = read(caller, a.w(1), a.w(2)) else { return imo(token.to_string()) };
    let shown = format!("{token}, {}, end {}", quote(&message), a.w(3));
    let state = caller.data_mut();
    let status = if token & 3 != 2 {
        Status::BadArgument
    } else if !state.grpc_streams.contains(&token) {
        Status::NotFound
    } else {
        if a.w(3) != 0 {
            state.grpc_streams.remove(&token);
        }
        Status::Ok
    };
    Ok(Ret::status(status, shown))
}

pub(super) fn grpc_end(caller: &mut Caller<'_, HostState>, a: &Args<'_>, what: &str) -> R {
    let token = a.w(0);
    let state = caller.data_mut();
    let status = match token & 3 {
        1 if state.grpc_calls.remove(&token) => Status::Ok,
        2 if state.grpc_streams.remove(&token) => Status::Ok,
        1 | 2 => Status::NotFound,
        _ => Status::BadArgument,
    };
    Ok(Ret::status(status, format!("{what} {token}")))
}
