"""A fingerprint of a folder tree, to prove that a refused write changed nothing."""

import hashlib
from pathlib import Path


def tree_digest(folder: Path) -> str:
    """SHA-256 over every path (hidden ones too), its kind and its bytes."""
    digest = hashlib.sha256()
    for path in sorted(Path(folder).rglob("*")):
        digest.update(str(path.relative_to(folder)).encode())
        digest.update(b"D" if path.is_dir() else b"F" + path.read_bytes())
    return digest.hexdigest()
