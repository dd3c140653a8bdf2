//! Vectorscan (Hyperscan's portable fork) loaded at run time with
//! `libloading`: no link-time dependency, so the bench builds everywhere
//! and reports only rulegate's figures where `libhs.so.5` is missing.
//!
//! The signatures are those of `hs_compile.h`, `hs_runtime.h` and
//! `hs_common.h` (Vectorscan 5.4): `hs_error_t` is `int`, the handles are
//! opaque pointers, the match callback is
//! `int (*)(unsigned id, unsigned long long from, unsigned long long to,
//! unsigned flags, void *ctx)`.

// The only unsafe code of the benches: calls into a C library whose
// signatures are declared below. Every pointer passed is either one the
// library returned and that this module owns until its Drop, or a borrow
// of Rust memory that outlives the call.
#![allow(unsafe_code)]

use std::ffi::{c_char, c_int, c_uint, c_ulonglong, c_void, CStr, CString};
use std::ptr;

use libloading::{Library, Symbol};

pub const HS_FLAG_SOM_LEFTMOST: c_uint = 256;
const HS_MODE_BLOCK: c_uint = 1;
const HS_MODE_STREAM: c_uint = 2;
const HS_MODE_SOM_HORIZON_LARGE: c_uint = 1 << 24;
const HS_SUCCESS: c_int = 0;

#[repr(C)]
struct CompileError {
    message: *mut c_char,
    expression: c_int,
}

enum Database {}
enum Scratch {}
enum Stream {}

type MatchHandler =
    unsafe extern "C" fn(c_uint, c_ulonglong, c_ulonglong, c_uint, *mut c_void) -> c_int;

type CompileMulti = unsafe extern "C" fn(
    *const *const c_char,
    *const c_uint,
    *const c_uint,
    c_uint,
    c_uint,
    *const c_void,
    *mut *mut Database,
    *mut *mut CompileError,
) -> c_int;
type FreeCompileError = unsafe extern "C" fn(*mut CompileError) -> c_int;
type AllocScratch = unsafe extern "C" fn(*const Database, *mut *mut Scratch) -> c_int;
type FreeScratch = unsafe extern "C" fn(*mut Scratch) -> c_int;
type Scan = unsafe extern "C" fn(
    *const Database,
    *const c_char,
    c_uint,
    c_uint,
    *mut Scratch,
    Option<MatchHandler>,
    *mut c_void,
) -> c_int;
type OpenStream = unsafe extern "C" fn(*const Database, c_uint, *mut *mut Stream) -> c_int;
type ScanStream = unsafe extern "C" fn(
    *mut Stream,
    *const c_char,
    c_uint,
    c_uint,
    *mut Scratch,
    Option<MatchHandler>,
    *mut c_void,
) -> c_int;
type CloseStream =
    unsafe extern "C" fn(*mut Stream, *mut Scratch, Option<MatchHandler>, *mut c_void) -> c_int;
type FreeDatabase = unsafe extern "C" fn(*mut Database) -> c_int;
type SizeOf = unsafe extern "C" fn(*const Database, *mut usize) -> c_int;
type Version = unsafe extern "C" fn() -> *const c_char;

/// The loaded library and the functions the bench calls.
pub struct Hs {
    compile_multi: CompileMulti,
    free_compile_error: FreeCompileError,
    alloc_scratch: AllocScratch,
    free_scratch: FreeScratch,
    scan: Scan,
    open_stream: OpenStream,
    scan_stream: ScanStream,
    close_stream: CloseStream,
    free_database: FreeDatabase,
    stream_size: SizeOf,
    database_size: SizeOf,
    version: Version,
    // Keeps the function pointers above valid; dropped last.
    _library: Library,
}

impl Hs {
    /// Loads `libhs.so.5`, else `libhs.so`; `Err` names what was tried.
    pub fn load() -> Result<Hs, String> {
        let mut errors = Vec::new();
        for name in ["libhs.so.5", "libhs.so"] {
            // SAFETY: loading runs the library's initializers; Vectorscan's
            // only set up its dispatch tables.
            match unsafe { Library::new(name) } {
                Ok(library) => return Hs::bind(library).map_err(|err| format!("{name}: {err}")),
                Err(err) => errors.push(format!("{name}: {err}")),
            }
        }
        Err(errors.join("; "))
    }

    fn bind(library: Library) -> Result<Hs, libloading::Error> {
        fn get<T: Copy>(library: &Library, name: &[u8]) -> Result<T, libloading::Error> {
            // SAFETY: each `T` below is the C signature of the symbol of
            // that name (see the module docs); the pointer stays valid
            // while `library`, stored next to it in `Hs`, is loaded.
            let symbol: Symbol<'_, T> = unsafe { library.get(name)? };
            Ok(*symbol)
        }
        Ok(Hs {
            compile_multi: get(&library, b"hs_compile_multi\0")?,
            free_compile_error: get(&library, b"hs_free_compile_error\0")?,
            alloc_scratch: get(&library, b"hs_alloc_scratch\0")?,
            free_scratch: get(&library, b"hs_free_scratch\0")?,
            scan: get(&library, b"hs_scan\0")?,
            open_stream: get(&library, b"hs_open_stream\0")?,
            scan_stream: get(&library, b"hs_scan_stream\0")?,
            close_stream: get(&library, b"hs_close_stream\0")?,
            free_database: get(&library, b"hs_free_database\0")?,
            stream_size: get(&library, b"hs_stream_size\0")?,
            database_size: get(&library, b"hs_database_size\0")?,
            version: get(&library, b"hs_version\0")?,
            _library: library,
        })
    }

    pub fn version(&self) -> String {
        // SAFETY: hs_version returns a static NUL-terminated string.
        unsafe { CStr::from_ptr((self.version)()) }
            .to_string_lossy()
            .into_owned()
    }

    /// Compiles `patterns` (ids are their indexes) for block or streaming
    /// mode. On failure, the index of the expression at fault (if the
    /// library names one) and its message.
    pub fn compile<'hs>(
        &'hs self,
        patterns: &[String],
        flags: c_uint,
        streaming: bool,
    ) -> Result<Db<'hs>, (Option<usize>, String)> {
        let expressions: Vec<CString> = patterns
            .iter()
            .map(|p| CString::new(p.as_str()).expect("printed patterns hold no NUL"))
            .collect();
        let pointers: Vec<*const c_char> = expressions.iter().map(|e| e.as_ptr()).collect();
        let flag_list = vec![flags; patterns.len()];
        let ids: Vec<c_uint> = (0..patterns.len() as c_uint).collect();
        let mode = if streaming {
            HS_MODE_STREAM | HS_MODE_SOM_HORIZON_LARGE
        } else {
            HS_MODE_BLOCK
        };
        let mut db = ptr::null_mut();
        let mut error = ptr::null_mut();
        // SAFETY: the three arrays have `patterns.len()` elements and live
        // across the call; `db` and `error` are out-pointers.
        let status = unsafe {
            (self.compile_multi)(
                pointers.as_ptr(),
                flag_list.as_ptr(),
                ids.as_ptr(),
                patterns.len() as c_uint,
                mode,
                ptr::null(),
                &mut db,
                &mut error,
            )
        };
        if status == HS_SUCCESS {
            return Ok(Db { hs: self, db });
        }
        if error.is_null() {
            return Err((None, format!("hs_compile_multi returned {status}")));
        }
        // SAFETY: on failure `error` points to a compile error the caller
        // frees with hs_free_compile_error, once.
        unsafe {
            let message = CStr::from_ptr((*error).message)
                .to_string_lossy()
                .into_owned();
            let index = usize::try_from((*error).expression).ok();
            (self.free_compile_error)(error);
            Err((index, message))
        }
    }
}

/// A compiled database and a scratch space for it.
pub struct Db<'hs> {
    hs: &'hs Hs,
    db: *mut Database,
}

impl Drop for Db<'_> {
    fn drop(&mut self) {
        // SAFETY: `db` came from hs_compile_multi and is freed once.
        unsafe { (self.hs.free_database)(self.db) };
    }
}

unsafe extern "C" fn count_match(
    _id: c_uint,
    _from: c_ulonglong,
    _to: c_ulonglong,
    _flags: c_uint,
    context: *mut c_void,
) -> c_int {
    // SAFETY: every scan below passes a `&mut usize` as the context.
    unsafe { *(context as *mut usize) += 1 };
    0
}

impl<'hs> Db<'hs> {
    pub fn database_size(&self) -> usize {
        let mut size = 0;
        // SAFETY: a valid database and an out-pointer.
        unsafe { (self.hs.database_size)(self.db, &mut size) };
        size
    }

    /// Bytes of state per open stream (streaming databases only).
    pub fn stream_size(&self) -> usize {
        let mut size = 0;
        // SAFETY: a valid database and an out-pointer.
        unsafe { (self.hs.stream_size)(self.db, &mut size) };
        size
    }

    pub fn scratch(&self) -> ScratchSpace<'hs> {
        let mut scratch = ptr::null_mut();
        // SAFETY: a valid database; `scratch` is an out-pointer.
        let status = unsafe { (self.hs.alloc_scratch)(self.db, &mut scratch) };
        assert_eq!(status, HS_SUCCESS, "hs_alloc_scratch");
        ScratchSpace {
            hs: self.hs,
            scratch,
        }
    }

    /// Block scan: the number of matches Vectorscan reports (every match
    /// end of every pattern, not the masker's non-overlapping findings).
    pub fn scan(&self, scratch: &mut ScratchSpace<'_>, text: &[u8]) -> usize {
        let mut count = 0usize;
        // SAFETY: `text` is borrowed for the call, its length fits
        // (inputs are MiBs); the callback casts the context back to usize.
        let status = unsafe {
            (self.hs.scan)(
                self.db,
                text.as_ptr().cast(),
                text.len() as c_uint,
                0,
                scratch.scratch,
                Some(count_match),
                (&mut count as *mut usize).cast(),
            )
        };
        assert_eq!(status, HS_SUCCESS, "hs_scan");
        count
    }

    /// Streaming scan, `chunk` bytes per write; the match count.
    pub fn scan_stream(&self, scratch: &mut ScratchSpace<'_>, text: &[u8], chunk: usize) -> usize {
        let mut count = 0usize;
        let context: *mut c_void = (&mut count as *mut usize).cast();
        let mut stream = ptr::null_mut();
        // SAFETY: a streaming database; the stream is closed (and freed)
        // below, with the same scratch; `piece` outlives each call.
        unsafe {
            assert_eq!((self.hs.open_stream)(self.db, 0, &mut stream), HS_SUCCESS);
            for piece in text.chunks(chunk) {
                let status = (self.hs.scan_stream)(
                    stream,
                    piece.as_ptr().cast(),
                    piece.len() as c_uint,
                    0,
                    scratch.scratch,
                    Some(count_match),
                    context,
                );
                assert_eq!(status, HS_SUCCESS, "hs_scan_stream");
            }
            let status =
                (self.hs.close_stream)(stream, scratch.scratch, Some(count_match), context);
            assert_eq!(status, HS_SUCCESS, "hs_close_stream");
        }
        count
    }
}

/// Per-thread scratch space of one database.
pub struct ScratchSpace<'hs> {
    hs: &'hs Hs,
    scratch: *mut Scratch,
}

impl Drop for ScratchSpace<'_> {
    fn drop(&mut self) {
        // SAFETY: `scratch` came from hs_alloc_scratch and is freed once.
        unsafe { (self.hs.free_scratch)(self.scratch) };
    }
}
