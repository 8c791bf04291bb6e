"""Run the whole test suite, inside a loopback-only network namespace when possible.

As root on Linux, the suite runs under ``unshare -n`` with only the loopback
interface up: then no test can reach any other host, even by mistake. As any
other user it runs directly; the tests use 127.0.0.1 only either way.

Extra arguments are passed to pytest.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys


def main() -> int:
    pytest = [sys.executable, "-m", "pytest", *sys.argv[1:]]
    isolated = (
        os.geteuid() == 0
        and shutil.which("unshare") is not None
        and shutil.which("ip") is not None
        and subprocess.call(["unshare", "-n", "true"], stderr=subprocess.DEVNULL) == 0
    )
    if not isolated:
        print("running the tests without network isolation (not root)", flush=True)
        return subprocess.call(pytest)
    print("running the tests in a network namespace with loopback only", flush=True)
    script = 'ip link set lo up && exec "$@"'
    return subprocess.call(["unshare", "-n", "sh", "-c", script, "sh", *pytest])


if __name__ == "__main__":
    sys.exit(main())
