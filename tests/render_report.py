"""Open a findings report in headless Chromium and check it: no console errors, no request outside the file,
figures decoded, the interactive plots answer a hover, and a screenshot to look at.

The browser is driven over the Chrome DevTools Protocol on a pipe (``--remote-debugging-pipe``: Chromium reads
NUL-terminated JSON commands on fd 3 and writes replies and events on fd 4), so nothing beyond the standard
library and a Chromium binary is needed: no driver, no websocket client, no downloaded browser.

    python tests/render_report.py results/report.html --screenshot shot.png [--full full.png]

prints what it found as JSON and exits 1 when the page logged an error, fetched anything but itself and
``data:`` URIs, has a broken image, or its plots did not answer. The tests import :func:`render`.
"""

from __future__ import annotations

import argparse
import base64
import fcntl
import json
import os
import select
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-extensions",
    "--disable-default-apps", "--mute-audio", "--hide-scrollbars", "--remote-debugging-pipe",
)
WIDTH, HEIGHT = 1280, 900


def find_chromium() -> str | None:
    """$TMS_CHROMIUM, else the first Chromium or Chrome on PATH."""
    env = os.environ.get("TMS_CHROMIUM")
    if env:
        return env if Path(env).is_file() else shutil.which(env)
    for name in BROWSERS:
        path = shutil.which(name)
        if path:
            return path
    return None


class CDPError(RuntimeError):
    pass


class Browser:
    """A headless Chromium and a DevTools Protocol connection to it over two pipes."""

    def __init__(self, binary: str, timeout: float = 60.0):
        self.timeout = timeout
        self.profile = tempfile.mkdtemp(prefix="tms-chromium-")
        to_r, to_w = os.pipe()
        from_r, from_w = os.pipe()

        def child_fds() -> None:
            # Move both ends above the low fds first, so that placing them on 3 and 4 cannot clobber either.
            a = fcntl.fcntl(to_r, fcntl.F_DUPFD, 10)
            b = fcntl.fcntl(from_w, fcntl.F_DUPFD, 10)
            os.dup2(a, 3)
            os.dup2(b, 4)

        # Chromium's own log goes to a file: a pipe nobody reads could fill up and stall the browser.
        self.log = open(Path(self.profile) / "chromium.log", "w+b")
        self.proc = subprocess.Popen(
            [binary, *FLAGS, f"--user-data-dir={self.profile}", f"--window-size={WIDTH},{HEIGHT}"],
            stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log,
            preexec_fn=child_fds, close_fds=False,
        )
        os.close(to_r)
        os.close(from_w)
        self.w, self.r = to_w, from_r
        self.buf = b""
        self.next_id = 0
        self.events: list[dict[str, Any]] = []

    # -- protocol ------------------------------------------------------------------------------------
    def send(self, method: str, params: dict[str, Any] | None = None, session: str | None = None) -> int:
        self.next_id += 1
        msg: dict[str, Any] = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self.w, json.dumps(msg).encode() + b"\0")
        return self.next_id

    def _read_one(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise CDPError("timed out waiting for Chromium")
            ready, _, _ = select.select([self.r], [], [], left)
            if not ready:
                continue
            chunk = os.read(self.r, 1 << 20)
            if not chunk:
                self.log.seek(0)
                err = self.log.read().decode(errors="replace")[-2000:]
                raise CDPError(f"Chromium closed the pipe (exit {self.proc.poll()}): {err}")
            self.buf += chunk
        raw, self.buf = self.buf.split(b"\0", 1)
        return json.loads(raw)

    def call(self, method: str, params: dict[str, Any] | None = None, session: str | None = None) -> dict[str, Any]:
        mid = self.send(method, params, session)
        deadline = time.monotonic() + self.timeout
        while True:
            msg = self._read_one(deadline)
            if msg.get("id") == mid:
                if "error" in msg:
                    raise CDPError(f"{method}: {msg['error']}")
                return msg.get("result", {})
            if "method" in msg:
                self.events.append(msg)

    def wait_event(self, method: str, session: str | None = None) -> dict[str, Any]:
        for ev in self.events:
            if ev["method"] == method and (session is None or ev.get("sessionId") == session):
                return ev
        deadline = time.monotonic() + self.timeout
        while True:
            msg = self._read_one(deadline)
            if "method" in msg:
                self.events.append(msg)
                if msg["method"] == method and (session is None or msg.get("sessionId") == session):
                    return msg

    def pump(self, seconds: float) -> None:
        """Collect events for a while (late console messages, late requests)."""
        deadline = time.monotonic() + seconds
        try:
            while True:
                msg = self._read_one(deadline)
                if "method" in msg:
                    self.events.append(msg)
        except CDPError:
            if self.proc.poll() is not None:
                raise

    def close(self) -> None:
        try:
            if self.proc.poll() is None:
                self.send("Browser.close")
                self.proc.wait(timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            self.proc.kill()
            self.proc.wait()
        finally:
            for fd in (self.w, self.r):
                try:
                    os.close(fd)
                except OSError:
                    pass
            self.log.close()
            shutil.rmtree(self.profile, ignore_errors=True)


@dataclass
class RenderResult:
    url: str
    console_errors: list[str] = field(default_factory=list)
    console_warnings: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    outside_requests: list[str] = field(default_factory=list)
    page: dict[str, Any] = field(default_factory=dict)
    hover: dict[str, Any] = field(default_factory=dict)
    clicks: dict[str, Any] = field(default_factory=dict)
    screenshots: list[str] = field(default_factory=list)

    @property
    def problems(self) -> list[str]:
        out = [f"console error: {e}" for e in self.console_errors]
        out += [f"request outside the file: {u}" for u in self.outside_requests]
        if self.page.get("broken_images"):
            out.append(f"images that did not decode: {self.page['broken_images']}")
        if self.page.get("ready") != "1":
            out.append("the page's script did not finish (data-ready not set)")
        for what, text in self.hover.items():
            if not text:
                out.append(f"hovering the {what} showed no tooltip")
        before_after = self.clicks.get("explorer")
        if before_after and before_after[0] == before_after[1]:
            out.append("picking another sparsity did not change the explorer")
        frames = self.clicks.get("frames")
        if frames and frames[0] == frames[1]:
            out.append("moving a scatter's slider did not change its frame")
        return out


def _text(args: list[dict[str, Any]]) -> str:
    return " ".join(str(a.get("value", a.get("description", a.get("type", "")))) for a in args)


_PAGE_STATE = """(() => {
  const imgs = [...document.querySelectorAll('img')].filter(i => i.getAttribute('src'));
  return {
    ready: document.documentElement.getAttribute('data-ready'),
    title: document.title,
    images: imgs.length,
    broken_images: imgs.filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.alt),
    canvases: document.querySelectorAll('canvas').length,
    explorers: document.querySelectorAll('[data-explorer]').length,
    phases: document.querySelectorAll('[data-phases]').length,
    scatters: document.querySelectorAll('[data-scatter]').length,
    height: document.documentElement.scrollHeight,
  };
})()"""


# Click through the controls: the first sparsity of the first explorer that has several (a run of one setting has
# nothing to pick), every colour mode of the phase diagrams.
_EXERCISE = """(() => {
  const out = {};
  const x = [...document.querySelectorAll('[data-explorer]')].find(e => e.querySelectorAll('button.opt').length > 1);
  if (x) {
    const before = x.querySelector('.setting').textContent;
    x.querySelector('button.opt:not(.on)').click();
    out.explorer = [before, x.querySelector('.setting').textContent];
  }
  const s = [...document.querySelectorAll('[data-scatter]')].find(e => e.querySelector('input[type=range]'));
  if (s) {
    const r = s.querySelector('input[type=range]'), before = s.querySelector('.frame-label').textContent;
    r.value = '0'; r.dispatchEvent(new Event('input'));
    out.frames = [before, s.querySelector('.frame-label').textContent];
    r.value = r.max; r.dispatchEvent(new Event('input'));
  }
  const p = document.querySelector('[data-phases]');
  if (p) {
    const modes = [...p.querySelectorAll('button.opt')];
    modes.forEach(b => b.click());
    out.phase_modes = modes.length;
    modes[0].click();
  }
  return out;
})()"""


def _hover(b: Browser, session: str, selector: str, dx: float, dy: float) -> str | None:
    """Move the mouse to (dx, dy) inside the first element matching ``selector``; the tooltip's text."""
    found = b.call("Runtime.evaluate", {"expression": f"""(() => {{
        const c = document.querySelector({json.dumps(selector)});
        if (!c) return null;
        c.scrollIntoView({{block: 'center'}});
        const r = c.getBoundingClientRect();
        return [r.left, r.top];
    }})()""", "returnByValue": True}, session)["result"].get("value")
    if not found:
        return None
    x, y = found[0] + dx, found[1] + dy
    b.call("Input.dispatchMouseEvent", {"type": "mouseMoved", "x": x, "y": y}, session)
    return b.call("Runtime.evaluate", {"expression": "(() => { const t = document.getElementById('tooltip');"
                                                     " return t && !t.hidden ? t.textContent : ''; })()",
                                       "returnByValue": True}, session)["result"].get("value")


def render(html: Path | str, screenshot: Path | str | None = None, full_page: Path | str | None = None,
           binary: str | None = None, timeout: float = 60.0) -> RenderResult:
    """Load ``html`` in headless Chromium and record what happened (see the module docstring)."""
    binary = binary or find_chromium()
    if binary is None:
        raise FileNotFoundError("no Chromium found (install the Debian package 'chromium' or set TMS_CHROMIUM)")
    html = Path(html).resolve()
    url = html.as_uri()
    res = RenderResult(url=url)
    b = Browser(binary, timeout)
    try:
        target = b.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = b.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Page", "Runtime", "Log", "Network"):
            b.call(f"{domain}.enable", {}, session)
        b.call("Emulation.setDeviceMetricsOverride",
               {"width": WIDTH, "height": HEIGHT, "deviceScaleFactor": 1, "mobile": False}, session)
        b.call("Page.navigate", {"url": url}, session)
        b.wait_event("Page.loadEventFired", session)
        b.pump(0.5)
        res.page = b.call("Runtime.evaluate", {"expression": _PAGE_STATE, "returnByValue": True},
                          session)["result"].get("value", {})
        # The heat-map's first cell (its plot starts 30 px right and 34 px down of the canvas corner) and the
        # phase diagram's top-left cell (58, 24): both must answer a hover with a tooltip.
        if res.page.get("explorers"):
            res.hover["WᵀW explorer"] = _hover(b, session, "[data-explorer] canvas", 32, 36)
        if res.page.get("phases"):
            res.hover["phase diagram"] = _hover(b, session, "[data-phases] canvas", 60, 26)
        if res.page.get("scatters"):
            first = b.call("Runtime.evaluate", {"expression": "document.querySelector('[data-scatter] canvas')"
                                                              ".getAttribute('data-first-point')",
                                                "returnByValue": True}, session)["result"].get("value")
            if first:
                fx, fy = (float(v) for v in first.split(","))
                res.hover["scatter"] = _hover(b, session, "[data-scatter] canvas", fx, fy)
        b.call("Input.dispatchMouseEvent", {"type": "mouseMoved", "x": 1, "y": 1}, session)
        b.call("Runtime.evaluate", {"expression": "window.scrollTo(0, 0)"}, session)
        b.pump(0.3)
        if screenshot is not None:
            shot = b.call("Page.captureScreenshot", {"format": "png"}, session)
            Path(screenshot).write_bytes(base64.b64decode(shot["data"]))
            res.screenshots.append(str(screenshot))
        if full_page is not None:
            height = min(int(res.page.get("height") or HEIGHT), 30000)
            shot = b.call("Page.captureScreenshot", {
                "format": "png", "captureBeyondViewport": True,
                "clip": {"x": 0, "y": 0, "width": WIDTH, "height": height, "scale": 1},
            }, session)
            Path(full_page).write_bytes(base64.b64decode(shot["data"]))
            res.screenshots.append(str(full_page))
        res.clicks = b.call("Runtime.evaluate", {"expression": _EXERCISE, "returnByValue": True},
                            session)["result"].get("value", {})
        b.pump(0.2)
    finally:
        b.close()
    for ev in b.events:
        m, p = ev["method"], ev.get("params", {})
        if m == "Runtime.consoleAPICalled":
            text = _text(p.get("args", []))
            if p.get("type") in ("error", "assert"):
                res.console_errors.append(text)
            elif p.get("type") == "warning":
                res.console_warnings.append(text)
        elif m == "Runtime.exceptionThrown":
            d = p.get("exceptionDetails", {})
            res.console_errors.append(d.get("exception", {}).get("description") or d.get("text", "exception"))
        elif m == "Log.entryAdded":
            entry = p.get("entry", {})
            if entry.get("level") == "error":
                res.console_errors.append(f"{entry.get('source')}: {entry.get('text')} {entry.get('url', '')}".strip())
            elif entry.get("level") == "warning":
                res.console_warnings.append(entry.get("text", ""))
        elif m == "Network.requestWillBeSent":
            req_url = p.get("request", {}).get("url", "")
            res.requests.append(req_url[:120])
            if not (req_url == url or req_url.startswith("data:") or req_url == "about:blank"):
                res.outside_requests.append(req_url)
    return res


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("html", type=Path)
    ap.add_argument("--screenshot", type=Path, help="PNG of the first screen")
    ap.add_argument("--full", type=Path, help="PNG of the whole page")
    args = ap.parse_args(argv)
    res = render(args.html, args.screenshot, args.full)
    summary = {"url": res.url, "page": res.page, "hover": res.hover, "clicks": res.clicks, "requests": len(res.requests),
               "outside_requests": res.outside_requests, "console_errors": res.console_errors,
               "console_warnings": res.console_warnings, "screenshots": res.screenshots, "problems": res.problems}
    json.dump(summary, sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")
    return 1 if res.problems else 0


if __name__ == "__main__":
    sys.exit(main())
