"""Does the original TypeScript client (``../shared/seed/SessionsWebSocket.ts``) still stream
from ``sesstail serve`` over v1? Run by hand: ``python tests/seed_client/check.py``.

It puts the seed file beside stand-ins for the Claude Code modules it imports (``stubs/``),
installs ``tsx`` and ``ws`` from the npm registry into a temporary directory, serves the demo
session, and streams it with the seed client to its result. Needs node and npm; not part of
the pytest suite (it downloads packages).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SEED = HERE.parents[2] / "shared" / "seed" / "SessionsWebSocket.ts"
ORG = "00000000-0000-4000-8000-000000000000"
PROMPT_ID = "perm_01DemoEditDatesPy"


def main() -> int:
    if not SEED.is_file():
        print(f"no seed client at {SEED}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="sesstail-seed-") as tmp:
        work = Path(tmp)
        shutil.copytree(HERE / "stubs", work / "src")
        (work / "src" / "remote").mkdir()
        shutil.copy(SEED, work / "src" / "remote" / "SessionsWebSocket.ts")
        (work / "package.json").write_text('{"name": "seed-check", "type": "module"}\n')
        subprocess.run(
            ["npm", "install", "--silent", "--no-audit", "--no-fund", "tsx@4", "ws@8"],
            cwd=work,
            check=True,
        )
        serve = subprocess.Popen(
            [sys.executable, "-m", "sesstail", "serve", "--port", "0", "--speed", "0"],
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert serve.stdout is not None
            base = serve.stdout.readline().split()[-1]  # "serving on http://…"
            session = serve.stdout.readline().split()[0]
            seed = subprocess.Popen(
                ["npx", "tsx", "src/run/main.ts", session, ORG, "any-token"],
                cwd=work,
                env={**os.environ, "SEED_BASE_URL": base.replace("http://", "ws://")},
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            # The demo session pauses on a permission prompt, which the seed client does not
            # answer: sesstail answers it from the side, over v1 as the seed speaks.
            time.sleep(8)
            subprocess.run(
                [
                    *(sys.executable, "-m", "sesstail", "allow", session, PROMPT_ID),
                    *("--base-url", base, "--api", "v1"),
                ],
                env={**os.environ, "CLAUDE_CODE_OAUTH_TOKEN": "any-token"},
                check=True,
            )
            out, err = seed.communicate(timeout=60)
            done = subprocess.CompletedProcess(seed.args, seed.returncode, out, err)
        finally:
            serve.terminate()
            serve.wait(10)
    lines = [json.loads(line) for line in done.stdout.splitlines() if line.strip()]
    kinds = [m.get("type") for m in lines]
    print(f"seed client: exit {done.returncode}, {len(lines)} messages, last {kinds[-1:]}")
    if done.stderr.strip():
        print(done.stderr.strip()[-2000:], file=sys.stderr)
    return 0 if done.returncode == 0 and kinds[-1:] == ["result"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
