"""prodclone.proc: real children, real signals, real process groups."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from prodclone import proc

PY = sys.executable


def gone(pid: int) -> bool:
    """Not running: no such process, or a zombie waiting for whoever adopted it."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def wait_for(path: Path, seconds: float = 10.0) -> str:
    deadline = time.monotonic() + seconds
    while not (path.exists() and path.read_text().strip()):
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.02)
    return path.read_text().strip()


def kill_quietly(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


def test_stopping_kills_the_child_and_its_grandchild(tmp_path: Path) -> None:
    grandchild = tmp_path / "grandchild.pid"
    # The shell backgrounds the grandchild: a background job of a script ignores SIGINT.
    process = proc.start(f"sleep 60 & echo $! > {grandchild}; wait", shell=True)
    pid = int(wait_for(grandchild))
    try:
        proc.stop(process, interrupt_grace=0.5, terminate_grace=2)
        assert process.returncode is not None  # reaped
        assert gone(pid)
        assert not proc.group_alive(process.pid)
    finally:
        kill_quietly(pid)


def test_the_child_leads_a_group_of_its_own() -> None:
    process = proc.start(["sleep", "30"])
    try:
        assert os.getpgid(process.pid) == process.pid != os.getpgid(0)
    finally:
        proc.stop(process)


def test_a_child_ignoring_sigint_is_escalated_to_sigterm_then_sigkill(tmp_path: Path) -> None:
    log = tmp_path / "signals"
    ready = tmp_path / "ready"
    script = (
        "import signal, sys, time\n"
        f"log = open({str(log)!r}, 'a')\n"
        "def note(signum, frame):\n"
        "    log.write(signal.Signals(signum).name + '\\n'); log.flush()\n"
        "signal.signal(signal.SIGINT, note)\n"
        "signal.signal(signal.SIGTERM, note)\n"
        f"open({str(ready)!r}, 'w').write('1')\n"
        "while True: time.sleep(0.05)\n"
    )
    process = proc.start([PY, "-c", script])
    wait_for(ready)
    started = time.monotonic()
    proc.stop(process, interrupt_grace=0.5, terminate_grace=0.5)
    assert log.read_text().split() == ["SIGINT", "SIGTERM"]
    assert process.returncode == -signal.SIGKILL
    assert 0.9 < time.monotonic() - started < 10


def test_a_child_that_ends_on_sigint_gets_nothing_more(tmp_path: Path) -> None:
    process = proc.start([PY, "-c", "import time; time.sleep(30)"])
    time.sleep(0.3)
    started = time.monotonic()
    proc.stop(process, interrupt_grace=5, terminate_grace=5)
    assert process.returncode not in (None, -signal.SIGKILL, -signal.SIGTERM)
    assert time.monotonic() - started < 4


def test_invalid_utf8_and_latin1_output_is_read() -> None:
    raw = "café ".encode("latin-1") + b"\xff\xfe broken " + "naïve\n".encode()
    code = f"import sys; sys.stdout.buffer.write({raw!r}); sys.stderr.buffer.write(b'\\xe9rr\\n')"
    finished = proc.run([PY, "-c", code])
    assert finished.ok
    assert finished.output.splitlines() == ["caf\ufffd \ufffd\ufffd broken naïve", "\ufffdrr"]
    process = proc.start([PY, "-c", code])
    assert process.stdout is not None
    assert list(proc.lines(process.stdout)) == [
        "caf\ufffd \ufffd\ufffd broken naïve\n",
        "\ufffdrr\n",
    ]
    process.wait()


def test_a_timeout_stops_the_whole_group(tmp_path: Path) -> None:
    grandchild = tmp_path / "grandchild.pid"
    started = time.monotonic()
    # The background `sleep` ignores SIGINT (a shell's background job does): SIGTERM
    # ends it, a second later.
    finished = proc.run(
        f"sleep 60 & echo $! > {grandchild}; sleep 60", shell=True, timeout=1, grace=1.0
    )
    pid = int(wait_for(grandchild))
    try:
        assert finished.timed_out and not finished.ok
        assert gone(pid)
        assert time.monotonic() - started < 20
    finally:
        kill_quietly(pid)


def test_an_interrupt_during_run_stops_the_group_and_goes_on(tmp_path: Path) -> None:
    """Ctrl-C (a KeyboardInterrupt in the waiting thread) stops the group, then is raised."""
    pidfile = tmp_path / "child.pid"
    code = (
        "import signal, sys\n"
        "from prodclone import proc\n"
        "signal.signal(signal.SIGALRM, lambda *a: (_ for _ in ()).throw(KeyboardInterrupt))\n"
        "signal.alarm(1)\n"
        "try:\n"
        f"    proc.run('echo $$ > {pidfile}; exec sleep 60', shell=True)\n"
        "except KeyboardInterrupt:\n"
        "    print('interrupted')\n"
    )
    done = subprocess.run([PY, "-c", code], capture_output=True, text=True, timeout=30)
    assert done.stdout.strip() == "interrupted", done.stderr
    pid = int(wait_for(pidfile))
    try:
        assert gone(pid)
    finally:
        kill_quietly(pid)


def test_stopping_a_child_that_already_ended_only_reaps_it() -> None:
    process = proc.start(["true"])
    process.wait()
    proc.stop(process)
    assert process.returncode == 0


def test_stop_adopted_stops_a_group_that_is_not_our_child(tmp_path: Path) -> None:
    """A killed run's app: its leader's parent is gone, we only have the group id."""
    pidfile = tmp_path / "leader.pid"
    # setsid's child leads a new group; setsid itself exits, so the group is not ours.
    subprocess.Popen(
        ["setsid", "-f", "sh", "-c", f"echo $$ > {pidfile}; trap '' INT; sleep 60 & wait"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
    ).wait()
    leader = int(wait_for(pidfile))
    try:
        assert proc.group_alive(leader)
        assert proc.stop_adopted(leader, interrupt_grace=0.3, terminate_grace=2)
        deadline = time.monotonic() + 5
        while proc.group_alive(leader) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not proc.group_alive(leader)
        assert not proc.stop_adopted(leader)
    finally:
        kill_quietly(leader)


def test_decode_never_fails() -> None:
    assert proc.decode(bytes(range(256))).count("\ufffd") == 128


def test_no_child_gets_the_mask_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INVOKE_PRODCLONE_MASK_SECRET", "s3cret-for-masking")
    inherited = proc.run(["env"])
    given = proc.run(["env"], env=dict(os.environ))
    for result in (inherited, given):
        assert "s3cret-for-masking" not in result.output


def test_the_secrets_kept_from_children_are_the_settings_secrets() -> None:
    from prodclone.settings.table import BY_PATH

    secret = BY_PATH["prodclone.mask.secret"]
    assert secret.env_var in proc.group.SECRET_ENV_VARS
