//! The byte stream under the protocol: `Content-Length` frames of JSON-RPC, read and written on
//! two threads that feed an [`lsp_server::Connection`].
//!
//! lsp-server has its own stdio transport, but its reader thread ends at the first body that is
//! not JSON or not UTF-8, which leaves the client talking to a dead server. This one answers a
//! bad frame with a JSON-RPC error (`id: null` when the id is unreadable) and reads on; a body
//! with invalid UTF-8 is read with the bad bytes replaced, and the client is told so.

use std::io::{BufRead, Write};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use lsp_server::{Connection, ErrorCode, Message, Notification};
use serde_json::{json, Value};

/// The output, shared by the writer thread and the reader's error answers so that frames
/// never interleave.
type SharedOutput = Arc<Mutex<Box<dyn Write + Send>>>;

/// The connection of a server talking over `input` and `output`, and the writer thread to join
/// (after the connection is dropped) so that every answer is flushed before the process ends.
/// The reader thread is not joined: it may sit in a blocking read until the client closes its
/// end.
pub fn connect(
    input: impl BufRead + Send + 'static,
    output: impl Write + Send + 'static,
) -> (Connection, JoinHandle<()>) {
    let output: SharedOutput = Arc::new(Mutex::new(Box::new(output)));
    let (to_client, outgoing) = crossbeam_channel::unbounded::<Message>();
    let (incoming, from_client) = crossbeam_channel::unbounded::<Message>();
    let writer_output = output.clone();
    let writer = std::thread::Builder::new()
        .name("graphlint-lsp-writer".into())
        .spawn(move || {
            for message in outgoing {
                let mut out = writer_output.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
                // A client that went away cannot be told anything more.
                if message.write(&mut *out).is_err() {
                    break;
                }
            }
        })
        .expect("cannot start the writer thread");
    std::thread::Builder::new()
        .name("graphlint-lsp-reader".into())
        .spawn(move || read_loop(input, &incoming, &output))
        .expect("cannot start the reader thread");
    (Connection { sender: to_client, receiver: from_client }, writer)
}

/// Reads frames until the input ends or the server stops listening.
fn read_loop(mut input: impl BufRead, incoming: &crossbeam_channel::Sender<Message>, output: &SharedOutput) {
    loop {
        let frame = match read_frame(&mut input) {
            Ok(Some(frame)) => frame,
            Ok(None) => return,
            Err(why) => {
                write_error(output, Value::Null, ErrorCode::ParseError, &why);
                continue;
            }
        };
        let text = match String::from_utf8(frame) {
            Ok(text) => text,
            Err(err) => {
                let text = String::from_utf8_lossy(err.as_bytes()).into_owned();
                let offset = err.utf8_error().valid_up_to();
                let note = format!(
                    "graphlint: a message held bytes that are not UTF-8 (first at byte {offset}); they were \
                     read as U+FFFD"
                );
                let params = json!({ "type": 2, "message": note });
                write_message(output, &Notification::new("window/logMessage".into(), params).into());
                text
            }
        };
        let value: Value = match serde_json::from_str(&text) {
            Ok(value) => value,
            Err(err) => {
                write_error(output, Value::Null, ErrorCode::ParseError, &format!("malformed JSON: {err}"));
                continue;
            }
        };
        match serde_json::from_value::<Message>(value.clone()) {
            Ok(message) => {
                if incoming.send(message).is_err() {
                    return;
                }
            }
            Err(err) => {
                // Valid JSON that is no JSON-RPC message: answer its id if it has a usable one.
                let id = value.get("id").filter(|id| id.is_number() || id.is_string()).cloned().unwrap_or(Value::Null);
                write_error(output, id, ErrorCode::InvalidRequest, &format!("not a JSON-RPC message: {err}"));
            }
        }
    }
}

/// One frame's body; `None` at the end of the input (also mid-frame: nothing more can come);
/// an error when the header block was unusable (the stream goes on after it).
fn read_frame(input: &mut impl BufRead) -> Result<Option<Vec<u8>>, String> {
    let mut length: Option<Result<usize, String>> = None;
    let mut saw_header = false;
    let mut line = Vec::new();
    loop {
        line.clear();
        match input.read_until(b'\n', &mut line) {
            Ok(0) | Err(_) => return Ok(None),
            Ok(_) => {}
        }
        let text = String::from_utf8_lossy(&line);
        let text = text.trim_end_matches(['\r', '\n']);
        if text.is_empty() {
            if saw_header {
                break;
            }
            // Blank lines between frames are skipped.
            continue;
        }
        saw_header = true;
        let header = text
            .split_once(':')
            .filter(|(name, _)| !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'));
        // A line that is no header (JSON sent without a frame, say) ends the block here, so the
        // next frame is read from its own first line.
        let Some((name, value)) = header else {
            let shown: String = text.chars().take(40).collect();
            return Err(format!("expected a `Content-Length: N` header, found `{shown}`"));
        };
        if name.eq_ignore_ascii_case("content-length") {
            let value = value.trim();
            length = Some(value.parse().map_err(|_| format!("invalid Content-Length `{value}`")));
        }
    }
    let length = match length {
        Some(Ok(length)) => length,
        Some(Err(why)) => return Err(why),
        None => return Err("a header without Content-Length".into()),
    };
    let mut body = vec![0; length];
    match input.read_exact(&mut body) {
        Ok(()) => Ok(Some(body)),
        Err(_) => Ok(None),
    }
}

fn write_error(output: &SharedOutput, id: Value, code: ErrorCode, message: &str) {
    let body = json!({ "jsonrpc": "2.0", "id": id, "error": { "code": code as i32, "message": message } });
    write_frame(output, &body.to_string());
}

fn write_message(output: &SharedOutput, message: &Message) {
    let mut out = output.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let _ = message.write(&mut *out);
}

fn write_frame(output: &SharedOutput, body: &str) {
    let mut out = output.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let _ = write!(out, "Content-Length: {}\r\n\r\n{body}", body.len()).and_then(|_| out.flush());
}
