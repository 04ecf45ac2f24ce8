"""Open Snakemake's report.html in headless Chromium, click through to an entry, and read
what the page shows: the check that Table 1's numbers are on the page, not behind a
download link. Drives Chromium over its DevTools protocol (websocket-client, which the
workflow extra brings in through adv-lib's visdom)."""

from __future__ import annotations

import base64
import importlib.util
import json
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

# None where there is no browser (or no websocket client) to check the page with
CHROMIUM = (
    next(
        (
            shutil.which(n)
            for n in ("chromium", "chromium-browser", "google-chrome")
            if shutil.which(n)
        ),
        None,
    )
    if importlib.util.find_spec("websocket")
    else None
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Page:
    def __init__(self, ws_url: str) -> None:
        import websocket

        self.ws = websocket.create_connection(ws_url, timeout=60)
        self.next_id = 0

    def call(self, method: str, **params):
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.recv())
            if message.get("id") == self.next_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})

    def evaluate(self, expression: str):
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        return result.get("result", {}).get("value")

    def wait_for(self, expression: str, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while not self.evaluate(expression):
            if time.monotonic() > deadline:
                raise TimeoutError(f"the page never satisfied: {expression}")
            time.sleep(0.2)


_CLICK = """(() => {{
  const want = {label!r};
  const nodes = [...document.querySelectorAll('a, button, li, span, div, td')]
    .filter(n => n.textContent.trim() === want);
  if (!nodes.length) return false;
  nodes[nodes.length - 1].click();
  return true;
}})()"""


_VIEW = """(() => {{
  const want = {label!r};
  const row = [...document.querySelectorAll('tr')]
    .find(r => r.cells.length && r.cells[0].textContent.trim() === want);
  const eye = row && row.querySelector('a[iconname="eye"]');
  if (!eye) return false;
  eye.click();
  return true;
}})()"""


def open_entry(report: Path, clicks: list[str], screenshot: Path | None = None) -> str:
    """The text the report shows after clicking, in order, the elements labelled
    ``clicks``, where ``"view:Table 1"`` is the eye icon of the entry "Table 1" (e.g.
    ``["Tables", "view:Table 1"]``), with the pages its iframes hold; a PNG of the
    window in ``screenshot`` if given."""
    if CHROMIUM is None:
        raise FileNotFoundError("no chromium on PATH")
    port = _free_port()
    profile = tempfile.mkdtemp(prefix="chromium-")
    browser = subprocess.Popen(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", f"--user-data-dir={profile}",
         f"--remote-debugging-port={port}", "--remote-allow-origins=*", "--window-size=1400,1000",
         "about:blank"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/json") as answer:
                    targets = json.load(answer)
                page_target = next(t for t in targets if t.get("type") == "page")
                break
            except (OSError, StopIteration):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        page = _Page(page_target["webSocketDebuggerUrl"])
        page.call("Page.enable")
        page.call("Page.navigate", url=report.resolve().as_uri())
        page.wait_for("document.readyState === 'complete'")
        for label in clicks:
            view = label.startswith("view:")
            script = _VIEW if view else _CLICK
            page.wait_for(script.format(label=label.removeprefix("view:")))
            time.sleep(0.5)
        time.sleep(1.0)
        texts = [page.evaluate("document.body.innerText") or ""]
        tree = page.call("Page.getFrameTree")["frameTree"]
        for child in tree.get("childFrames", []):  # the entry's page: its own document
            world = page.call("Page.createIsolatedWorld", frameId=child["frame"]["id"])
            result = page.call(
                "Runtime.evaluate", expression="document.body.innerText",
                contextId=world["executionContextId"], returnByValue=True,
            )  # fmt: skip
            texts.append(result.get("result", {}).get("value") or "")
        text = "\n".join(texts)
        if screenshot is not None:
            shot = page.call("Page.captureScreenshot", format="png")
            screenshot.write_bytes(base64.b64decode(shot["data"]))
        return text
    finally:
        browser.kill()
        browser.wait()
        shutil.rmtree(profile, ignore_errors=True)
