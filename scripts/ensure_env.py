"""Give a fresh checkout a .env with its own SECRET_KEY, unless one is set already.

Plain Python (no Django yet): the settings refuse to start without a SECRET_KEY.
"""

import os
import secrets
from pathlib import Path

env_file = Path(__file__).resolve().parent.parent / ".env"
text = env_file.read_text() if env_file.exists() else ""
has_key = any(line.startswith("SECRET_KEY=") for line in text.splitlines())
if not has_key and not os.environ.get("SECRET_KEY"):
    if text and not text.endswith("\n"):
        text += "\n"
    env_file.write_text(text + f"SECRET_KEY={secrets.token_urlsafe(50)}\n")
    env_file.chmod(0o600)
    print(f"Wrote a new SECRET_KEY to {env_file}")
