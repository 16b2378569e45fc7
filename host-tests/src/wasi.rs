//! The WASI preview 1 functions Envoy links for modules built for `wasm32-wasip1`, with Envoy's behaviour:
//! stdout and stderr go to the log, clocks and randomness work, the file system and sockets do not exist.

use wasmtime::Caller;

use crate::abi::errno::{BADF, FAULT, INVAL, NOENT, NOSYS, NOTDIR, NOTSUP, SUCCESS};
use crate::abi::LogLevel;
use crate::env::{Args, Ret};
use crate::guest::{read, read_u32, write, write_u32, write_u64};
use crate::record::quote;
use crate::state::HostState;

/// Envoy refuses `random_get` requests larger than this (`PROXY_WASM_HOST_WASI_RANDOM_GET_MAX_SIZE_BYTES`).
const RANDOM_GET_MAX: u32 = 64 * 1024;

fn errno(code: u32, args: String) -> Ret {
    Ret { value: Some(code), args, result: format!("errno {code}") }
}

fn is_std(fd: u32) -> bool {
    fd == 1 || fd == 2
}

/// Run the WASI function `name`; `None` when it is not one Envoy links.
pub(crate) fn call(name: &str, caller: &mut Caller<'_, HostState>, a: &Args<'_>) -> Option<Ret> {
    let w = |i: usize| a.0.get(i).map_or(0, |v| *v as u32);
    let args = || a.0.iter().map(u64::to_string).collect::<Vec<_>>().join(", ");
    let std_only = |fd: u32| if is_std(fd) { SUCCESS } else { BADF };
    Some(match name {
        "fd_write" => return Some(fd_write(caller, w(0), w(1), w(2), w(3))),
        "fd_pwrite" if !is_std(w(0)) => errno(BADF, args()),
        "fd_pwrite" => return Some(fd_write(caller, w(0), w(1), w(2), w(4))),
        "fd_read" | "fd_pread" | "fd_prestat_dir_name" | "fd_fdstat_set_flags" => errno(NOSYS, args()),
        // Envoy logs these at trace level and reports success.
        "fd_seek" | "fd_close" | "fd_advise" | "sched_yield" | "args_get" => errno(SUCCESS, args()),
        "fd_fdstat_get" => {
            if !is_std(w(0)) {
                errno(BADF, args())
            } else {
                // Envoy zeroes the 24-byte fdstat except `fs_rights_base` = FD_WRITE, and ignores a bad pointer.
                let mut stat = [0u8; 24];
                if let Some(rights) = stat.get_mut(8..16) {
                    rights.copy_from_slice(&64u64.to_le_bytes());
                }
                write(caller, w(1), &stat);
                errno(SUCCESS, args())
            }
        }
        "fd_fdstat_set_rights"
        | "fd_allocate"
        | "fd_datasync"
        | "fd_filestat_set_size"
        | "fd_filestat_set_times"
        | "fd_sync" => errno(std_only(w(0)), args()),
        "fd_tell" if !is_std(w(0)) => errno(BADF, args()),
        "fd_tell" => errno(if write_u64(caller, w(1), 0) { SUCCESS } else { FAULT }, args()),
        "fd_readdir" => errno(if write_u32(caller, w(4), 0) { NOTDIR } else { FAULT }, args()),
        "fd_renumber" if is_std(w(0)) && is_std(w(1)) => errno(NOTSUP, args()),
        "fd_renumber" => errno(BADF, args()),
        "fd_prestat_get" | "fd_filestat_get" => errno(BADF, args()),
        "environ_get" => errno(SUCCESS, args()),
        "environ_sizes_get" | "args_sizes_get" => {
            let ok = write_u32(caller, w(0), 0) && write_u32(caller, w(1), 0);
            errno(if ok { SUCCESS } else { FAULT }, args())
        }
        "clock_time_get" | "clock_res_get" => {
            let state = caller.data();
            let (value, ptr) = match (name, w(0)) {
                ("clock_time_get", 0) => (state.now_nanos(), w(2)),
                ("clock_time_get", 1) => (state.monotonic_nanos(), w(2)),
                ("clock_res_get", 0 | 1) => (1, w(1)),
                _ => return Some(errno(NOTSUP, args())),
            };
            if write_u64(caller, ptr, value) {
                Ret { value: Some(SUCCESS), args: args(), result: format!("errno 0, {value}") }
            } else {
                errno(FAULT, args())
            }
        }
        "random_get" => {
            let (ptr, len) = (w(0), w(1));
            if len > RANDOM_GET_MAX {
                errno(INVAL, args())
            } else if len == 0 {
                errno(SUCCESS, args())
            } else {
                let bytes = caller.data_mut().random_bytes(usize::try_from(len).unwrap_or(0));
                errno(if write(caller, ptr, &bytes) { SUCCESS } else { FAULT }, args())
            }
        }
        "poll_oneoff" => errno(if write_u32(caller, w(3), 0) { SUCCESS } else { FAULT }, args()),
        "path_open" => errno(NOENT, args()),
        "path_readlink" => errno(if write_u32(caller, w(5), 0) { NOTSUP } else { FAULT }, args()),
        "sock_accept" => errno(if write_u64(caller, w(2), 0) { NOTSUP } else { FAULT }, args()),
        "sock_recv" => {
            let ok = write_u32(caller, w(4), 0) && write(caller, w(5), &[0, 0]);
            errno(if ok { NOTSUP } else { FAULT }, args())
        }
        "sock_send" => errno(if write_u32(caller, w(4), 0) { NOTSUP } else { FAULT }, args()),
        "path_create_directory"
        | "path_filestat_get"
        | "path_filestat_set_times"
        | "path_link"
        | "path_remove_directory"
        | "path_rename"
        | "path_symlink"
        | "path_unlink_file"
        | "sock_shutdown" => errno(NOTSUP, args()),
        // Envoy logs "wasi_unstable proc_exit" and returns to the guest.
        "proc_exit" => Ret { value: None, args: args(), result: String::new() },
        _ => return None,
    })
}

/// Envoy's `writevImpl`: stdout logs at info, stderr at error, one trailing newline dropped.
fn fd_write(caller: &mut Caller<'_, HostState>, fd: u32, iovs: u32, iovs_len: u32, nwritten_ptr: u32) -> Ret {
    let shown = format!("{fd}, {iovs}, {iovs_len}, {nwritten_ptr}");
    let level = match fd {
        1 => LogLevel::Info,
        2 => LogLevel::Error,
        _ => return errno(BADF, shown),
    };
    // Fail early (as Envoy eventually would) instead of walking billions of out-of-bounds iovecs.
    if read(caller, iovs, iovs_len.saturating_mul(8)).is_none() {
        return errno(FAULT, shown);
    }
    let mut text = Vec::new();
    for i in 0..iovs_len {
        let at = iovs.saturating_add(i.saturating_mul(8));
        let (Some(buf), Some(len)) = (read_u32(caller, at), read_u32(caller, at.saturating_add(4))) else {
            return errno(FAULT, shown);
        };
        if len != 0 {
            let Some(bytes) = read(caller, buf, len) else { return errno(FAULT, shown) };
            text.extend_from_slice(&bytes);
        }
    }
    let written = u32::try_from(text.len()).unwrap_or(u32::MAX);
    if !text.is_empty() {
        if text.last() == Some(&b'\n') {
            text.pop();
        }
        caller.data_mut().log(level, &text);
    }
    if !write_u32(caller, nwritten_ptr, written) {
        return errno(FAULT, shown);
    }
    Ret { value: Some(SUCCESS), args: format!("{fd}, {}", quote(&text)), result: format!("errno 0, {written}") }
}
