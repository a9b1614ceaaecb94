//! `graphlint server`: a language server (LSP 3.17) over stdio.
//!
//! It publishes the findings of every open document, analysed from its unsaved text with the
//! whole project around it (hot paths cross files), the hot path as related information; offers
//! quick fixes (a suppression comment, a `graphlint: cold` marker) and, on hover over a
//! function's `def`/`fn` line, why it is hot. Configuration comes from the same files as the
//! CLI's. Analyses run on their own thread, one at a time, so the server keeps answering while
//! one runs. An edit after a pause is analysed at once; edits closer together than [`DEBOUNCE`]
//! (typing) are analysed once, [`DEBOUNCE`] after the last of them.

mod actions;
mod analysis;
mod text;
mod transport;

use std::collections::{BTreeMap, HashMap};
use std::io::BufReader;
use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use crossbeam_channel::{select, Receiver, Sender};
use lsp_server::{Connection, ErrorCode, Message, Notification, Request, RequestId, Response};
use lsp_types::{
    CodeActionKind, CodeActionOptions, CodeActionParams, CodeActionProviderCapability, DidChangeTextDocumentParams,
    DidCloseTextDocumentParams, DidOpenTextDocumentParams, HoverParams, HoverProviderCapability, InitializeParams,
    InitializeResult, MessageType, PositionEncodingKind, PublishDiagnosticsParams, ServerCapabilities, ServerInfo,
    TextDocumentSyncCapability, TextDocumentSyncKind, Uri,
};
use serde_json::Value;

use crate::diagnostic::HotFunction;
use crate::engine::RunError;
use crate::paths::absolute;

use analysis::{project_root, run_project, Document};

/// Edits closer together than this are a burst: the server waits this long after the last one
/// before analysing, so that a burst costs one analysis, not one per keystroke. An edit that
/// follows a pause at least this long is analysed without waiting.
pub const DEBOUNCE: Duration = Duration::from_millis(30);

/// Serves on stdin and stdout until the client says `exit` (or closes stdin); the exit code is
/// 0 after a `shutdown` request, 1 otherwise (as the protocol asks).
pub fn run_stdio() -> std::process::ExitCode {
    let (connection, writer) = transport::connect(BufReader::new(std::io::stdin()), std::io::stdout());
    let clean = serve(connection);
    // Every answer is written before the process ends.
    let _ = writer.join();
    std::process::ExitCode::from(if clean { 0 } else { 1 })
}

/// Serves on `connection` until `exit` or until the client goes away; true when `exit` came
/// after `shutdown`.
pub fn serve(connection: Connection) -> bool {
    let (jobs, worker_jobs) = crossbeam_channel::unbounded::<Job>();
    let (worker_done, done) = crossbeam_channel::unbounded::<Finished>();
    std::thread::Builder::new()
        .name("graphlint-lsp-analysis".into())
        // Deep syntax trees recurse; the engine's own workers have large stacks too.
        .stack_size(64 * 1024 * 1024)
        .spawn(move || analysis_worker(&worker_jobs, &worker_done))
        .expect("cannot start the analysis thread");
    let mut server = Server {
        connection: &connection,
        jobs,
        initialized: false,
        shutdown: false,
        workspace_folders: Vec::new(),
        documents: BTreeMap::new(),
        due: None,
        last_change: None,
        running: false,
        hot: HashMap::new(),
        config_error: None,
    };
    loop {
        let wait = match (server.due, server.running) {
            (Some(due), false) => due.saturating_duration_since(Instant::now()),
            _ => Duration::from_secs(3600),
        };
        select! {
            recv(connection.receiver) -> message => match message {
                Ok(message) => {
                    if let Some(clean) = server.handle(message) {
                        return clean;
                    }
                }
                // The client closed its end without `exit`.
                Err(_) => return false,
            },
            recv(done) -> finished => {
                if let Ok(finished) = finished {
                    server.running = false;
                    server.publish(finished);
                }
            },
            default(wait) => {},
        }
        if server.due.is_some_and(|due| due <= Instant::now()) && !server.running {
            server.start_analysis();
        }
    }
}

/// When an edit at `now` may be analysed, given when the edit before it came: at once after a
/// pause, [`DEBOUNCE`] later within a burst (each later edit of the burst moves it again).
fn debounced(last_change: Option<Instant>, now: Instant) -> Instant {
    match last_change {
        Some(last) if now.saturating_duration_since(last) < DEBOUNCE => now + DEBOUNCE,
        _ => now,
    }
}

/// One analysis to run: each project with the open documents in it.
struct Job {
    projects: Vec<(PathBuf, Vec<Document>)>,
}

/// A finished analysis: per project, what it found or why it could not run.
struct Finished {
    projects: Vec<ProjectRun>,
}

struct ProjectRun {
    root: PathBuf,
    /// The documents as the analysis read them.
    documents: Vec<Document>,
    result: Result<crate::engine::RunResult, String>,
    elapsed: Duration,
}

fn analysis_worker(jobs: &Receiver<Job>, done: &Sender<Finished>) {
    for job in jobs {
        let projects = job
            .projects
            .into_iter()
            .map(|(root, documents)| {
                let started = Instant::now();
                let result = std::panic::catch_unwind(AssertUnwindSafe(|| run_project(&root, &documents)))
                    .unwrap_or_else(|_| Err(RunError::Message("internal error (please report it)".into())));
                let result = result.map_err(|err| match err {
                    RunError::Config(err) => format!("invalid configuration: {}", err.message),
                    RunError::Message(message) => message,
                });
                ProjectRun { root, documents, result, elapsed: started.elapsed() }
            })
            .collect();
        if done.send(Finished { projects }).is_err() {
            return;
        }
    }
}

struct Server<'c> {
    connection: &'c Connection,
    jobs: Sender<Job>,
    initialized: bool,
    shutdown: bool,
    workspace_folders: Vec<PathBuf>,
    /// Open documents by URI.
    documents: BTreeMap<Uri, Document>,
    /// When the next analysis may start: set by an edit, cleared when an analysis starts.
    due: Option<Instant>,
    /// When the last edit came, to tell a burst of edits from an edit after a pause.
    last_change: Option<Instant>,
    running: bool,
    /// The hot functions of each project's last analysis, for hover.
    hot: HashMap<PathBuf, Vec<HotFunction>>,
    /// The last configuration error shown, so that it is shown once, not on every keystroke.
    config_error: Option<String>,
}

impl Server<'_> {
    /// Handles one message; `Some(clean)` when the server must stop.
    fn handle(&mut self, message: Message) -> Option<bool> {
        match message {
            Message::Request(request) => {
                let response = self.request(request);
                self.send(response.into());
                None
            }
            Message::Notification(notification) if notification.method == "exit" => Some(self.shutdown),
            Message::Notification(notification) => {
                if self.initialized && !self.shutdown {
                    self.notification(notification);
                }
                None
            }
            // Answers to requests the server never sends.
            Message::Response(_) => None,
        }
    }

    fn request(&mut self, request: Request) -> Response {
        let id = request.id.clone();
        if !self.initialized && request.method != "initialize" {
            return Response::new_err(id, ErrorCode::ServerNotInitialized as i32, "initialize first".into());
        }
        if self.shutdown {
            return Response::new_err(id, ErrorCode::InvalidRequest as i32, "the server is shutting down".into());
        }
        match request.method.as_str() {
            "initialize" if self.initialized => {
                Response::new_err(id, ErrorCode::InvalidRequest as i32, "already initialized".into())
            }
            "initialize" => with_params(id, request.params, |params| Ok(self.initialize(params))),
            "shutdown" => {
                self.shutdown = true;
                Response::new_ok(id, Value::Null)
            }
            "textDocument/hover" => with_params(id, request.params, |params: HoverParams| {
                let position = params.text_document_position_params;
                let Some(document) = self.documents.get(&position.text_document.uri) else { return Ok(None) };
                let root = project_root(&document.path, &self.workspace_folders);
                let hot = self.hot.get(&root).map_or(&[][..], Vec::as_slice);
                Ok(actions::hover(hot, &document.path, position.position.line + 1))
            }),
            "textDocument/codeAction" => with_params(id, request.params, |params: CodeActionParams| {
                let uri = &params.text_document.uri;
                let Some(document) = self.documents.get(uri) else { return Ok(Vec::new()) };
                Ok(actions::code_actions(uri, &document.path, &document.text, &params.context.diagnostics))
            }),
            method => Response::new_err(id, ErrorCode::MethodNotFound as i32, format!("unknown method `{method}`")),
        }
    }

    fn initialize(&mut self, params: InitializeParams) -> InitializeResult {
        self.initialized = true;
        let mut folders: Vec<PathBuf> =
            params.workspace_folders.unwrap_or_default().iter().filter_map(|f| text::uri_to_path(&f.uri)).collect();
        // Older clients send only `rootUri`.
        #[allow(deprecated)]
        let root_uri = params.root_uri;
        if folders.is_empty() {
            folders.extend(root_uri.as_ref().and_then(text::uri_to_path));
        }
        self.workspace_folders = folders.iter().map(|f| absolute(f)).collect();
        InitializeResult {
            capabilities: ServerCapabilities {
                position_encoding: Some(PositionEncodingKind::UTF16),
                text_document_sync: Some(TextDocumentSyncCapability::Kind(TextDocumentSyncKind::FULL)),
                hover_provider: Some(HoverProviderCapability::Simple(true)),
                code_action_provider: Some(CodeActionProviderCapability::Options(CodeActionOptions {
                    code_action_kinds: Some(vec![CodeActionKind::QUICKFIX]),
                    ..CodeActionOptions::default()
                })),
                ..ServerCapabilities::default()
            },
            server_info: Some(ServerInfo { name: "graphlint".into(), version: Some(env!("CARGO_PKG_VERSION").into()) }),
        }
    }

    fn notification(&mut self, notification: Notification) {
        let params = notification.params;
        match notification.method.as_str() {
            "textDocument/didOpen" => {
                let Ok(params) = serde_json::from_value::<DidOpenTextDocumentParams>(params) else { return };
                let item = params.text_document;
                let Some(path) = text::uri_to_path(&item.uri) else { return };
                let document = Document {
                    uri: item.uri.clone(),
                    path: absolute(&path),
                    version: item.version,
                    text: item.text.into(),
                };
                self.documents.insert(item.uri, document);
                self.changed();
            }
            "textDocument/didChange" => {
                let Ok(params) = serde_json::from_value::<DidChangeTextDocumentParams>(params) else { return };
                let Some(document) = self.documents.get_mut(&params.text_document.uri) else { return };
                // Full synchronisation: the last change holds the whole text.
                let Some(change) = params.content_changes.into_iter().last() else { return };
                document.text = change.text.into();
                document.version = params.text_document.version;
                self.changed();
            }
            "textDocument/didClose" => {
                let Ok(params) = serde_json::from_value::<DidCloseTextDocumentParams>(params) else { return };
                let uri = params.text_document.uri;
                self.documents.remove(&uri);
                self.publish_for(uri, None, Vec::new());
                // Its saved text is what the project sees now.
                self.changed();
            }
            // Another file of the project (or its configuration) changed on disk.
            "textDocument/didSave" | "workspace/didChangeWatchedFiles" | "workspace/didChangeConfiguration" => {
                self.changed()
            }
            _ => {}
        }
    }

    fn changed(&mut self) {
        let now = Instant::now();
        self.due = Some(debounced(self.last_change, now));
        self.last_change = Some(now);
    }

    fn start_analysis(&mut self) {
        self.due = None;
        let mut projects: BTreeMap<PathBuf, Vec<Document>> = BTreeMap::new();
        for document in self.documents.values() {
            if crate::source::Language::from_path(&document.path).is_some() {
                projects
                    .entry(project_root(&document.path, &self.workspace_folders))
                    .or_default()
                    .push(document.clone());
            }
        }
        if projects.is_empty() {
            return;
        }
        self.running = true;
        let _ = self.jobs.send(Job { projects: projects.into_iter().collect() });
    }

    fn publish(&mut self, finished: Finished) {
        for ProjectRun { root, documents, result, elapsed } in finished.projects {
            let result = match result {
                Ok(result) => result,
                Err(message) => {
                    if self.config_error.as_deref() != Some(message.as_str()) {
                        self.show(MessageType::ERROR, format!("graphlint: {message}"));
                        self.config_error = Some(message);
                    }
                    continue;
                }
            };
            self.config_error = None;
            self.log(format!(
                "graphlint: analysed {} ({} files) in {} ms",
                root.display(),
                result.project_files.unwrap_or(result.files_checked),
                elapsed.as_millis()
            ));
            for document in &documents {
                // A document closed while it was analysed keeps no diagnostics.
                if !self.documents.contains_key(&document.uri) {
                    continue;
                }
                let text = text::Text::new(&document.text);
                let diagnostics = result
                    .diagnostics
                    .iter()
                    .filter(|d| absolute(&d.file) == document.path)
                    .map(|d| analysis::to_lsp(d, &text))
                    .collect();
                self.publish_for(document.uri.clone(), Some(document.version), diagnostics);
            }
            self.hot.insert(root, result.hot_functions);
        }
    }

    fn publish_for(&self, uri: Uri, version: Option<i32>, diagnostics: Vec<lsp_types::Diagnostic>) {
        let params = PublishDiagnosticsParams { uri, diagnostics, version };
        self.send(Notification::new("textDocument/publishDiagnostics".into(), params).into());
    }

    fn log(&self, message: String) {
        let params = lsp_types::LogMessageParams { typ: MessageType::LOG, message };
        self.send(Notification::new("window/logMessage".into(), params).into());
    }

    fn show(&self, typ: MessageType, message: String) {
        let params = lsp_types::ShowMessageParams { typ, message };
        self.send(Notification::new("window/showMessage".into(), params).into());
    }

    fn send(&self, message: Message) {
        // A client that went away is noticed by the main loop when its channel closes.
        let _ = self.connection.sender.send(message);
    }
}

/// Answers a request whose parameters must read as `P` (else an InvalidParams error).
fn with_params<P: serde::de::DeserializeOwned, R: serde::Serialize>(
    id: RequestId,
    params: Value,
    answer: impl FnOnce(P) -> Result<R, String>,
) -> Response {
    match serde_json::from_value::<P>(params) {
        Ok(params) => match answer(params) {
            Ok(result) => Response::new_ok(id, result),
            Err(message) => Response::new_err(id, ErrorCode::InternalError as i32, message),
        },
        Err(err) => Response::new_err(id, ErrorCode::InvalidParams as i32, format!("invalid parameters: {err}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_edit_after_a_pause_is_analysed_at_once_and_a_burst_waits() {
        let start = Instant::now();
        // The first edit, and one after a long pause: no wait.
        assert_eq!(debounced(None, start), start);
        let later = start + DEBOUNCE * 4;
        assert_eq!(debounced(Some(start), later), later);
        // A pause of exactly DEBOUNCE still counts as a pause.
        assert_eq!(debounced(Some(start), start + DEBOUNCE), start + DEBOUNCE);
        // Within a burst the analysis waits DEBOUNCE after the newest edit.
        let typed = start + DEBOUNCE / 3;
        assert_eq!(debounced(Some(start), typed), typed + DEBOUNCE);
    }
}
