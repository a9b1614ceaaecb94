"""Measures how long `graphlint server` takes from an edit to its diagnostics (not a test).

Usage: latency.py GRAPHLINT_BINARY PROJECT_DIR FILE [EDITS]

Opens FILE (a path inside PROJECT_DIR), then makes EDITS edits (default 10), each a comment
line added at the top, waiting for the diagnostics of each version before the next. Prints the
first analysis's time and the min / median / max of the edit-to-diagnostics latencies, and the
server's own analysis times (its `analysed ... in N ms` log lines). Needs pygls, as pinned in
requirements.txt beside this file.
"""

import asyncio
import pathlib
import statistics
import sys
import time

from lsprotocol import types
from pygls.lsp.client import LanguageClient


async def main(binary, root, file, edits):
    client = LanguageClient("graphlint-latency", "1")
    published = {}
    analysed = []
    arrived = asyncio.Condition()

    @client.feature(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    async def on_diagnostics(params):
        async with arrived:
            published[params.version] = (time.monotonic(), len(params.diagnostics))
            arrived.notify_all()

    @client.feature(types.WINDOW_LOG_MESSAGE)
    def on_log(params):
        if " in " in params.message and params.message.endswith(" ms"):
            analysed.append(int(params.message.rsplit(" ", 2)[1]))

    async def wait(version):
        async with arrived:
            await asyncio.wait_for(arrived.wait_for(lambda: version in published), 600)
        return published[version]

    await client.start_io(binary, "server")
    await client.initialize_async(
        types.InitializeParams(
            capabilities=types.ClientCapabilities(),
            workspace_folders=[types.WorkspaceFolder(uri=root.as_uri(), name="project")],
        )
    )
    client.initialized(types.InitializedParams())
    uri = file.as_uri()
    text = file.read_text()
    sent = time.monotonic()
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(text_document=types.TextDocumentItem(uri=uri, language_id="python", version=1, text=text))
    )
    received, count = await wait(1)
    print(f"first analysis: {1000 * (received - sent):.0f} ms, {count} findings in {file.name}")
    latencies = []
    for version in range(2, edits + 2):
        text = f"# edit {version}\n" + text
        sent = time.monotonic()
        client.text_document_did_change(
            types.DidChangeTextDocumentParams(
                text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
                content_changes=[types.TextDocumentContentChangeWholeDocument(text=text)],
            )
        )
        received, _ = await wait(version)
        latencies.append(1000 * (received - sent))
    print(
        f"edit to diagnostics over {edits} edits: min {min(latencies):.0f} ms, median "
        f"{statistics.median(latencies):.0f} ms, max {max(latencies):.0f} ms"
    )
    print(f"server's analysis times (ms): {analysed}")
    await client.shutdown_async(None)
    client.exit(None)
    await client.stop()


if __name__ == "__main__":
    root = pathlib.Path(sys.argv[2]).resolve()
    file = (root / sys.argv[3]).resolve()
    edits = int(sys.argv[4]) if len(sys.argv) > 4 else 10
    asyncio.run(main(sys.argv[1], root, file, edits))
