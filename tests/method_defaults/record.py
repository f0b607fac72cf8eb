"""Each built-in method's revision and the defaults of the profile keys it reads, in every profile.

``recorded.txt`` beside this file holds what this prints (``PYTHONPATH=. python
tests/method_defaults/record.py > tests/method_defaults/recorded.txt``).  ``tests/test_method_revision.py``
compares today's lines with it: a method whose declared defaults changed must also have bumped its
``revision`` (a cell's identity holds the ``--set`` overrides, not the defaults), and then the
recording is renewed with the command above.
"""

from __future__ import annotations


def default_lines() -> list[str]:
    """``method revision=<n> profile key=value``, one line per (method, profile, key the method reads)."""
    from benchmark.plugins import METHODS
    from benchmark.profile_keys import REQUIRED, declared
    from benchmark.profiles import PROFILES, key_applies
    from benchmark.registry import load_plugins

    load_plugins()
    keys = declared()
    lines = []
    for method in METHODS.names():
        revision = getattr(METHODS.factory(method), "revision", 0)
        for profile in sorted(PROFILES):
            for name, key in keys.items():
                if key.default is not REQUIRED and key_applies(key.owner, method):
                    lines.append(
                        f"{method} revision={revision} {profile} {name}={key.check(key.default_for(profile))!r}"
                    )
    return lines


if __name__ == "__main__":
    print("\n".join(default_lines()))
