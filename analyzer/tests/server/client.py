"""Drives `graphlint server` over stdio with pygls's LanguageClient, as an editor would.

Usage: client.py GRAPHLINT_BINARY PROJECT_DIR

PROJECT_DIR holds model.py (an nn.Module whose forward calls helpers.scale), helpers.py (saved
without any sync) and graphlint.toml (`ignore = ["GL301"]`). Every check raises on failure; the
last line printed is `client: N checks passed` and lines starting `timing:` give the latencies.
"""

import asyncio
import pathlib
import sys
import time

from lsprotocol import types
from pygls.exceptions import JsonRpcMethodNotFound
from pygls.lsp.client import LanguageClient

TIMEOUT = 60.0
CHECKS = 0


def check(condition, what):
    global CHECKS
    if not condition:
        raise AssertionError(what)
    CHECKS += 1


class Editor:
    """A client that keeps the latest diagnostics of each document and each document's text."""

    def __init__(self, binary, root):
        self.client = LanguageClient("graphlint-test-editor", "1")
        self.root = root
        self.diagnostics = {}
        self.logs = []
        self.changed = asyncio.Condition()
        self.texts = {}
        self.versions = {}
        self.binary = binary

        @self.client.feature(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
        async def on_diagnostics(params):
            async with self.changed:
                self.diagnostics[params.uri] = (params.version, params.diagnostics, time.monotonic())
                self.changed.notify_all()

        @self.client.feature(types.WINDOW_LOG_MESSAGE)
        def on_log(params):
            self.logs.append(params.message)

    async def start(self):
        await self.client.start_io(self.binary, "server")
        result = await self.client.initialize_async(
            types.InitializeParams(
                capabilities=types.ClientCapabilities(),
                root_uri=self.root.as_uri(),
                workspace_folders=[types.WorkspaceFolder(uri=self.root.as_uri(), name="project")],
            )
        )
        self.client.initialized(types.InitializedParams())
        return result

    def open(self, name):
        uri = (self.root / name).as_uri()
        self.texts[uri] = (self.root / name).read_text()
        self.versions[uri] = 1
        self.client.text_document_did_open(
            types.DidOpenTextDocumentParams(
                text_document=types.TextDocumentItem(uri=uri, language_id="python", version=1, text=self.texts[uri])
            )
        )
        return uri

    def change(self, uri, text):
        self.versions[uri] += 1
        self.texts[uri] = text
        self.client.text_document_did_change(
            types.DidChangeTextDocumentParams(
                text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=self.versions[uri]),
                content_changes=[types.TextDocumentContentChangeWholeDocument(text=text)],
            )
        )
        return time.monotonic()

    async def diagnostics_of(self, uri, version=None):
        """The diagnostics published for `uri` at `version` (its current one by default)."""
        version = self.versions[uri] if version is None else version

        def ready():
            return uri in self.diagnostics and self.diagnostics[uri][0] == version

        async with self.changed:
            await asyncio.wait_for(self.changed.wait_for(ready), TIMEOUT)
        return self.diagnostics[uri][1], self.diagnostics[uri][2]

    def apply(self, uri, action):
        """Applies a code action's edit to our copy of the text and sends it as a change."""
        (edit,) = action.edit.changes[uri]
        lines = self.texts[uri].split("\n")
        start, end = edit.range.start, edit.range.end
        check(start.line == end.line, f"one-line edit expected: {edit}")
        line = lines[start.line]
        lines[start.line] = line[: start.character] + edit.new_text + line[end.character :]
        return self.change(uri, "\n".join(lines))


async def main(binary, root):
    editor = Editor(binary, root)
    result = await editor.start()
    check(result.capabilities.hover_provider, "hover is offered")
    check(result.capabilities.code_action_provider, "code actions are offered")

    helpers = editor.open("helpers.py")
    editor.open("model.py")
    diagnostics, _ = await editor.diagnostics_of(helpers)
    check(len(diagnostics) == 0, f"the saved helpers.py has no sync, got {diagnostics}")

    # Unsaved text: a sync typed into the helper is reported through the untouched model's call.
    synced = (root / "helpers.py").read_text().replace(
        "    return x * 2\n", "    s = x.sum().item()\n    y = x.cpu()\n    return x * s + y\n"
    )
    sent = editor.change(helpers, synced)
    diagnostics, received = await editor.diagnostics_of(helpers)
    print(f"timing: didChange to publishDiagnostics {1000 * (received - sent):.0f} ms (first edit)")
    codes = [d.code for d in diagnostics]
    check(codes == ["GL201"], f"GL201 from the unsaved text, GL301 ignored by graphlint.toml; got {codes}")
    (item,) = diagnostics
    check(item.range.start == types.Position(line=4, character=8), f"range of `.item()`: {item.range}")
    check(item.severity == types.DiagnosticSeverity.Warning, f"a hot finding is a warning: {item.severity}")
    check(item.source == "graphlint", item.source)
    check(item.code_description and "item_call" in item.code_description.href, f"doc link: {item.code_description}")
    chain = [(r.location.uri.rsplit("/", 1)[-1], r.location.range.start.line, r.message) for r in item.related_information or []]
    check(len(chain) == 2, f"the chain root → helper: {chain}")
    check(chain[0][0] == "model.py" and chain[0][1] == 7 and "Model.forward" in chain[0][2], f"root: {chain[0]}")
    check(chain[1][0] == "helpers.py" and chain[1][1] == 3 and "scale" in chain[1][2], f"step: {chain[1]}")

    # Hover on the helper's def line says why it is hot; on another line, nothing.
    hover = await editor.client.text_document_hover_async(
        types.HoverParams(text_document=types.TextDocumentIdentifier(uri=helpers), position=types.Position(line=3, character=5))
    )
    check(hover is not None and "Model.forward" in hover.contents.value and "scale" in hover.contents.value, f"hover: {hover}")
    nothing = await editor.client.text_document_hover_async(
        types.HoverParams(text_document=types.TextDocumentIdentifier(uri=helpers), position=types.Position(line=0, character=0))
    )
    check(nothing is None, f"no hover off a def line: {nothing}")

    # An unknown method is an error, and the server goes on answering.
    try:
        await editor.client.protocol.send_request_async("graphlint/noSuchMethod", {})
        check(False, "an unknown method must fail")
    except JsonRpcMethodNotFound:
        check(True, "")

    # The code actions: a suppression, and a cold marker on the function holding the sync.
    actions = await editor.client.text_document_code_action_async(
        types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri=helpers),
            range=item.range,
            context=types.CodeActionContext(diagnostics=[item]),
        )
    )
    titles = [a.title for a in actions]
    check(len(actions) == 2, f"two quick fixes: {titles}")
    suppress = next(a for a in actions if "ignore[GL201]" in a.title)
    cold = next(a for a in actions if "cold" in a.title)
    check(suppress.edit.changes[helpers][0].new_text == "  # graphlint: ignore[GL201]", f"{suppress.edit}")
    check(cold.edit.changes[helpers][0].new_text == "  # graphlint: cold", f"{cold.edit}")

    before_fix = editor.texts[helpers]
    editor.apply(helpers, suppress)
    diagnostics, _ = await editor.diagnostics_of(helpers)
    check(len(diagnostics) == 0, f"suppressed: {diagnostics}")
    check(
        "s = x.sum().item()  # graphlint: ignore[GL201]" in editor.texts[helpers], f"comment placed: {editor.texts[helpers]}"
    )

    editor.change(helpers, before_fix)
    diagnostics, _ = await editor.diagnostics_of(helpers)
    check([d.code for d in diagnostics] == ["GL201"], "the finding is back")
    editor.apply(helpers, cold)
    diagnostics, _ = await editor.diagnostics_of(helpers)
    check(len(diagnostics) == 0, f"cold function: {diagnostics}")

    # Whole-project context from unsaved text: the model stops calling the helper, unsaved.
    editor.change(helpers, before_fix)
    await editor.diagnostics_of(helpers)
    model = (root / "model.py").as_uri()
    times = []
    for step in range(5):
        text = (root / "model.py").read_text()
        if step % 2 == 0:
            text = text.replace("return scale(x)", "return x * 3")
        sent = editor.change(model, text)
        _, received = await editor.diagnostics_of(model)
        times.append(1000 * (received - sent))
    print("timing: didChange to publishDiagnostics " + ", ".join(f"{t:.0f}" for t in times) + " ms (five edits of model.py)")
    editor.change(model, (root / "model.py").read_text().replace("return scale(x)", "return x * 3"))
    await editor.diagnostics_of(model)
    version, diagnostics, _ = editor.diagnostics[helpers]
    check(len(diagnostics) == 0, f"no caller in the unsaved model, so nothing is hot in helpers.py: {diagnostics}")
    check(any("analysed" in line for line in editor.logs), f"the server logs its analyses: {editor.logs[-3:]}")

    await editor.client.shutdown_async(None)
    editor.client.exit(None)
    await asyncio.wait_for(editor.client._server.wait(), TIMEOUT)
    check(editor.client._server.returncode == 0, f"exit after shutdown: code {editor.client._server.returncode}")
    await editor.client.stop()
    print(f"client: {CHECKS} checks passed")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], pathlib.Path(sys.argv[2]).resolve()))
