//! The persistent cache of per-file results: what a frontend's per-file pass keeps of a file (its
//! summary for the project pass, its findings before anything is known to be hot, its
//! suppressions and warnings), so that a run over unchanged files skips parsing and traversal.
//! The project pass (roots, call graph, types across files) depends on every file: its result is
//! kept too, under a key over every file's summary [shape](analyze_files_shaped), and a run with
//! the same key takes it ([`Cache::load_result`]; `python/project/incremental.rs` says what the
//! key covers).
//!
//! Layout: `<cache dir>/<version>/<language>-<settings key>.pack` (and `.project`, the last
//! project result), with a `.gitignore` of `*` in the cache directory. `<version>` is graphlint's version and a hash of its sources taken at
//! build time (`build.rs`): a cache written by any other build is never read. The settings key
//! hashes what the per-file pass reads besides the file: the rule selection, whether suppressed
//! findings are kept, and the working directory (paths in warnings are shown relative to it).
//!
//! One pack per language and settings holds every file's entry, written whole (a temporary file,
//! then a rename) in a thread beside the project pass: one file per source file cost more to
//! write than the analysis saves. Concurrent runs each read a complete pack and the last rename
//! wins. A run that changed a few entries appends them instead (one `write` on the pack opened
//! for appending; the last entry of a path wins) until what appends replaced reaches a quarter
//! of the pack, when it is written whole again. An entry is the file's path, a hash of its bytes
//! (the key: a changed file misses), the file's [`Stamp`] when it was hashed, and its result with
//! a checksum; an entry that fails its checksum or does not decode is analysed again, and a
//! truncated pack loses only its tail.
//!
//! A warm run does not read an unchanged file: when its size, inode, modification time and
//! status-change time (`ctime`, to the nanosecond) are those stored, its bytes are taken to be
//! the hashed ones. `ctime` is what makes this safe where `mtime` alone is not: every write sets
//! it to the current time and no system call sets it back, so a file rewritten with its old size
//! and its `mtime` restored (`touch -d`, `os.utime`, some editors and archive tools) still
//! misses. A stamp is stored only when both times are over [`RACY_SECONDS`] older than the run
//! that stored it, so a file written again within one timestamp tick of being hashed cannot
//! keep its old stamp (git's "racy clean" rule). Any other difference, or a file that has a
//! text in the run's overlay, means reading and hashing it; an equal hash then reuses the entry.

use std::any::Any;
use std::borrow::Cow;
use std::io::{Read, Write};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use rayon::prelude::*;
use rustc_hash::FxHashMap;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::diagnostic::{Diagnostic, Heat, Location};
use crate::frontend::{Candidate, FileAnalysis, NOTE_PREFIX};
use crate::rule::{Rule, CODES};
use crate::settings::Settings;
use crate::source::{Language, SourceFile};
use crate::suppression::{Entry, Hit, Suppressed, Suppressions};

/// The cache directory's name, at the project root (see [`dir_for`]).
pub const DEFAULT_DIR: &str = ".graphlint_cache";

/// The cache directory of the project at `root` (spelled as it should be shown): the one
/// `$GRAPHLINT_CACHE_DIR` names when set, else [`DEFAULT_DIR`] at the root, where ruff keeps its
/// own: every run in the project, the hook's and the server's included, shares it.
pub fn dir_for(root: &Path) -> PathBuf {
    std::env::var_os("GRAPHLINT_CACHE_DIR").map_or_else(|| root.join(DEFAULT_DIR), PathBuf::from)
}

/// Which build wrote a cache: a pack from any other is ignored.
pub const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), "-", env!("GRAPHLINT_SOURCE_HASH"));

const MAGIC: &[u8; 16] = b"graphlint cache\n";

/// How much older than the run a file's times must be for its [`Stamp`] to be stored (2 s: the
/// coarsest timestamp granularity among common filesystems, FAT's).
pub const RACY_SECONDS: u64 = 2;

/// What `stat` tells of a file, to find it unchanged without reading it; all zeros: none.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct Stamp {
    len: u64,
    inode: u64,
    /// Nanoseconds since the epoch.
    modified: u64,
    changed: u64,
}

impl Stamp {
    const BYTES: usize = 32;

    #[cfg(unix)]
    fn of(metadata: &std::fs::Metadata) -> Option<Stamp> {
        use std::os::unix::fs::MetadataExt;
        let nanos =
            |secs: i64, nsecs: i64| u64::try_from(secs).ok()?.checked_mul(1_000_000_000)?.checked_add(nsecs as u64);
        Some(Stamp {
            len: metadata.size(),
            inode: metadata.ino(),
            modified: nanos(metadata.mtime(), metadata.mtime_nsec())?,
            changed: nanos(metadata.ctime(), metadata.ctime_nsec())?,
        })
    }

    /// Without a status-change time a restored `mtime` would go unseen: always hash.
    #[cfg(not(unix))]
    fn of(_: &std::fs::Metadata) -> Option<Stamp> {
        None
    }

    /// Whether the stamp may be stored by a run that started at `now` (nanoseconds since the
    /// epoch): both times are well in the past.
    fn settled(&self, now: u64) -> bool {
        let limit = now.saturating_sub(RACY_SECONDS * 1_000_000_000);
        *self != Stamp::default() && self.modified < limit && self.changed < limit
    }

    fn to_bytes(self) -> [u8; Stamp::BYTES] {
        let mut bytes = [0; Stamp::BYTES];
        for (i, field) in [self.len, self.inode, self.modified, self.changed].into_iter().enumerate() {
            bytes[i * 8..i * 8 + 8].copy_from_slice(&field.to_le_bytes());
        }
        bytes
    }

    fn from_bytes(bytes: &[u8]) -> Stamp {
        let field = |i: usize| u64::from_le_bytes(bytes[i * 8..i * 8 + 8].try_into().unwrap());
        Stamp { len: field(0), inode: field(1), modified: field(2), changed: field(3) }
    }
}

/// An open cache directory for one run.
pub struct Cache {
    /// The version's directory inside the cache directory.
    dir: PathBuf,
    /// Set once a warning was given: a run warns about its cache at most once.
    warned: AtomicBool,
    /// Warnings and notes for the run's stderr.
    messages: Mutex<Vec<String>>,
}

impl Cache {
    /// Opens (creating it if needed) the cache directory `root`; the error is the one warning
    /// the run gives before going on without a cache.
    pub fn open(root: &Path) -> Result<Cache, String> {
        let dir = root.join(VERSION);
        let fail = |what: &str, err: std::io::Error| {
            format!(
                "cannot use the cache directory `{}` ({what}: {}); running without a cache",
                crate::paths::display_path(root),
                crate::paths::io_reason(&err)
            )
        };
        std::fs::create_dir_all(&dir).map_err(|e| fail("cannot create it", e))?;
        let gitignore = root.join(".gitignore");
        if !gitignore.exists() {
            write_atomically(root, &gitignore, b"# Created by graphlint: the whole cache is ignored.\n*\n")
                .map_err(|e| fail("cannot write in it", e))?;
        }
        Ok(Cache { dir, warned: AtomicBool::new(false), messages: Mutex::default() })
    }

    /// The warnings and notes ([`NOTE_PREFIX`]) the cache gave during the run.
    pub fn into_messages(self) -> Vec<String> {
        self.messages.into_inner().unwrap_or_default()
    }

    fn warn_once(&self, warning: String) {
        if !self.warned.swap(true, Ordering::Relaxed) {
            self.messages.lock().unwrap().push(format!("{warning}; running without a cache"));
        }
    }

    fn note(&self, note: String) {
        self.messages.lock().unwrap().push(format!("{NOTE_PREFIX}{note}"));
    }

    /// The pack of `language`'s files checked with `settings`.
    fn pack_path(&self, language: Language, settings: &Settings) -> PathBuf {
        let mut key = xxhash_rust::xxh3::Xxh3::new();
        // The selection's debug text names every rule's state; the version pins its format.
        key.update(format!("{:?}", settings.selection).as_bytes());
        key.update(&[settings.keep_suppressed as u8]);
        if let Some(cwd) = crate::paths::current_dir() {
            key.update(cwd.as_os_str().as_encoded_bytes());
        }
        self.dir.join(format!("{}-{:016x}.pack", language.name(), key.digest()))
    }
}

/// The results of project passes this process computed or read, newest last (a server analyses
/// its project again on every edit): each under the key that names all it depends on.
static RECENT_RESULTS: Mutex<Vec<(u128, Arc<dyn Any + Send + Sync>)>> = Mutex::new(Vec::new());

/// How many project results a process keeps in memory (one per project a server has open).
const RECENT_RESULTS_KEPT: usize = 4;

fn remember(key: u128, value: Arc<dyn Any + Send + Sync>) {
    let mut recent = RECENT_RESULTS.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    recent.retain(|(old, _)| *old != key);
    if recent.len() == RECENT_RESULTS_KEPT {
        recent.remove(0);
    }
    recent.push((key, value));
}

fn recall(key: u128) -> Option<Arc<dyn Any + Send + Sync>> {
    let recent = RECENT_RESULTS.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    recent.iter().find(|(old, _)| *old == key).map(|(_, value)| value.clone())
}

impl Cache {
    /// The result of `language`'s project pass stored under `key`, from this process's memory or
    /// else from the cache directory; `None` when there is none for that key, or it fails its
    /// checksum or does not decode (the caller runs the pass and stores it again). The key must
    /// hash everything the pass reads: the frontend's summaries, the settings it uses, the paths.
    pub fn load_result<T: DeserializeOwned + Send + Sync + 'static>(
        &self,
        language: Language,
        settings: &Settings,
        key: u128,
    ) -> Option<Arc<T>> {
        if let Some(value) = recall(key).and_then(|value| value.downcast::<T>().ok()) {
            self.note(format!("cache: {} project result reused from memory", language.name()));
            return Some(value);
        }
        let path = self.result_path(language, settings);
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return None,
            Err(err) => {
                let reason = crate::paths::io_reason(&err);
                self.warn_once(format!("cannot read the cache `{}`: {reason}", path.display()));
                return None;
            }
        };
        let value: T = postcard::from_bytes(result_payload(&bytes, key)?).ok()?;
        let value = Arc::new(value);
        remember(key, value.clone());
        self.note(format!("cache: {} project result reused", language.name()));
        Some(value)
    }

    /// Keeps `value`, the result of `language`'s project pass, under `key`: in memory, and in the
    /// cache directory in place of the result stored before.
    pub fn store_result<T: Serialize + Send + Sync + 'static>(
        &self,
        language: Language,
        settings: &Settings,
        key: u128,
        value: Arc<T>,
    ) {
        remember(key, value.clone());
        let mut file = Vec::with_capacity(1 << 16);
        file.extend_from_slice(MAGIC);
        file.extend_from_slice(&(VERSION.len() as u32).to_le_bytes());
        file.extend_from_slice(VERSION.as_bytes());
        file.extend_from_slice(&key.to_le_bytes());
        let sizes = file.len();
        file.extend_from_slice(&[0; 8]);
        let Ok(mut file) = serialize_onto(&*value, file) else { return };
        let checksum = xxhash_rust::xxh3::xxh3_64(&file[sizes + 8..]);
        file[sizes..sizes + 8].copy_from_slice(&checksum.to_le_bytes());
        let path = self.result_path(language, settings);
        if let Err(err) = write_atomically(&self.dir, &path, &file) {
            let reason = crate::paths::io_reason(&err);
            self.warn_once(format!("cannot write the cache `{}`: {reason}", path.display()));
        }
    }

    /// Where `language`'s last project result with `settings` is kept (one file: a project keeps
    /// only its latest).
    fn result_path(&self, language: Language, settings: &Settings) -> PathBuf {
        self.pack_path(language, settings).with_extension("project")
    }
}

/// The payload of a stored project result, if `file` is one of this version's, for `key`, and
/// whole: `magic | version length (u32) | version | key (u128) | checksum (u64) | payload`.
fn result_payload(file: &[u8], key: u128) -> Option<&[u8]> {
    let rest = file.strip_prefix(MAGIC)?;
    let rest = rest.strip_prefix(&(VERSION.len() as u32).to_le_bytes()[..])?;
    let rest = rest.strip_prefix(VERSION.as_bytes())?;
    let rest = rest.strip_prefix(&key.to_le_bytes()[..])?;
    let (checksum, payload) = rest.split_first_chunk::<8>()?;
    (xxhash_rust::xxh3::xxh3_64(payload) == u64::from_le_bytes(*checksum)).then_some(payload)
}

/// A summary type the cache can store.
pub trait Summary: Serialize + DeserializeOwned + Default + Send {}
impl<S: Serialize + DeserializeOwned + Default + Send> Summary for S {}

/// Where a frontend's summaries keep positions that their *shape* (what the project pass reads
/// of them, see [`Cache::load_result`]) leaves out. An entry stores the summary in its shape form,
/// then the positions: the shape is the hash of bytes the entry is written from anyway, not of a
/// second serialization of each summary.
pub trait Positions<S>: Sync {
    /// Appends `summary`'s positions to `taken` and puts in their place what stands for them in
    /// its shape.
    fn take(&self, summary: &mut S, taken: &mut Vec<u32>);
    /// Puts back into `summary`, in its shape form, the positions [`Positions::take`] took from
    /// it; `None` when they do not fit it.
    fn put(&self, summary: &mut S, taken: &[u32]) -> Option<()>;
}

/// Summaries with no positions set apart (their frontend keeps no project result).
struct NoPositions;

impl<S> Positions<S> for NoPositions {
    fn take(&self, _: &mut S, _: &mut Vec<u32>) {}

    fn put(&self, _: &mut S, taken: &[u32]) -> Option<()> {
        taken.is_empty().then_some(())
    }
}

/// The shape of a summary that could not be serialized: a run with one reuses nothing.
pub const NO_SHAPE: u128 = 0;

/// Appends `summary` in its shape form, then its positions, to `bytes`; with the shape (the hash
/// of the shape form's bytes). `summary` is as it was on return.
fn extend_shaped<S: Summary>(
    summary: &mut S,
    positions: &impl Positions<S>,
    bytes: Vec<u8>,
) -> (Option<Vec<u8>>, u128) {
    let start = bytes.len();
    let mut taken = Vec::new();
    positions.take(summary, &mut taken);
    let bytes = serialize_onto(&*summary, bytes);
    let restored = positions.put(summary, &taken);
    debug_assert!(restored.is_some(), "positions put back where they were taken");
    let Ok(bytes) = bytes else { return (None, NO_SHAPE) };
    let shape = xxhash_rust::xxh3::xxh3_128(&bytes[start..]);
    (serialize_onto(&taken, bytes).ok(), shape)
}

/// A source file's bytes: its unsaved text when the run's overlay has one, else the disk's.
fn read_source(settings: &Settings, path: &Path) -> std::io::Result<Vec<u8>> {
    crate::source::Overlay::read(settings.overlay.as_deref(), path).map(std::borrow::Cow::into_owned)
}

/// A file's bytes, and its stamp as of before they were read (none for an unsaved text). With no
/// entry to compare it with, the stamp comes from the opened file: a `stat` of its path first
/// would look the path up twice.
fn read_stamped(settings: &Settings, path: &Path, unsaved: bool) -> (std::io::Result<Vec<u8>>, Option<Stamp>) {
    if unsaved {
        return (read_source(settings, path), None);
    }
    let mut file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(err) => return (Err(err), None),
    };
    let metadata = file.metadata().ok();
    let mut bytes = Vec::with_capacity(metadata.as_ref().map_or(0, |m| m.len() as usize));
    (file.read_to_end(&mut bytes).map(|_| bytes), metadata.as_ref().and_then(Stamp::of))
}

/// Runs the per-file pass over `files`: `analyze` a file from its bytes (as read once, so that
/// what is stored is what was hashed), or take its result from `cache`. `rules` are the
/// frontend's (the meta rules are added). The returned [`PackWrite`] stores the new results.
pub fn analyze_files<'c, S: Summary>(
    cache: Option<&'c Cache>,
    language: Language,
    rules: &[&'static Rule],
    settings: &Settings,
    files: &[SourceFile],
    analyze: impl Fn(&Path, std::io::Result<Vec<u8>>) -> FileAnalysis<S> + Sync,
) -> (Vec<FileAnalysis<S>>, PackWrite<'c>) {
    let (analyses, _, pack) = analyze_files_shaped(cache, language, rules, settings, files, analyze, &NoPositions);
    (analyses, pack)
}

/// [`analyze_files`], also giving each file's summary's shape (a hash of what the project pass
/// reads of it, see [`Cache::load_result`]: its serialization with `positions` set apart), as
/// stored beside its entry; none without a cache.
pub fn analyze_files_shaped<'c, S: Summary>(
    cache: Option<&'c Cache>,
    language: Language,
    rules: &[&'static Rule],
    settings: &Settings,
    files: &[SourceFile],
    analyze: impl Fn(&Path, std::io::Result<Vec<u8>>) -> FileAnalysis<S> + Sync,
    positions: &impl Positions<S>,
) -> (Vec<FileAnalysis<S>>, Vec<u128>, PackWrite<'c>) {
    let Some(cache) = cache.filter(|_| !files.is_empty()) else {
        let analyses = files.par_iter().map(|file| analyze(&file.path, read_source(settings, &file.path))).collect();
        return (analyses, Vec::new(), PackWrite { job: None });
    };
    let path = cache.pack_path(language, settings);
    let old = match std::fs::read(&path) {
        Ok(bytes) => bytes,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(err) => {
            cache.warn_once(format!("cannot read the cache `{}`: {}", path.display(), crate::paths::io_reason(&err)));
            return analyze_files_shaped(None, language, rules, settings, files, analyze, positions);
        }
    };
    let index = Index::read(&old);
    let unsaved = |file: &SourceFile| settings.overlay.as_deref().is_some_and(|overlay| overlay.contains(&file.path));
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
    let results: Vec<(FileAnalysis<S>, Stored, u128)> = files
        .par_iter()
        .map(|file| {
            let key = path_key(&file.path);
            let entry = index.entries.get(key);
            // Stamps are taken before the bytes are read: a write after it changes `ctime`, so
            // the next run does not trust this stamp.
            let (bytes, stamp) = match entry {
                Some(entry) if !unsaved(file) => {
                    let stamp = std::fs::metadata(&file.path).ok().and_then(|m| Stamp::of(&m));
                    if stamp.filter(|stamp| stamp.settled(now)) == Some(entry.stamp) {
                        if let Some(analysis) = entry.decode(&old, &file.path, rules, positions) {
                            let stored = Stored::Reused { entry: entry.bytes.clone(), unread: true };
                            return (analysis, stored, entry.shape);
                        }
                    }
                    (read_source(settings, &file.path), stamp)
                }
                _ => read_stamped(settings, &file.path, unsaved(file)),
            };
            let bytes = match bytes {
                Ok(bytes) => bytes,
                Err(err) => {
                    let mut analysis = analyze(&file.path, Err(err));
                    let (_, shape) = extend_shaped(&mut analysis.summary, positions, Vec::new());
                    return (analysis, Stored::Nothing, shape);
                }
            };
            let hash = xxhash_rust::xxh3::xxh3_128(&bytes);
            let stamp = stamp.filter(|stamp| stamp.settled(now)).unwrap_or_default();
            if let Some(entry) = entry.filter(|entry| entry.content == hash) {
                if let Some(analysis) = entry.decode(&old, &file.path, rules, positions) {
                    let stored = if stamp == Stamp::default() || stamp == entry.stamp {
                        Stored::Reused { entry: entry.bytes.clone(), unread: false }
                    } else {
                        Stored::Restamped { entry: entry.bytes.clone(), at: entry.stamp_at, stamp }
                    };
                    return (analysis, stored, entry.shape);
                }
            }
            // Payloads ran at 0.38 of the source's size on vllm (median; 0.70 at the 90th
            // percentile; a quarter, reserved before, was short for 2,200 of its 3,231 files):
            // reserved up front, the entry is serialized in place without growing (and copying)
            // its buffer. What is not written is never touched.
            let capacity = bytes.len() * 3 / 4 + 256;
            let mut analysis = analyze(&file.path, Ok(bytes));
            let (entry, shape) = encode(&mut analysis, positions, key, hash, stamp, capacity);
            (analysis, entry.map_or(Stored::Nothing, Stored::New), shape)
        })
        .collect();
    let mut analyses = Vec::with_capacity(files.len());
    let mut stored = Vec::with_capacity(files.len());
    let mut shapes = Vec::with_capacity(files.len());
    for (analysis, entry, shape) in results {
        analyses.push(analysis);
        stored.push(entry);
        shapes.push(shape);
    }
    let reused = stored.iter().filter(|stored| !matches!(stored, Stored::New(_) | Stored::Nothing)).count();
    let unread = stored.iter().filter(|stored| matches!(stored, Stored::Reused { unread: true, .. })).count();
    cache.note(format!("cache: {reused} of {} {} files reused ({unread} not read)", files.len(), language.name()));
    // Rewrite the pack when an entry is new, or stale with nothing to replace it, or the pack
    // was damaged; entries of files outside this run alone do not make it worth a write, nor
    // do unsaved texts (the server's every edit would rewrite the whole pack).
    let rewrite = index.damaged
        || files.iter().zip(&stored).any(|(file, stored)| match stored {
            Stored::Reused { .. } => false,
            Stored::New(_) => !unsaved(file),
            Stored::Restamped { .. } => true,
            Stored::Nothing => index.entries.contains_key(path_key(&file.path)),
        });
    if !rewrite {
        return (analyses, shapes, PackWrite { job: None });
    }
    // A few new or restamped entries are appended to the pack as it is, rather than the whole
    // pack written again (17 MB on vllm, for the hook's one changed file), while what they and
    // earlier appends replace stays under a quarter of the pack; past that, or when an entry
    // is dropped, the pack is written whole, which compacts it.
    let appended: usize =
        stored.iter().filter(|s| matches!(s, Stored::New(_) | Stored::Restamped { .. })).map(Stored::len).sum();
    let drops_an_entry = files
        .iter()
        .zip(&stored)
        .any(|(file, stored)| matches!(stored, Stored::Nothing) && index.entries.contains_key(path_key(&file.path)));
    let append = !index.damaged && !old.is_empty() && !drops_an_entry && (index.superseded + appended) * 4 <= old.len();
    // Entries of files this run did not check stay while the file exists (a run over part of
    // the project keeps the rest's).
    let checked: rustc_hash::FxHashSet<&[u8]> = files.iter().map(|file| path_key(&file.path)).collect();
    let others = index
        .entries
        .iter()
        .filter(|(path, _)| !checked.contains(*path))
        .map(|(path, entry)| (String::from_utf8_lossy(path).into_owned(), entry.bytes.clone()))
        .collect();
    (analyses, shapes, PackWrite { job: Some(WriteJob { cache, path, old, stored, others, append }) })
}

/// A file's key in a pack: its path as discovered (findings and warnings show that spelling).
fn path_key(path: &Path) -> &[u8] {
    path.as_os_str().as_encoded_bytes()
}

/// Where a file's entry in the next pack comes from.
enum Stored {
    /// The old pack's bytes at this range, unchanged; `unread`: the file's stamp matched, so
    /// its bytes were not read.
    Reused {
        entry: Range<usize>,
        unread: bool,
    },
    /// The old pack's entry at `entry`, whose stamp (at `at`) is replaced: the file was hashed
    /// and found unchanged.
    Restamped {
        entry: Range<usize>,
        at: usize,
        stamp: Stamp,
    },
    New(Vec<u8>),
    /// Not stored: unreadable, or its analysis failed.
    Nothing,
}

impl Stored {
    /// The entry's length in the next pack.
    fn len(&self) -> usize {
        match self {
            Stored::Reused { entry, .. } | Stored::Restamped { entry, .. } => entry.len(),
            Stored::New(bytes) => bytes.len(),
            Stored::Nothing => 0,
        }
    }
}

/// The pack to write once the per-file pass is done.
pub struct PackWrite<'c> {
    job: Option<WriteJob<'c>>,
}

struct WriteJob<'c> {
    cache: &'c Cache,
    path: PathBuf,
    old: Vec<u8>,
    stored: Vec<Stored>,
    /// Entries of the old pack (path, range) of files not checked in this run.
    others: Vec<(String, Range<usize>)>,
    /// Append the new and restamped entries to the old pack instead of writing it whole.
    append: bool,
}

impl PackWrite<'_> {
    /// Runs `work` (the project pass) while the pack is written in a second thread.
    pub fn during<R>(self, work: impl FnOnce() -> R) -> R {
        let Some(job) = self.job else { return work() };
        std::thread::scope(|scope| {
            scope.spawn(move || job.write());
            work()
        })
    }
}

impl WriteJob<'_> {
    fn write(self) {
        if self.append && self.append_entries().is_ok() {
            return;
        }
        self.write_whole();
    }

    /// Appends the new and restamped entries in one `write` to the pack opened for appending,
    /// so that concurrent appends do not interleave; a reader that sees a partial last entry
    /// drops it (see [`Index::read`]), and a run that renames a whole pack in place meanwhile
    /// only loses these entries (a later run analyses those files again).
    fn append_entries(&self) -> std::io::Result<()> {
        let mut tail = Vec::new();
        for stored in &self.stored {
            if matches!(stored, Stored::Restamped { .. } | Stored::New(_)) {
                self.push_entry(stored, &mut tail);
            }
        }
        let mut pack = std::fs::OpenOptions::new().append(true).open(&self.path)?;
        pack.write_all(&tail)
    }

    /// The bytes of `stored`'s entry in the next pack, pushed onto `pack`.
    fn push_entry(&self, stored: &Stored, pack: &mut Vec<u8>) {
        match stored {
            Stored::Reused { entry, .. } => pack.extend_from_slice(&self.old[entry.clone()]),
            Stored::Restamped { entry, at, stamp } => {
                pack.extend_from_slice(&self.old[entry.start..*at]);
                pack.extend_from_slice(&stamp.to_bytes());
                pack.extend_from_slice(&self.old[at + Stamp::BYTES..entry.end]);
            }
            Stored::New(bytes) => pack.extend_from_slice(bytes),
            Stored::Nothing => {}
        }
    }

    fn write_whole(self) {
        // Sized up front: a cold run's pack grew by doubling from 64 KB, copying it over and
        // over (about twice its 17 MB on vllm).
        let entries: usize = self.stored.iter().map(Stored::len).sum();
        let others: usize = self.others.iter().map(|(_, range)| range.len()).sum();
        let mut pack = Vec::with_capacity(MAGIC.len() + 4 + VERSION.len() + entries + others);
        pack.extend_from_slice(MAGIC);
        pack.extend_from_slice(&(VERSION.len() as u32).to_le_bytes());
        pack.extend_from_slice(VERSION.as_bytes());
        for stored in &self.stored {
            self.push_entry(stored, &mut pack);
        }
        for (path, range) in &self.others {
            if Path::new(path).exists() {
                pack.extend_from_slice(&self.old[range.clone()]);
            }
        }
        let dir = self.path.parent().unwrap_or(Path::new("."));
        if let Err(err) = write_atomically(dir, &self.path, &pack) {
            let reason = crate::paths::io_reason(&err);
            self.cache.warn_once(format!("cannot write the cache `{}`: {reason}", self.path.display()));
        }
    }
}

/// Writes `bytes` to `path` through a temporary file in `dir` and a rename, so that a reader
/// never sees a partial file.
fn write_atomically(dir: &Path, path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut file = tempfile::NamedTempFile::new_in(dir)?;
    file.write_all(bytes)?;
    file.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// An entry: `path length (u32) | path | content hash (u128) | shape of the summary (u128) |
/// stamp (4 u64) | payload length (u32) | checksum of the payload (u64) | payload`, integers
/// little-endian; the payload is the summary in its shape form, its positions, and the rest of
/// the analysis ([`StoredRest`]). (The shape is outside the payload's checksum: the project
/// result it keys holds its own, and a wrong shape only misses that result.)
const ENTRY_FIXED_BYTES: usize = 4 + 16 + 16 + Stamp::BYTES + 4 + 8;

/// The entries of a pack, by path; nothing when the pack is from another version.
struct Index<'p> {
    entries: FxHashMap<&'p [u8], IndexEntry>,
    /// The pack was cut short or is not one: rewrite it.
    damaged: bool,
    /// Bytes of entries that a later entry of the same path replaced.
    superseded: usize,
}

struct IndexEntry {
    content: u128,
    shape: u128,
    stamp: Stamp,
    /// Where the stamp is in the pack.
    stamp_at: usize,
    checksum: u64,
    payload: Range<usize>,
    /// The whole entry.
    bytes: Range<usize>,
}

impl<'p> Index<'p> {
    fn read(pack: &'p [u8]) -> Self {
        let mut index = Index { entries: FxHashMap::default(), damaged: false, superseded: 0 };
        let header = MAGIC.len() + 4 + VERSION.len();
        let version_ok = pack.len() >= header
            && pack.starts_with(MAGIC)
            && pack[MAGIC.len()..MAGIC.len() + 4] == (VERSION.len() as u32).to_le_bytes()
            && &pack[MAGIC.len() + 4..header] == VERSION.as_bytes();
        if !version_ok {
            index.damaged = !pack.is_empty();
            return index;
        }
        let mut at = header;
        while at < pack.len() {
            let Some(((path, entry), next)) = Index::read_entry(pack, at) else {
                index.damaged = true;
                break;
            };
            // An entry appended later replaces an earlier one of the same path.
            if let Some(replaced) = index.entries.insert(path, entry) {
                index.superseded += replaced.bytes.len();
            }
            at = next;
        }
        index
    }

    /// The entry at `at` (with its path) and where the next starts; `None` if it is cut short.
    fn read_entry(pack: &'p [u8], at: usize) -> Option<((&'p [u8], IndexEntry), usize)> {
        let mut cursor = at;
        let mut take = |n: usize| -> Option<Range<usize>> {
            let range = cursor..cursor.checked_add(n)?;
            pack.get(range.clone())?;
            cursor = range.end;
            Some(range)
        };
        let u32_at = |r: Range<usize>| u32::from_le_bytes(pack[r].try_into().unwrap()) as usize;
        let path_len = u32_at(take(4)?);
        let path = take(path_len)?;
        let content = u128::from_le_bytes(pack[take(16)?].try_into().unwrap());
        let shape = u128::from_le_bytes(pack[take(16)?].try_into().unwrap());
        let stamp_range = take(Stamp::BYTES)?;
        let stamp = Stamp::from_bytes(&pack[stamp_range.clone()]);
        let payload_len = u32_at(take(4)?);
        let checksum = u64::from_le_bytes(pack[take(8)?].try_into().unwrap());
        let payload = take(payload_len)?;
        let entry =
            IndexEntry { content, shape, stamp, stamp_at: stamp_range.start, checksum, payload, bytes: at..cursor };
        Some(((&pack[path], entry), cursor))
    }
}

impl IndexEntry {
    /// The stored analysis of the file at `path`; `None` if the payload fails its checksum or
    /// does not decode.
    fn decode<S: Summary>(
        &self,
        pack: &[u8],
        path: &Path,
        rules: &[&'static Rule],
        positions: &impl Positions<S>,
    ) -> Option<FileAnalysis<S>> {
        let payload = &pack[self.payload.clone()];
        if xxhash_rust::xxh3::xxh3_64(payload) != self.checksum {
            return None;
        }
        let (mut summary, taken, rest): (S, Vec<u32>, StoredRest) = postcard::from_bytes(payload).ok()?;
        positions.put(&mut summary, &taken)?;
        let rule = |code: &str| rules.iter().chain(crate::meta::RULES).copied().find(|rule| rule.code == code);
        let diagnostic = |d: StoredDiagnostic| -> Option<Diagnostic> {
            Some(Diagnostic {
                rule: rule(&d.code)?,
                message: d.message.into_owned(),
                help: d.help.map(Cow::into_owned),
                file: path.to_path_buf(),
                range: d.range.0..d.range.1,
                start: Location { row: d.start.0, column: d.start.1 },
                end: Location { row: d.end.0, column: d.end.1 },
                hot_path: Vec::new(),
                heat: if d.file_level { Heat::File } else { Heat::Cold },
                suppressed: d.suppressed.map(Cow::into_owned),
            })
        };
        let candidates = rest
            .candidates
            .into_iter()
            .map(|(d, func, region)| Some(Candidate { diagnostic: diagnostic(d)?, func, region }))
            .collect::<Option<_>>()?;
        let file_diagnostics = rest.file_diagnostics.into_iter().map(diagnostic).collect::<Option<_>>()?;
        let suppressions = match rest.suppressions {
            None => None,
            Some((entries, hits)) => {
                let hits = hits
                    .into_iter()
                    .map(|(entry, selector, code)| {
                        let code = CODES.iter().copied().find(|c| *c == code)?;
                        Some(Hit { entry: entry as usize, selector: selector as usize, code })
                    })
                    .collect::<Option<_>>()?;
                Some(Suppressions::restore(entries.into_owned(), hits))
            }
        };
        Some(FileAnalysis {
            path: path.to_path_buf(),
            summary,
            candidates,
            file_diagnostics,
            warnings: rest.warnings.into_owned(),
            internal_error: false,
            suppressions,
        })
    }
}

/// A finding of the per-file pass as stored: its rule by code, its file implied by the entry.
/// (`Cow`s: one type stores borrowed text and reads back owned text.)
#[derive(Serialize, Deserialize)]
struct StoredDiagnostic<'a> {
    code: Cow<'a, str>,
    message: Cow<'a, str>,
    help: Option<Cow<'a, str>>,
    range: (usize, usize),
    start: (u32, u32),
    end: (u32, u32),
    /// [`Heat::File`]; else [`Heat::Cold`], the only other heat before the project pass.
    file_level: bool,
    suppressed: Option<Cow<'a, Suppressed>>,
}

/// Everything of a [`FileAnalysis`] but its path and summary.
#[derive(Serialize, Deserialize)]
struct StoredRest<'a> {
    candidates: Vec<(StoredDiagnostic<'a>, u32, Option<u32>)>,
    file_diagnostics: Vec<StoredDiagnostic<'a>>,
    warnings: Cow<'a, [String]>,
    /// The entries and the recorded matches (entry, selector, code).
    #[allow(clippy::type_complexity)]
    suppressions: Option<(Cow<'a, [Entry]>, Vec<(u32, u32, Cow<'a, str>)>)>,
}

/// The entry of `analysis` (of a file at `path` whose bytes hash to `content`), and its summary's
/// shape; no entry for what must not be stored: an analysis that failed, or one unlike what the
/// per-file pass gives (a finding already hot, or in another file).
fn encode<S: Summary>(
    analysis: &mut FileAnalysis<S>,
    positions: &impl Positions<S>,
    path: &[u8],
    content: u128,
    stamp: Stamp,
    capacity: usize,
) -> (Option<Vec<u8>>, u128) {
    let mut entry = Vec::with_capacity(ENTRY_FIXED_BYTES + path.len() + capacity);
    entry.extend_from_slice(&(path.len() as u32).to_le_bytes());
    entry.extend_from_slice(path);
    entry.extend_from_slice(&content.to_le_bytes());
    let shape_at = entry.len();
    entry.extend_from_slice(&[0; 16]);
    entry.extend_from_slice(&stamp.to_bytes());
    let sizes = entry.len();
    entry.extend_from_slice(&[0; 12]);
    let (entry, shape) = extend_shaped(&mut analysis.summary, positions, entry);
    let entry = entry.filter(|_| !analysis.internal_error).and_then(|mut entry| {
        entry[shape_at..shape_at + 16].copy_from_slice(&shape.to_le_bytes());
        let entry = serialize_onto(&stored_rest(analysis)?, entry).ok()?;
        seal(entry, sizes)
    });
    (entry, shape)
}

/// Everything of `analysis` but its path and summary, as stored; `None` if it is not what the
/// per-file pass gives.
fn stored_rest<S>(analysis: &FileAnalysis<S>) -> Option<StoredRest<'_>> {
    let diagnostic = |d| stored_diagnostic(d, &analysis.path);
    Some(StoredRest {
        candidates: analysis
            .candidates
            .iter()
            .map(|c| Some((diagnostic(&c.diagnostic)?, c.func, c.region)))
            .collect::<Option<_>>()?,
        file_diagnostics: analysis.file_diagnostics.iter().map(diagnostic).collect::<Option<_>>()?,
        warnings: Cow::Borrowed(&analysis.warnings),
        suppressions: analysis.suppressions.as_ref().map(|s| {
            let hits =
                s.hits().into_iter().map(|h| (h.entry as u32, h.selector as u32, Cow::Borrowed(h.code))).collect();
            (Cow::Borrowed(s.entries()), hits)
        }),
    })
}

/// Appends `value`'s postcard encoding to `bytes`.
fn serialize_onto<T: Serialize + ?Sized>(value: &T, bytes: Vec<u8>) -> postcard::Result<Vec<u8>> {
    postcard::serialize_with_flavor(value, Append(bytes))
}

/// A postcard output that appends to a `Vec<u8>`. postcard writes every integer as a slice of 1 to
/// 10 bytes; its own `Vec` outputs copy each with a call to `memmove`, which took about as long as
/// the rest of serializing a summary. Short slices are pushed byte by byte here instead.
struct Append(Vec<u8>);

impl postcard::ser_flavors::Flavor for Append {
    type Output = Vec<u8>;

    #[inline(always)]
    fn try_push(&mut self, byte: u8) -> postcard::Result<()> {
        self.0.push(byte);
        Ok(())
    }

    #[inline(always)]
    fn try_extend(&mut self, bytes: &[u8]) -> postcard::Result<()> {
        if bytes.len() <= 16 {
            self.0.reserve(bytes.len());
            for &byte in bytes {
                self.0.push(byte);
            }
        } else {
            self.0.extend_from_slice(bytes);
        }
        Ok(())
    }

    fn finalize(self) -> postcard::Result<Vec<u8>> {
        Ok(self.0)
    }
}

/// `entry` with the payload's length and checksum written at `sizes`, where the payload ends the
/// entry after them.
fn seal(mut entry: Vec<u8>, sizes: usize) -> Option<Vec<u8>> {
    let payload = sizes + 12;
    let length = u32::try_from(entry.len() - payload).ok()?;
    let checksum = xxhash_rust::xxh3::xxh3_64(&entry[payload..]);
    entry[sizes..sizes + 4].copy_from_slice(&length.to_le_bytes());
    entry[sizes + 4..payload].copy_from_slice(&checksum.to_le_bytes());
    Some(entry)
}

/// `d` as stored; `None` if it is not what the per-file pass gives: already hot, or in another
/// file than `path`.
fn stored_diagnostic<'a>(d: &'a Diagnostic, path: &Path) -> Option<StoredDiagnostic<'a>> {
    let file_level = match d.heat {
        Heat::File => true,
        Heat::Cold => false,
        Heat::Hot { .. } => return None,
    };
    (d.hot_path.is_empty() && d.file == path).then(|| StoredDiagnostic {
        code: Cow::Borrowed(d.rule.code),
        message: Cow::Borrowed(&d.message),
        help: d.help.as_deref().map(Cow::Borrowed),
        range: (d.range.start, d.range.end),
        start: (d.start.row, d.start.column),
        end: (d.end.row, d.end.column),
        file_level,
        suppressed: d.suppressed.as_ref().map(Cow::Borrowed),
    })
}
