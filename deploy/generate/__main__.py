"""`python deploy/generate [--check | --secrets]`. Run as a directory, whose own path Python puts
first on sys.path: replaced by deploy/ so the package imports as ``generate`` and its modules
never shadow top-level ones."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path[0] = str(Path(__file__).resolve().parents[1])

import generate  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(prog="python deploy/generate", description=generate.__doc__)
    parser.add_argument("--check", action="store_true", help="fail if files are out of date")
    parser.add_argument(
        "--skip-incomplete",
        action="store_true",
        help="leave out services whose settings module does not import yet",
    )
    parser.add_argument(
        "--secrets",
        action="store_true",
        help="print fresh random values for every password compose needs (> deploy/.env)",
    )
    args = parser.parse_args()
    if args.secrets:
        print(
            generate.compose_secrets(
                generate.discover(generate.ROOT, strict=not args.skip_incomplete)
            ),
            end="",
        )
        return 0
    if args.check:
        paths = generate.stale()
        for p in paths:
            print(f"out of date: {p.relative_to(generate.ROOT)}", file=sys.stderr)
        return 1 if paths else 0
    for p in (generate.K8S / "base").glob("*.yaml"):
        p.unlink()
    for path, text in generate.render(strict=not args.skip_incomplete).items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
