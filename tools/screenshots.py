"""Screenshots of the built site in headless Chromium, to look at pages as a reader does.

    python tools/screenshots.py [PAGE ...]      (after `make docs`)

Writes build/screenshots/PAGE.png (1280 px wide) for each page, by default the
landing, training, performance and API pages, from docs/_build/html.  Needs a
Chromium on PATH (`chromium`, `chromium-browser` or `google-chrome`; Debian's
package is `chromium`); nothing in the test suite depends on it.
"""
import os
import shutil
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SITE = os.path.join(ROOT, "docs", "_build", "html")
OUT = os.path.join(ROOT, "build", "screenshots")
PAGES = ["index", "training", "performance", "api"]


def browser():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def main(pages):
    exe = browser()
    if exe is None:
        print("screenshots: no Chromium on PATH (apt-get install chromium)", file=sys.stderr)
        return 2
    if not os.path.isdir(SITE):
        print("screenshots: docs/_build/html is not there: run `make docs` first",
              file=sys.stderr)
        return 2
    os.makedirs(OUT, exist_ok=True)
    for page in pages or PAGES:
        src = os.path.join(SITE, page + ".html")
        if not os.path.isfile(src):
            print(f"screenshots: no page {page!r} in the built site", file=sys.stderr)
            return 2
        png = os.path.join(OUT, page + ".png")
        # --no-sandbox: a container's root user has no user namespace for it
        subprocess.run([exe, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                        "--window-size=1280,2400", f"--screenshot={png}", "file://" + src],
                       check=True, capture_output=True, timeout=120)
        print(png)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
