#!/usr/bin/env python
"""Django's command line. Beside a running `make run` it uses that lab's embedded servers (found under
LAB_DATA_DIR, .lab/); with none running and DATABASE_URL / REDIS_URL unset it starts them for the command."""
import os
import sys
from pathlib import Path

VENV = Path(__file__).resolve().parent / ".venv"

if __name__ == "__main__":
    try:
        import django  # noqa: F401
    except ImportError:
        # `python manage.py ...` from a shell without the virtual environment `make` made
        if (VENV / "bin" / "python").exists() and Path(sys.prefix).resolve() != VENV.resolve():
            os.execv(VENV / "bin" / "python", [str(VENV / "bin" / "python"), *sys.argv])
        raise
    from webapp.entry import manage_environment

    with manage_environment():
        from django.core.management import execute_from_command_line

        execute_from_command_line(sys.argv)
