//! The import list of a wasm module, read from its binary import section. Envoy refuses a module that imports
//! anything it does not provide, so the filter must import `env.proxy_*` functions and nothing else.

use crate::error::{Error, Result};

/// One import: `module.name` and what kind of item it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Import {
    pub module: String,
    pub name: String,
    pub kind: ImportKind,
}

/// The kind of an imported item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportKind {
    Function,
    Table,
    Memory,
    Global,
    Tag,
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

fn malformed(what: &str) -> Error {
    Error::Wasm { what: what.to_owned() }
}

impl<'a> Reader<'a> {
    fn byte(&mut self) -> Result<u8> {
        let byte = *self.bytes.get(self.at).ok_or_else(|| malformed("unexpected end"))?;
        self.at += 1;
        Ok(byte)
    }

    fn take(&mut self, len: usize) -> Result<&'a [u8]> {
        let end = self.at.checked_add(len).ok_or_else(|| malformed("length overflows"))?;
        let slice = self.bytes.get(self.at..end).ok_or_else(|| malformed("unexpected end"))?;
        self.at = end;
        Ok(slice)
    }

    /// An unsigned LEB128 number of at most 64 bits.
    fn leb(&mut self) -> Result<u64> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = self.byte()?;
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(malformed("LEB128 number too long"))
    }

    fn len(&mut self) -> Result<usize> {
        usize::try_from(self.leb()?).map_err(|_| malformed("length too large"))
    }

    fn name(&mut self) -> Result<String> {
        let len = self.len()?;
        String::from_utf8(self.take(len)?.to_vec()).map_err(|_| malformed("name is not UTF-8"))
    }

    fn limits(&mut self) -> Result<()> {
        let flags = self.byte()?;
        self.leb()?;
        if flags & 1 == 1 {
            self.leb()?;
        }
        Ok(())
    }
}

/// Every import of the module in `bytes`, in order.
pub fn imports(bytes: &[u8]) -> Result<Vec<Import>> {
    let mut reader = Reader { bytes, at: 0 };
    if reader.take(8)? != b"\0asm\x01\0\0\0" {
        return Err(malformed("not a wasm 1.0 binary"));
    }
    while reader.at < bytes.len() {
        let id = reader.byte()?;
        let size = reader.len()?;
        let section = reader.take(size)?;
        if id != 2 {
            continue;
        }
        let mut section = Reader { bytes: section, at: 0 };
        let count = section.len()?;
        let mut imports = Vec::with_capacity(count.min(1024));
        for _ in 0..count {
            let module = section.name()?;
            let name = section.name()?;
            let kind = match section.byte()? {
                0 => {
                    section.leb()?;
                    ImportKind::Function
                }
                1 => {
                    section.byte()?;
                    section.limits()?;
                    ImportKind::Table
                }
                2 => {
                    section.limits()?;
                    ImportKind::Memory
                }
                3 => {
                    section.byte()?;
                    section.byte()?;
                    ImportKind::Global
                }
                4 => {
                    section.byte()?;
                    section.leb()?;
                    ImportKind::Tag
                }
                other => return Err(malformed(&format!("unknown import kind {other}"))),
            };
            imports.push(Import { module, name, kind });
        }
        return Ok(imports);
    }
    Ok(Vec::new())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_function_and_memory_imports() {
        // (import "env" "proxy_log" (func (type 0))) (import "js" "mem" (memory 1 2)) after a type section.
        let mut module = b"\0asm\x01\0\0\0".to_vec();
        module.extend_from_slice(&[1, 4, 1, 0x60, 0, 0]);
        let mut section = vec![2];
        section.extend_from_slice(&[3, b'e', b'n', b'v', 9]);
        section.extend_from_slice(b"proxy_log");
        section.extend_from_slice(&[0, 0, 2, b'j', b's', 3, b'm', b'e', b'm', 2, 1, 1, 2]);
        module.push(2);
        module.push(section.len() as u8);
        module.extend_from_slice(&section);
        let imports = imports(&module).unwrap();
        assert_eq!(
            imports,
            [
                Import { module: "env".into(), name: "proxy_log".into(), kind: ImportKind::Function },
                Import { module: "js".into(), name: "mem".into(), kind: ImportKind::Memory },
            ]
        );
    }

    #[test]
    fn refuses_other_files() {
        assert!(imports(b"not wasm at all").is_err());
        assert!(imports(b"\0asm\x01\0\0\0\x02\x05\x01").is_err());
    }
}
