"""A month's meter-data folder, entry by entry: every entry is a file to read, or named with the
reason it is not read, so nothing in the folder goes unaccounted for.

What is read: every regular file, whatever its name (the reader knows a zip or gzip delivery by
its first bytes and rejects, with the reason, a file that is not NEM12), and the files of every
folder inside the month's folder, at any depth (on S3 a key under a deeper prefix is the same
thing). A symbolic link is followed. What is named instead (:class:`Unread`):

- ``dangling_link``: a link whose target does not exist;
- ``symlink_loop``: a link that resolves to itself (``a -> b -> a``), or leads to a folder that
  holds it (a folder that would be read forever);
- ``already_read``: a link to a file or folder that is read under another name already (a
  file's register-days are read once; the real entries are walked before any link), or a
  second hard link of a file;
- ``not_a_file``: a named pipe, socket or device;
- ``unreadable_entry``: an entry (or folder) that cannot be looked at or listed (permissions, an
  I/O error; on S3, an object that cannot be fetched).

Pure: no Dagster; the S3 listing (in the meter-data resource) gives the same :class:`MonthEntries`.
"""

from __future__ import annotations

import errno
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True, order=True)
class Unread:
    """An entry of the month's folder that is not read: where it is, a code and the reason."""

    source: str
    code: str
    reason: str


@dataclass
class MonthEntries:
    """The month folder's files to read, as (local path, source name) sorted by source, and its
    entries that are not read."""

    files: list[tuple[Path, str]] = field(default_factory=list)
    unread: list[Unread] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.files or self.unread)


_KINDS = (
    (stat.S_ISFIFO, "a named pipe"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
)


def local_month_entries(folder: Path) -> MonthEntries:
    """Every entry under ``folder`` (the month's folder); an absent folder has none. The real
    folders are walked first, in name order, and symbolic links after them, so a link to a file
    or folder that is in the month's folder anyway is the one named ``already_read``."""
    out = MonthEntries()
    try:
        top = os.stat(folder)
    except OSError:
        return out
    if not stat.S_ISDIR(top.st_mode):
        return out
    key = (top.st_dev, top.st_ino)
    seen = {key: str(folder)}  # every folder and file read, by device and inode: the name it is read by
    links: list[tuple[Path, tuple]] = []  # (link, the folders that hold it), followed after the real tree
    _walk(folder, (key,), seen, out, links)
    while links:
        path, ancestors = links.pop(0)
        _entry(path, True, ancestors, seen, out, links)
    out.files.sort(key=lambda f: f[1])
    out.unread.sort()
    return out


def _walk(folder: Path, ancestors: tuple, seen: dict, out: MonthEntries, links: list) -> None:
    try:
        with os.scandir(folder) as it:
            entries = sorted(it, key=lambda e: e.name)
    except OSError as exc:
        out.unread.append(Unread(str(folder), "unreadable_entry", f"folder cannot be listed: {_why(exc)}"))
        return
    for entry in entries:
        if entry.is_symlink():
            links.append((Path(entry.path), ancestors))
        else:
            _entry(Path(entry.path), False, ancestors, seen, out, links)


def _entry(path: Path, link: bool, ancestors: tuple, seen: dict, out: MonthEntries, links: list) -> None:
    try:
        st = os.stat(path)  # follows a link
    except OSError as exc:
        out.unread.append(_unstatable(path, link, exc))
        return
    key = (st.st_dev, st.st_ino)
    what = f"link to {_target(path)}" if link else "a hard link"
    if stat.S_ISDIR(st.st_mode) and key in ancestors:
        out.unread.append(
            Unread(
                str(path),
                "symlink_loop",
                f"{what} leads back to the folder {seen[key]} that holds it: a loop, not followed",
            )
        )
    elif key in seen and (stat.S_ISDIR(st.st_mode) or stat.S_ISREG(st.st_mode)):
        kind = "folder" if stat.S_ISDIR(st.st_mode) else "file"
        out.unread.append(
            Unread(str(path), "already_read", f"{what}: the same {kind} as {seen[key]}, which is read: not read twice")
        )
    elif stat.S_ISDIR(st.st_mode):
        seen[key] = str(path)
        _walk(path, (*ancestors, key), seen, out, links)
    elif stat.S_ISREG(st.st_mode):
        seen[key] = str(path)
        out.files.append((path, str(path)))
    else:
        kind = next((name for test, name in _KINDS if test(st.st_mode)), "not a regular file")
        out.unread.append(Unread(str(path), "not_a_file", f"{kind}, not a file: not read"))


def _unstatable(path: Path, link: bool, exc: OSError) -> Unread:
    if link and exc.errno == errno.ELOOP:
        return Unread(str(path), "symlink_loop", f"link to {_target(path)} resolves to itself (a loop): not read")
    if link and exc.errno == errno.ENOENT:
        return Unread(str(path), "dangling_link", f"link to {_target(path)}, which does not exist: not read")
    return Unread(str(path), "unreadable_entry", f"cannot be looked at: {_why(exc)}")


def _target(path: Path) -> str:
    try:
        return os.readlink(path)
    except OSError:
        return "?"


def _why(exc: OSError) -> str:
    return exc.strerror or str(exc)
