#!/usr/bin/env python3
"""The AWS CLI of the lab's venv, many commands in one process.

Reads one JSON array of arguments a line (what follows `aws` on a command
line), runs each with the real AWS CLI driver (`awscli.clidriver`, the code
the `aws` script runs) and answers one JSON line: {"rc", "stdout", "stderr"}.
One process for all of a test binary's commands saves the CLI's ~0.5 s of
start-up per command, and one data loader shared by every command's fresh
driver its ~0.2 s of reading the service models again (a driver itself is
not reusable: its customizations keep per-command state). The environment (AWS_ENDPOINT_URL, dummy credentials,
region) is the caller's. Exits at EOF.
"""
import contextlib
import io
import json
import sys

import botocore.session
from awscli.clidriver import CLIDriver, EnvironmentVariables, _set_user_agent_for_session, load_plugins

LOADER = None


def create_clidriver():
    """awscli.clidriver.create_clidriver, with the first driver's data loader
    (which caches the service models it has read) given to every later one."""
    global LOADER
    session = botocore.session.Session(EnvironmentVariables)
    if LOADER is None:
        LOADER = session.get_component("data_loader")
    else:
        session.register_component("data_loader", LOADER)
    _set_user_agent_for_session(session)
    load_plugins(session.full_config.get("plugins", {}), event_hooks=session.get_component("event_emitter"))
    return CLIDriver(session=session)


def run(argv):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            rc = create_clidriver().main(argv)
        except SystemExit as e:
            rc = e.code if isinstance(e.code, int) else 1
        except Exception as e:  # the CLI reports its own errors; this is ours
            print(f"aws_cli.py: {type(e).__name__}: {e}", file=sys.stderr)
            rc = 255
    return {"rc": rc, "stdout": out.getvalue(), "stderr": err.getvalue()}


def main():
    answers = sys.stdout
    for line in sys.stdin:
        if line.strip():
            answers.write(json.dumps(run(json.loads(line))) + "\n")
            answers.flush()


if __name__ == "__main__":
    main()
