//! `graphlint server`: the language server, driven three ways.
//!
//! - a real LSP client, pygls's `LanguageClient` (installed from PyPI at test time into a
//!   temporary venv, every wheel pinned by version and sha256 in `server/requirements.txt`), runs
//!   `server/client.py` against the binary: diagnostics from unsaved text, the hot chain, hover,
//!   both quick fixes applied, an unknown method, shutdown and exit;
//! - raw bytes on the binary's stdin: malformed frames and JSON, a body that is not UTF-8,
//!   `exit` with and without `shutdown`;
//! - lsp-server's in-memory `Connection` against `graphlint::server::serve`: protocol errors.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use lsp_server::{Connection, Message, Notification, Request, RequestId};
use serde_json::{json, Value};

const BINARY: &str = env!("CARGO_BIN_EXE_graphlint");
const TIMEOUT: Duration = Duration::from_secs(60);

/// A project whose model calls a helper in another file; the helper has no sync on disk.
fn project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| std::fs::write(dir.path().join(name), text).unwrap();
    write(
        "model.py",
        "import torch\nfrom torch import nn\n\nfrom helpers import scale\n\n\nclass Model(nn.Module):\n    \
         def forward(self, x: torch.Tensor) -> torch.Tensor:\n        return scale(x)\n",
    );
    write("helpers.py", "import torch\n\n\ndef scale(x: torch.Tensor) -> torch.Tensor:\n    return x * 2\n");
    write("graphlint.toml", "ignore = [\"GL301\"]\n");
    dir
}

/// The helper with two syncs typed in: `.item()` (GL201) and `.cpu()` (GL301, ignored by the
/// project's configuration).
const HELPER_WITH_SYNCS: &str = "import torch\n\n\ndef scale(x: torch.Tensor) -> torch.Tensor:\n    \
                                 s = x.sum().item()\n    y = x.cpu()\n    return x * s + y\n";

fn file_uri(path: &Path) -> String {
    format!("file://{}", path.display())
}

#[test]
fn a_real_lsp_client_drives_the_server() {
    if Command::new("python3").arg("--version").output().is_err() {
        let why = "python3 is not installed: the pygls client test cannot run";
        assert!(std::env::var_os("CI").is_none(), "{why} (CI is set, so this fails)");
        eprintln!("SKIPPED a_real_lsp_client_drives_the_server: {why}");
        return;
    }
    let here = Path::new(env!("CARGO_MANIFEST_DIR")).join("analyzer/tests/server");
    let venv = tempfile::tempdir().unwrap();
    let status = Command::new("python3").args(["-m", "venv"]).arg(venv.path()).status().unwrap();
    assert!(status.success(), "python3 -m venv failed (on Debian, install python3-venv)");
    let python = venv.path().join("bin/python");
    let install = Command::new(&python)
        .args(["-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-cache-dir"])
        .args(["--only-binary=:all:", "--require-hashes", "-r"])
        .arg(here.join("requirements.txt"))
        .output()
        .unwrap();
    assert!(
        install.status.success(),
        "installing the pinned pygls client from PyPI failed (no network?):\n{}",
        String::from_utf8_lossy(&install.stderr)
    );
    let dir = project();
    let run = Command::new(&python).arg(here.join("client.py")).arg(BINARY).arg(dir.path()).output().unwrap();
    let stdout = String::from_utf8_lossy(&run.stdout);
    eprintln!("{stdout}{}", String::from_utf8_lossy(&run.stderr));
    assert!(run.status.success(), "the client's checks failed (see above)");
    assert!(stdout.lines().any(|l| l.starts_with("client: ") && l.ends_with(" checks passed")), "{stdout}");
}

/// The binary, talked to in raw bytes.
struct Wire {
    child: Child,
    /// `None` once closed.
    stdin: Option<ChildStdin>,
    messages: mpsc::Receiver<Value>,
}

impl Wire {
    fn start(dir: &Path) -> Wire {
        let mut child = Command::new(BINARY)
            .arg("server")
            .current_dir(dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take().unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let (sender, messages) = mpsc::channel();
        std::thread::spawn(move || loop {
            let mut length = 0;
            loop {
                let mut line = String::new();
                if stdout.read_line(&mut line).unwrap_or(0) == 0 {
                    return;
                }
                if line == "\r\n" {
                    break;
                }
                if let Some(value) = line.strip_prefix("Content-Length: ") {
                    length = value.trim().parse().unwrap();
                }
            }
            let mut body = vec![0; length];
            stdout.read_exact(&mut body).unwrap();
            if sender.send(serde_json::from_slice(&body).expect("the server writes JSON")).is_err() {
                return;
            }
        });
        Wire { child, stdin: Some(stdin), messages }
    }

    fn raw(&mut self, bytes: &[u8]) {
        let stdin = self.stdin.as_mut().expect("stdin is open");
        stdin.write_all(bytes).unwrap();
        stdin.flush().unwrap();
    }

    fn frame(&mut self, body: &[u8]) {
        let mut bytes = format!("Content-Length: {}\r\n\r\n", body.len()).into_bytes();
        bytes.extend_from_slice(body);
        self.raw(&bytes);
    }

    fn send(&mut self, message: Value) {
        self.frame(message.to_string().as_bytes());
    }

    /// The next message that `wanted` accepts (others are skipped).
    fn wait_for(&self, what: &str, wanted: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.messages.recv_timeout(left) {
                Ok(message) if wanted(&message) => return message,
                Ok(_) => {}
                Err(_) => panic!("no {what} within {TIMEOUT:?}"),
            }
        }
    }

    fn response(&self, id: Value) -> Value {
        self.wait_for(&format!("response to {id}"), |m| m.get("id") == Some(&id) && m.get("method").is_none())
    }

    fn initialize(&mut self, root: &Path) {
        let uri = file_uri(root);
        self.send(json!({"jsonrpc": "2.0", "id": 1, "method": "initialize",
            "params": {"capabilities": {}, "rootUri": uri, "workspaceFolders": [{"uri": uri, "name": "p"}]}}));
        let answer = self.response(json!(1));
        assert_eq!(answer["result"]["serverInfo"]["name"], "graphlint", "{answer}");
        self.send(json!({"jsonrpc": "2.0", "method": "initialized", "params": {}}));
    }

    fn diagnostics(&self, uri: &str, version: i64) -> Vec<Value> {
        let published = self.wait_for(&format!("diagnostics for {uri} v{version}"), |m| {
            m["method"] == "textDocument/publishDiagnostics"
                && m["params"]["uri"] == uri
                && m["params"]["version"] == version
        });
        published["params"]["diagnostics"].as_array().unwrap().clone()
    }

    fn exit_code(mut self) -> Option<i32> {
        let deadline = Instant::now() + TIMEOUT;
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.code();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        panic!("the server did not exit within {TIMEOUT:?}");
    }
}

fn did_open(uri: &str, text: &str) -> Value {
    json!({"jsonrpc": "2.0", "method": "textDocument/didOpen",
        "params": {"textDocument": {"uri": uri, "languageId": "python", "version": 1, "text": text}}})
}

fn did_change(uri: &str, version: i64, text: &str) -> Value {
    json!({"jsonrpc": "2.0", "method": "textDocument/didChange",
        "params": {"textDocument": {"uri": uri, "version": version}, "contentChanges": [{"text": text}]}})
}

#[test]
fn unsaved_text_is_analysed_with_the_whole_project() {
    let dir = project();
    let mut wire = Wire::start(dir.path());
    wire.initialize(dir.path());
    let helpers = file_uri(&dir.path().join("helpers.py"));
    wire.send(did_open(&helpers, &std::fs::read_to_string(dir.path().join("helpers.py")).unwrap()));
    assert_eq!(wire.diagnostics(&helpers, 1), Vec::<Value>::new());

    let sent = Instant::now();
    wire.send(did_change(&helpers, 2, HELPER_WITH_SYNCS));
    let diagnostics = wire.diagnostics(&helpers, 2);
    eprintln!("didChange to publishDiagnostics: {:?} (debounce {:?})", sent.elapsed(), graphlint::server::DEBOUNCE);
    // GL301 is ignored by the project's graphlint.toml, as the CLI reads it.
    let codes: Vec<&Value> = diagnostics.iter().map(|d| &d["code"]).collect();
    assert_eq!(codes, [&json!("GL201")], "{diagnostics:#?}");
    let item = &diagnostics[0];
    assert_eq!(item["range"]["start"], json!({"line": 4, "character": 8}));
    let chain: Vec<(&str, &Value)> = item["relatedInformation"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["location"]["uri"].as_str().unwrap().rsplit('/').next().unwrap(),
                &r["location"]["range"]["start"]["line"],
            )
        })
        .collect();
    assert_eq!(chain, [("model.py", &json!(7)), ("helpers.py", &json!(3))]);

    // The model's unsaved text no longer calls the helper: nothing in it is hot any more.
    let model = file_uri(&dir.path().join("model.py"));
    let model_text = std::fs::read_to_string(dir.path().join("model.py")).unwrap();
    wire.send(did_open(&model, &model_text.replace("return scale(x)", "return x * 3")));
    // The analysis that follows publishes for every open document (the helper first).
    assert_eq!(wire.diagnostics(&helpers, 2), Vec::<Value>::new());
    assert_eq!(wire.diagnostics(&model, 1), Vec::<Value>::new());
}

#[test]
fn bad_input_gets_an_error_and_the_server_keeps_running() {
    let dir = project();
    let mut wire = Wire::start(dir.path());
    wire.initialize(dir.path());

    // A body that is not JSON: a parse error with a null id.
    wire.frame(br#"{"jsonrpc": "2.0", "id": 2, "method": "#);
    let error = wire.wait_for("parse error", |m| m.get("error").is_some());
    assert_eq!((error["id"].clone(), error["error"]["code"].clone()), (Value::Null, json!(-32700)), "{error}");
    // A line that is no header.
    wire.raw(b"this is not a header\r\n");
    let error = wire.wait_for("header error", |m| m.get("error").is_some());
    assert_eq!(error["error"]["code"], json!(-32700), "{error}");
    // JSON that is no JSON-RPC message: its id is answered.
    wire.send(json!({"id": 7, "neither": "method nor result"}));
    assert_eq!(wire.response(json!(7))["error"]["code"], json!(-32600));
    // An unknown method.
    wire.send(json!({"jsonrpc": "2.0", "id": 3, "method": "graphlint/noSuchThing", "params": {}}));
    assert_eq!(wire.response(json!(3))["error"]["code"], json!(-32601));
    // Parameters of the wrong shape.
    wire.send(json!({"jsonrpc": "2.0", "id": 4, "method": "textDocument/hover", "params": {"position": "here"}}));
    assert_eq!(wire.response(json!(4))["error"]["code"], json!(-32602));

    // A document whose text holds bytes that are not UTF-8: read with U+FFFD, still analysed.
    let helpers = file_uri(&dir.path().join("helpers.py"));
    let mut body = did_open(&helpers, HELPER_WITH_SYNCS.replace("import torch", "import torch  # caf__").as_str())
        .to_string()
        .into_bytes();
    let at = body.windows(2).position(|w| w == b"__").unwrap();
    body[at] = 0xE9;
    body[at + 1] = 0xFF;
    wire.frame(&body);
    let note = wire.wait_for("a note on the bytes", |m| m["method"] == "window/logMessage");
    assert!(note["params"]["message"].as_str().unwrap().contains("not UTF-8"), "{note}");
    let codes: Vec<Value> = wire.diagnostics(&helpers, 1).iter().map(|d| d["code"].clone()).collect();
    assert_eq!(codes, [json!("GL201")]);

    // Still answering, then a clean shutdown: exit code 0.
    wire.send(json!({"jsonrpc": "2.0", "id": 5, "method": "shutdown"}));
    assert_eq!(wire.response(json!(5))["result"], Value::Null);
    wire.send(json!({"jsonrpc": "2.0", "id": 6, "method": "textDocument/hover", "params": {}}));
    assert_eq!(wire.response(json!(6))["error"]["code"], json!(-32600), "requests after shutdown are refused");
    wire.send(json!({"jsonrpc": "2.0", "method": "exit"}));
    assert_eq!(wire.exit_code(), Some(0));
}

#[test]
fn exit_without_shutdown_is_exit_code_1() {
    let dir = project();
    let mut wire = Wire::start(dir.path());
    wire.initialize(dir.path());
    wire.send(json!({"jsonrpc": "2.0", "method": "exit"}));
    assert_eq!(wire.exit_code(), Some(1));
    // A client that closes stdin without a word ends the server too.
    let mut wire = Wire::start(dir.path());
    wire.initialize(dir.path());
    wire.stdin = None;
    assert_eq!(wire.exit_code(), Some(1));
}

/// The in-memory connection: `serve` in a thread, the test as the client.
fn serve_in_memory() -> (Connection, std::thread::JoinHandle<bool>) {
    let (server, client) = Connection::memory();
    (client, std::thread::spawn(move || graphlint::server::serve(server)))
}

fn answer(client: &Connection, id: i32) -> lsp_server::Response {
    loop {
        match client.receiver.recv_timeout(TIMEOUT).expect("an answer") {
            Message::Response(response) if response.id == RequestId::from(id) => return response,
            _ => {}
        }
    }
}

fn request(client: &Connection, id: i32, method: &str, params: Value) -> lsp_server::Response {
    client.sender.send(Request::new(RequestId::from(id), method.into(), params).into()).unwrap();
    answer(client, id)
}

#[test]
fn protocol_errors_over_the_in_memory_connection() {
    let (client, server) = serve_in_memory();
    // Before `initialize`, requests are refused and notifications ignored.
    let early = request(&client, 1, "textDocument/hover", json!({}));
    assert_eq!(early.response_result.err().map(|e| e.code), Some(-32002));
    client.sender.send(Notification::new("textDocument/didOpen".into(), json!({"junk": true})).into()).unwrap();

    let init = request(&client, 2, "initialize", json!({"capabilities": {}}));
    let init = init.response_result.expect("initialize succeeds");
    let capabilities = &init["capabilities"];
    assert_eq!(capabilities["textDocumentSync"], json!(1), "full text on every change");
    assert_eq!(capabilities["hoverProvider"], json!(true));
    assert_eq!(
        request(&client, 3, "initialize", json!({"capabilities": {}})).response_result.err().map(|e| e.code),
        Some(-32600)
    );

    assert_eq!(
        request(&client, 4, "workspace/symbol", json!({"query": ""})).response_result.err().map(|e| e.code),
        Some(-32601)
    );
    // Malformed notifications are dropped; the server still answers.
    client.sender.send(Notification::new("textDocument/didChange".into(), json!([1, 2])).into()).unwrap();
    let hover = request(
        &client,
        5,
        "textDocument/hover",
        json!({"textDocument": {"uri": "file:///not/open.py"}, "position": {"line": 0, "character": 0}}),
    );
    assert_eq!(hover.response_result.ok(), Some(Value::Null));
    let actions = request(
        &client,
        6,
        "textDocument/codeAction",
        json!({"textDocument": {"uri": "file:///not/open.py"},
               "range": {"start": {"line": 0, "character": 0}, "end": {"line": 0, "character": 0}},
               "context": {"diagnostics": []}}),
    );
    assert_eq!(actions.response_result.ok(), Some(json!([])));

    assert_eq!(request(&client, 7, "shutdown", Value::Null).response_result.ok(), Some(Value::Null));
    client.sender.send(Notification::new("exit".into(), Value::Null).into()).unwrap();
    assert!(server.join().unwrap(), "exit after shutdown is a clean stop");
}
