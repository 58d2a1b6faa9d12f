"""Regenerate the README's screenshot of the fleet report (docs/img/fleet-report.png).

Runs ``platscan demo`` in a temporary directory (the built-in demo fleet on 127.0.0.1, nothing
leaves the machine) and photographs its ``fleet.html`` in headless Chromium, full page.

Usage: .venv/bin/python scripts/screenshot_report.py [--lang en|vi] [--out docs/img/fleet-report.png]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.reports.browser import Chromium  # noqa: E402 - after the path is set


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lang", choices=("en", "vi"), default="en")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "img" / "fleet-report.png")
    parser.add_argument("--width", type=int, default=1360)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp) / "demo"
        platscan = [sys.executable, "-m", "scanner"]
        subprocess.run([*platscan, "demo", "--workdir", str(workdir), "--quiet"], check=True, cwd=ROOT)
        report = workdir / "fleet.html"
        if args.lang != "en":
            report = workdir / f"fleet.{args.lang}.html"
            db = workdir / "platscan-demo.db"
            subprocess.run(
                [*platscan, "report", "--db", str(db), "--format", "html", "--lang", args.lang, "-o", str(report)],
                check=True,
                cwd=ROOT,
            )
        args.out.parent.mkdir(parents=True, exist_ok=True)
        with Chromium(Path(tmp) / "profile", width=args.width) as browser:
            browser.open(report).screenshot(args.out, width=args.width)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
