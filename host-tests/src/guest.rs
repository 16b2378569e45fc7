//! Access to guest memory from host functions, with Envoy's bounds rules, and allocation through the guest's
//! exported allocator.

use wasmtime::Caller;

use crate::record::Direction;
use crate::state::{HostState, Restriction};

/// Bytes `[ptr, ptr + len)` of guest memory, or `None` when out of bounds (Envoy: `INVALID_MEMORY_ACCESS`).
pub(crate) fn read(caller: &Caller<'_, HostState>, ptr: u32, len: u32) -> Option<Vec<u8>> {
    let memory = caller.data().memory?;
    let data = memory.data(caller);
    let start = usize::try_from(ptr).ok()?;
    let end = start.checked_add(usize::try_from(len).ok()?)?;
    data.get(start..end).map(<[u8]>::to_vec)
}

/// Write `bytes` at `ptr`; false when out of bounds.
pub(crate) fn write(caller: &mut Caller<'_, HostState>, ptr: u32, bytes: &[u8]) -> bool {
    let Some(memory) = caller.data().memory else { return false };
    let data = memory.data_mut(caller);
    let Ok(start) = usize::try_from(ptr) else { return false };
    let Some(end) = start.checked_add(bytes.len()) else { return false };
    match data.get_mut(start..end) {
        Some(dst) => {
            dst.copy_from_slice(bytes);
            true
        }
        None => false,
    }
}

/// Write a little-endian u32 (a wasm32 pointer or size) at `ptr`.
pub(crate) fn write_u32(caller: &mut Caller<'_, HostState>, ptr: u32, value: u32) -> bool {
    write(caller, ptr, &value.to_le_bytes())
}

/// Write a little-endian u64 at `ptr`.
pub(crate) fn write_u64(caller: &mut Caller<'_, HostState>, ptr: u32, value: u64) -> bool {
    write(caller, ptr, &value.to_le_bytes())
}

/// Read a little-endian u32 at `ptr`.
pub(crate) fn read_u32(caller: &Caller<'_, HostState>, ptr: u32) -> Option<u32> {
    let b: [u8; 4] = read(caller, ptr, 4)?.try_into().ok()?;
    Some(u32::from_le_bytes(b))
}

/// Allocate `size` bytes with the guest's `malloc`/`proxy_on_memory_allocate`, as Envoy's `allocMemory`:
/// called on the VM context with calls restricted; `Ok(None)` when the allocator returned 0 or an address
/// whose range is outside memory. A trap inside the allocator is an `Err` that fails the whole callback.
pub(crate) fn alloc(caller: &mut Caller<'_, HostState>, size: u32) -> wasmtime::Result<Option<u32>> {
    let Some(malloc) = caller.data().malloc.clone() else { return Ok(None) };
    let state = caller.data_mut();
    let saved = (state.restriction, state.active, state.effective);
    state.restriction = Restriction::Malloc;
    state.active = 0;
    state.effective = None;
    let name = state.malloc_name;
    let index = state.record(Direction::HostToVm, 0, name, size.to_string(), String::new());
    // Wasm passes sizes as i32; the bit pattern is the u32 size.
    let result = malloc.call(&mut *caller, size as i32);
    let state = caller.data_mut();
    (state.restriction, state.active, state.effective) = saved;
    let address = result? as u32;
    caller.data_mut().set_result(index, address.to_string());
    if address == 0 || read(caller, address, size).is_none() {
        return Ok(None);
    }
    Ok(Some(address))
}

/// Envoy's `copyToPointerSize`: allocate and fill a guest buffer, then write its address and size to
/// `ptr_ptr`/`size_ptr` (an empty value is address 0, size 0). `Ok(false)` means `INVALID_MEMORY_ACCESS`.
pub(crate) fn copy_out(
    caller: &mut Caller<'_, HostState>,
    value: &[u8],
    ptr_ptr: u32,
    size_ptr: u32,
) -> wasmtime::Result<bool> {
    let Ok(size) = u32::try_from(value.len()) else { return Ok(false) };
    let mut address = 0;
    if size > 0 {
        let Some(a) = alloc(caller, size)? else { return Ok(false) };
        if !write(caller, a, value) {
            return Ok(false);
        }
        address = a;
    }
    Ok(write_u32(caller, ptr_ptr, address) && write_u32(caller, size_ptr, size))
}
