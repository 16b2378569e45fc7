//! Local responses and stream control: the `env.proxy_*` functions of this area of the ABI.

use super::*;

pub(super) fn send_local_response(caller: &mut Caller<'_, HostState>, a: &Args<'_>) -> R {
    let details = read(caller, a.w(1), a.w(2));
    let body = read(caller, a.w(3), a.w(4));
    let headers = read(caller, a.w(5), a.w(6));
    let (Some(details), Some(body), Some(headers)) = (details, body, headers) else {
        return imo(a.w(0).to_string());
    };
    let headers = pairs::decode(&headers);
    let grpc_status = a.w(7);
    let shown = format!(
        "{}, {}, {}, {}, grpc {}",
        a.w(0),
        quote(&details),
        quote(&body),
        quote_pairs(&headers),
        grpc_status as i32
    );
    let state = caller.data_mut();
    // Envoy sends the reply after the callback returns, and only from a stream (a root context has no decoder
    // callbacks); either way the filter's return value is overridden with "stop".
    if let Some(stream) = state.target_stream_mut() {
        let details: String =
            String::from_utf8_lossy(&details).chars().map(|c| if c.is_whitespace() { '_' } else { c }).collect();
        stream.local_replies.push(LocalReply { status: a.w(0), details, body, headers, grpc_status });
    }
    state.stop_iteration = true;
    Ok(Ret::status(Status::Ok, shown))
}

pub(super) fn continue_stream(caller: &mut Caller<'_, HostState>, a: &Args<'_>) -> R {
    let Some(ty) = StreamType::from_code(a.w(0)) else {
        return Ok(Ret::status(Status::BadArgument, a.w(0).to_string()));
    };
    let shown = format!("{ty:?}");
    let state = caller.data_mut();
    match ty {
        StreamType::Upstream => Ok(Ret::status(Status::Unimplemented, shown)),
        StreamType::Downstream => Ok(Ret::status(Status::Ok, shown)),
        StreamType::HttpRequest | StreamType::HttpResponse => {
            if let Some(stream) = state.target_stream_mut() {
                if ty == StreamType::HttpRequest {
                    stream.continue_requested = true;
                }
                // Envoy forgets the request maps when either direction continues.
                stream.request_live = false;
                stream.request_trailers_live = false;
            }
            Ok(Ret::status(Status::Ok, shown))
        }
    }
}

pub(super) fn close_stream(caller: &mut Caller<'_, HostState>, a: &Args<'_>) -> R {
    let Some(ty) = StreamType::from_code(a.w(0)) else {
        return Ok(Ret::status(Status::BadArgument, a.w(0).to_string()));
    };
    if matches!(ty, StreamType::HttpRequest | StreamType::HttpResponse) {
        if let Some(stream) = caller.data_mut().target_stream_mut() {
            stream.reset_requested = true;
        }
    }
    Ok(Ret::status(Status::Ok, format!("{ty:?}")))
}

pub(super) fn set_effective_context(caller: &mut Caller<'_, HostState>, a: &Args<'_>) -> R {
    let id = a.w(0);
    let state = caller.data_mut();
    if !state.context_exists(id) {
        return Ok(Ret::status(Status::BadArgument, id.to_string()));
    }
    state.effective = Some(id);
    Ok(Ret::status(Status::Ok, id.to_string()))
}

pub(super) fn done(caller: &mut Caller<'_, HostState>) -> R {
    let state = caller.data_mut();
    let target = state.target();
    if state.pending_done.remove(&target) {
        state.pending_delete.push(target);
        return Ok(Ret::status(Status::Ok, String::new()));
    }
    Ok(Ret::status(Status::NotFound, String::new()))
}

pub(super) fn call_foreign_function(caller: &mut Caller<'_, HostState>, a: &Args<'_>) -> R {
    let (Some(name), Some(_)) = (read(caller, a.w(0), a.w(1)), read(caller, a.w(2), a.w(3))) else {
        return imo(String::new());
    };
    // Envoy's foreign functions (compress, declare_property, ...) are not provided.
    Ok(Ret::status(Status::NotFound, quote(&name)))
}
