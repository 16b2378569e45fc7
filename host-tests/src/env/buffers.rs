//! Buffers: the `env.proxy_*` functions of this area of the ABI.

use super::*;

/// What `getBuffer` gives for a buffer type in the current context.
pub(super) enum Buffer {
    /// `nullptr`: `NOT_FOUND`.
    Missing,
    /// A read-only buffer; writes are `BAD_ARGUMENT`.
    Const(Vec<u8>),
    /// The response body of a local reply while `proxy_on_response_body` runs.
    ResponseBody,
}

pub(super) fn buffer(state: &HostState, ty: BufferType) -> Buffer {
    match ty {
        BufferType::VmConfiguration => Buffer::Const(state.vm_config.clone()),
        BufferType::PluginConfiguration => match &state.plugin_config {
            Some(c) => Buffer::Const(c.clone()),
            None => Buffer::Missing,
        },
        BufferType::HttpCallResponseBody => match &state.http_call_response {
            Some(answer) => Buffer::Const(answer.body.clone()),
            None => Buffer::Missing,
        },
        BufferType::HttpResponseBody if state.target_stream().is_some_and(|s| s.response_body_live) => {
            Buffer::ResponseBody
        }
        // Envoy points these at absent Envoy buffers, which read as empty.
        BufferType::HttpRequestBody
        | BufferType::HttpResponseBody
        | BufferType::DownstreamData
        | BufferType::UpstreamData
        | BufferType::GrpcReceiveBuffer
        | BufferType::CallData => Buffer::Const(Vec::new()),
    }
}

pub(super) fn buffer_bytes(state: &HostState, b: &Buffer) -> Vec<u8> {
    match b {
        Buffer::Missing => Vec::new(),
        Buffer::Const(v) => v.clone(),
        Buffer::ResponseBody => state.target_stream().map(|s| s.response_body.clone()).unwrap_or_default(),
    }
}

pub(super) fn get_buffer_status(caller: &mut Caller<'_, HostState>, a: &Args<'_>) -> R {
    let Some(ty) = BufferType::from_code(a.w(0)) else {
        return Ok(Ret::status(Status::BadArgument, format!("buffer {}", a.w(0))));
    };
    let shown = format!("{ty:?}");
    let state = caller.data();
    let b = buffer(state, ty);
    if matches!(b, Buffer::Missing) {
        return Ok(Ret::status(Status::NotFound, shown));
    }
    let len = u32::try_from(buffer_bytes(state, &b).len()).unwrap_or(u32::MAX);
    if !write_u32(caller, a.w(1), len) || !write_u32(caller, a.w(2), 0) {
        return imo(shown);
    }
    Ok(Ret::ok_with(shown, len.to_string()))
}

pub(super) fn get_buffer_bytes(caller: &mut Caller<'_, HostState>, a: &Args<'_>) -> R {
    let Some(ty) = BufferType::from_code(a.w(0)) else {
        return Ok(Ret::status(Status::BadArgument, format!("buffer {}", a.w(0))));
    };
    let (start, max) = (a.w(1), a.w(2));
    let shown = format!("{ty:?}, {start}, {max}");
    let state = caller.data();
    let b = buffer(state, ty);
    if matches!(b, Buffer::Missing) {
        return Ok(Ret::status(Status::NotFound, shown));
    }
    let bytes = buffer_bytes(state, &b);
    // Envoy clamps the range to the buffer; a range past the end reads as empty.
    let start = usize::try_from(start).unwrap_or(usize::MAX);
    let end = start.saturating_add(usize::try_from(max).unwrap_or(usize::MAX)).min(bytes.len());
    let slice = bytes.get(start..end).unwrap_or_default();
    if !copy_out(caller, slice, a.w(3), a.w(4))? {
        return imo(shown);
    }
    Ok(Ret::ok_with(shown, quote(slice)))
}

pub(super) fn set_buffer_bytes(caller: &mut Caller<'_, HostState>, a: &Args<'_>) -> R {
    let Some(ty) = BufferType::from_code(a.w(0)) else {
        return Ok(Ret::status(Status::BadArgument, format!("buffer {}", a.w(0))));
    };
    let (start, len) = (a.w(1), a.w(2));
    let b = buffer(caller.data(), ty);
    if matches!(b, Buffer::Missing) {
        return Ok(Ret::status(Status::NotFound, format!("{ty:?}, {start}, {len}")));
    }
    let Some(data) = read(caller, a.w(3), a.w(4)) else { return imo(format!("{ty:?}, {start}, {len}")) };
    let shown = format!("{ty:?}, {start}, {len}, {}", quote(&data));
    let Buffer::ResponseBody = b else { return Ok(Ret::status(Status::BadArgument, shown)) };
    let Some(stream) = caller.data_mut().target_stream_mut() else {
        return Ok(Ret::status(Status::BadArgument, shown));
    };
    let body = &mut stream.response_body;
    let current = u32::try_from(body.len()).unwrap_or(u32::MAX);
    // Envoy's `Buffer::copyFrom`: prepend, replace all, or append; anything else is refused.
    let status = if start == 0 && len == 0 {
        let mut v = data;
        v.extend_from_slice(body);
        *body = v;
        Status::Ok
    } else if start == 0 && len >= current {
        *body = data;
        Status::Ok
    } else if start >= current && start != 0 {
        body.extend_from_slice(&data);
        Status::Ok
    } else {
        Status::BadArgument
    };
    Ok(Ret::status(status, shown))
}
