#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Lists a file tree as lines to compare: for every path its type, mode,
uid, gid, size, content sha256, symlink target, device numbers and xattrs,
then its hardlink group. Two readers that share no code with plugvm:
  tree.py dir ROOT     a folder on the host (what `umoci unpack` made), by lstat
  tree.py ext4 IMAGE   an ext4 image, read by e2fsprogs' debugfs only (never
                       mounted): `ls -p` for inodes, `stat` for device numbers,
                       `ea_list` for xattrs, `rdump` for contents and link targets
"""
import hashlib
import os
import re
import stat
import subprocess
import sys
import tempfile

FMT = {stat.S_IFDIR: "dir", stat.S_IFREG: "file", stat.S_IFLNK: "symlink", stat.S_IFCHR: "chr",
       stat.S_IFBLK: "blk", stat.S_IFIFO: "fifo", stat.S_IFSOCK: "sock"}


def digest(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def line(path, mode, uid, gid, size, content, link, rdev, xattrs):
    kind = FMT.get(stat.S_IFMT(mode), "?")
    if kind != "file":
        size = content = "-"
    xa = ",".join(f"{k}={v.hex()}" for k, v in sorted(xattrs.items())) or "-"
    return f"{path} {kind} {stat.S_IMODE(mode):04o} {uid}:{gid} size={size} sha256={content} link={link or '-'} rdev={rdev or '-'} xattrs={xa}"


def groups(inodes):
    out = []
    for paths in inodes.values():
        if len(paths) > 1:
            out.append("hardlinks " + " ".join(sorted(paths)))
    return sorted(out)


def from_dir(root):
    lines, inodes = [], {}
    for dirpath, dirs, files in os.walk(root):
        for name in [""] + dirs + files if dirpath == root else dirs + files:
            p = os.path.join(dirpath, name) if name else root
            rel = "/" + os.path.relpath(p, root) if p != root else "/"
            st = os.lstat(p)
            link = os.readlink(p) if stat.S_ISLNK(st.st_mode) else None
            content = digest(p) if stat.S_ISREG(st.st_mode) else None
            rdev = None
            if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
                rdev = f"{os.major(st.st_rdev)}:{os.minor(st.st_rdev)}"
            xattrs = {k: os.getxattr(p, k, follow_symlinks=False) for k in os.listxattr(p, follow_symlinks=False)}
            lines.append(line(rel, st.st_mode, st.st_uid, st.st_gid, st.st_size, content, link, rdev, xattrs))
            if not stat.S_ISDIR(st.st_mode):
                inodes.setdefault(st.st_ino, []).append(rel)
    return sorted(lines) + groups(inodes)


def debugfs(image, cmds):
    """Runs the commands through one debugfs -f; returns each one's output."""
    with tempfile.NamedTemporaryFile("w", suffix=".cmds") as f:
        f.write("".join(c + "\n" for c in cmds))
        f.flush()
        out = subprocess.run(["debugfs", "-f", f.name, image], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                             check=True).stdout.decode("utf-8", "surrogateescape")
    parts = re.split(r"^debugfs: (.*)$", out, flags=re.M)
    return [parts[i + 1] for i in range(1, len(parts), 2)]


def quote(p):
    return '"' + p + '"'


def from_ext4(image):
    entries = {"/": None}  # path -> (ino, mode, uid, gid, size)
    todo = ["/"]
    while todo:
        outs = debugfs(image, [f"ls -p {quote(d)}" for d in todo])
        nxt = []
        for d, out in zip(todo, outs):
            for m in re.finditer(r"^/(\d+)/(\d+)/(\d+)/(\d+)/(.*)/(\d*)/$", out, flags=re.M):
                ino, mode, uid, gid, name, size = m.groups()
                mode = int(mode, 8)
                if name == ".":
                    if d == "/":
                        entries["/"] = (int(ino), mode, int(uid), int(gid), 0)
                    continue
                if name == "..":
                    continue
                p = (d.rstrip("/") + "/" + name)
                entries[p] = (int(ino), mode, int(uid), int(gid), int(size or 0))
                if stat.S_ISDIR(mode):
                    nxt.append(p)
        todo = nxt
    paths = sorted(entries)
    eas = debugfs(image, [f"ea_list {quote(p)}" for p in paths])
    devs = [p for p in paths if stat.S_ISCHR(entries[p][1]) or stat.S_ISBLK(entries[p][1])]
    stats = dict(zip(devs, debugfs(image, [f"stat {quote(p)}" for p in devs]))) if devs else {}
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(["debugfs", "-R", f"rdump / {tmp}", image], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, check=True)
        lines, inodes = [], {}
        for p, ea in zip(paths, eas):
            ino, mode, uid, gid, size = entries[p]
            local = tmp + p
            content = digest(local) if stat.S_ISREG(mode) else None
            link = os.readlink(local) if stat.S_ISLNK(mode) else None
            rdev = None
            if p in stats:
                m = re.search(r"Device major/minor number: (\d+):(\d+)", stats[p])
                rdev = f"{int(m.group(1))}:{int(m.group(2))}" if m else "?"
            xattrs = {}
            for m in re.finditer(r"^\s+(\S+) \((\d+)\)(?: = (.*))?$", ea, flags=re.M):
                v = m.group(3) or ""
                if v.startswith('"'):
                    val = v[1:-1].encode("utf-8", "surrogateescape")
                else:
                    val = bytes(int(x, 16) for x in v.split())
                xattrs[m.group(1)] = val
            lines.append(line(p, mode, uid, gid, size, content, link, rdev, xattrs))
            if not stat.S_ISDIR(mode):
                inodes.setdefault(ino, []).append(p)
    return sorted(lines) + groups(inodes)


if __name__ == "__main__":
    kind, where = sys.argv[1], sys.argv[2]
    for l in (from_dir(where) if kind == "dir" else from_ext4(where)):
        print(l)
