#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Builds the image corpus that tests/image/corpus.sh imports, from local
files only (no network): OCI image layouts written by hand with Python's
tarfile, so that every case the image spec names is in a layer exactly as
the test wants it, tar order included. `umoci unpack` of the same layouts
is the oracle. Usage: make-corpus.py OUT BUSYBOX

OUT/good         one layout, several images (tags):
  layers         4 layers: tar, gzip, gzip, empty. Files, folders, setuid,
                 setgid, sticky, char/block devices (old and new encodings),
                 a fifo, relative/absolute/dangling symlinks, hardlinks in a
                 layer and to a lower layer's file, PAX long names, xattrs
                 (security.capability, user.*) on a file and a folder, 32-bit
                 owners; then whiteouts of a file and of a folder, an opaque
                 folder whose marker comes after the layer's new entry in it,
                 a replaced file, a folder over a folder (new mode), and a
                 later layer re-creating what an earlier one deleted.
  zstd           `layers` with its third layer zstd-compressed
  gnu            GNU tar long names and long link targets (././@LongLink)
  sparse         a GNU tar --sparse file with holes, 64 MiB long
  scratch        one static binary and nothing else (no folders listed)
OUT/docker.tar   the `layers` image as an old docker-archive (docker save)
OUT/bad-*        broken images, each refused: bad-digest, bad-diffid,
                 missing-manifest, truncated.tar, traversal, hardlink-out,
                 media-type, not-json
"""
import gzip
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile

OCI = "application/vnd.oci.image."
T0 = 1700000000


def sha(b):
    return hashlib.sha256(b).hexdigest()


class Layout:
    def __init__(self, path):
        self.path = path
        self.index = []
        os.makedirs(f"{path}/blobs/sha256", exist_ok=True)
        with open(f"{path}/oci-layout", "w") as f:
            json.dump({"imageLayoutVersion": "1.0.0"}, f)

    def blob(self, data):
        h = sha(data)
        with open(f"{self.path}/blobs/sha256/{h}", "wb") as f:
            f.write(data)
        return {"digest": "sha256:" + h, "size": len(data)}

    def image(self, tag, layers, config=None):
        """layers: (tar bytes, "tar" | "gzip" | "zstd") bottom first."""
        descs, diff_ids = [], []
        for tar, comp in layers:
            diff_ids.append("sha256:" + sha(tar))
            if comp == "gzip":
                data, mt = gzip.compress(tar, mtime=0), OCI + "layer.v1.tar+gzip"
            elif comp == "zstd":
                data = subprocess.run(["zstd", "-q", "-c"], input=tar, stdout=subprocess.PIPE, check=True).stdout
                mt = OCI + "layer.v1.tar+zstd"
            else:
                data, mt = tar, OCI + "layer.v1.tar"
            descs.append(dict(mediaType=mt, **self.blob(data)))
        cfg = {"architecture": "amd64", "os": "linux", "config": config or {"Cmd": ["/bin/sh"]},
               "rootfs": {"type": "layers", "diff_ids": diff_ids}}
        c = dict(mediaType=OCI + "config.v1+json", **self.blob(json.dumps(cfg).encode()))
        man = {"schemaVersion": 2, "mediaType": OCI + "manifest.v1+json", "config": c, "layers": descs}
        m = dict(mediaType=OCI + "manifest.v1+json", **self.blob(json.dumps(man).encode()))
        m["annotations"] = {"org.opencontainers.image.ref.name": tag}
        self.index.append(m)
        with open(f"{self.path}/index.json", "w") as f:
            json.dump({"schemaVersion": 2, "mediaType": OCI + "index.v1+json", "manifests": self.index}, f)
        return man, cfg


class Tar:
    def __init__(self, fmt=tarfile.PAX_FORMAT):
        self.buf = io.BytesIO()
        self.t = tarfile.open(fileobj=self.buf, mode="w", format=fmt)

    def _ti(self, name, type, mode, uid=0, gid=0, **kw):
        ti = tarfile.TarInfo(name)
        ti.type, ti.mode, ti.uid, ti.gid, ti.mtime = type, mode, uid, gid, T0
        for k, v in kw.items():
            setattr(ti, k, v)
        return ti

    def dir(self, name, mode=0o755, **kw):
        self.t.addfile(self._ti(name, tarfile.DIRTYPE, mode, **kw))

    def file(self, name, data=b"", mode=0o644, **kw):
        if isinstance(data, str):
            data = data.encode()
        ti = self._ti(name, tarfile.REGTYPE, mode, **kw)
        ti.size = len(data)
        self.t.addfile(ti, io.BytesIO(data))

    def symlink(self, name, target):
        self.t.addfile(self._ti(name, tarfile.SYMTYPE, 0o777, linkname=target))

    def hardlink(self, name, target):
        self.t.addfile(self._ti(name, tarfile.LNKTYPE, 0o644, linkname=target))

    def dev(self, name, type, major, minor, mode, **kw):
        self.t.addfile(self._ti(name, type, mode, devmajor=major, devminor=minor, **kw))

    def bytes(self):
        self.t.close()
        return self.buf.getvalue()


# VFS_CAP_REVISION_2 with CAP_NET_RAW permitted: every byte below 0x80,
# so the PAX record stays plain UTF-8 for every reader.
CAP = "\x01\x00\x00\x02\x00\x20\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"


def layers_image():
    a = Tar()
    a.dir("./")
    for d in ("bin", "etc", "usr", "usr/bin", "dev", "run", "data", "to_delete", "to_delete/b", "opq", "opq/old2",
              "keep", "home", "deep"):
        a.dir(d + "/")
    a.dir("tmp/", 0o1777)
    a.file("bin/busybox", "not really busybox\n", 0o755)
    a.symlink("bin/sh", "busybox")
    a.symlink("etc/localtime", "/usr/share/zoneinfo/UTC")
    a.file("etc/passwd", "root:x:0:0:root:/root:/bin/sh\nu:x:70000:70000::/home/u:/bin/sh\n")
    a.file("etc/shadow", "root:*:1::::::\n", 0o640, gid=42)
    a.file("usr/bin/su", "su\n", 0o4755)
    a.file("usr/bin/wall", "wall\n", 0o2755, gid=5)
    a.file("usr/bin/a", "linked data\n", 0o755)
    a.hardlink("usr/bin/b", "usr/bin/a")
    ping = a._ti("usr/bin/ping", tarfile.REGTYPE, 0o755)
    ping.pax_headers = {"SCHILY.xattr.security.capability": CAP, "SCHILY.xattr.user.note": "raw sockets"}
    ping.size = 5
    a.t.addfile(ping, io.BytesIO(b"ping\n"))
    data = a._ti("data/", tarfile.DIRTYPE, 0o755)
    data.pax_headers = {"SCHILY.xattr.user.dir": "a folder's attribute"}
    a.t.addfile(data)
    a.dev("dev/null", tarfile.CHRTYPE, 1, 3, 0o666)
    a.dev("dev/sda", tarfile.BLKTYPE, 8, 0, 0o660, gid=6)
    a.dev("dev/nvme0n1p300", tarfile.BLKTYPE, 259, 300, 0o660, gid=6)
    a.dev("run/fifo", tarfile.FIFOTYPE, 0, 0, 0o600)
    a.dir("home/u/", 0o700, uid=70000, gid=70000)
    a.file("home/u/file", "mine\n", 0o600, uid=70000, gid=70000)
    a.file("deep/" + "x" * 120 + "/" + "y" * 200, "a long name\n")
    a.file("to_delete/a", "a\n")
    a.file("to_delete/b/c", "c\n")
    a.file("gone.txt", "gone\n")
    a.file("opq/old1", "old\n")
    a.file("opq/old2/x", "old\n")
    a.file("keep/k", "kept\n")
    b = Tar()
    b.file(".wh.gone.txt")
    b.file(".wh.to_delete")
    b.file("opq/new", "new in the opaque folder\n")
    b.file("opq/.wh..wh..opq")  # after opq/new: must not hide it
    b.hardlink("usr/bin/c", "usr/bin/a")  # to the layer below's file
    b.file("etc/passwd", "root:x:0:0:root:/root:/bin/sh\n", 0o600)
    d2 = b._ti("data/", tarfile.DIRTYPE, 0o750)
    d2.pax_headers = {"SCHILY.xattr.user.dir": "replaced"}
    b.t.addfile(d2)
    c = Tar()
    c.dir("to_delete/")
    c.file("to_delete/fresh", "made again\n")
    c.file("gone.txt", "back\n", 0o600)
    empty = Tar()
    return [(a.bytes(), "tar"), (b.bytes(), "gzip"), (c.bytes(), "gzip"), (empty.bytes(), "tar")]


def gnu_image():
    g = Tar(tarfile.GNU_FORMAT)
    g.dir("g/")
    g.file("g/" + "n" * 150, "gnu long name\n")
    g.symlink("g/link", "/" + "t" * 180)
    g.hardlink("g/hard" + "h" * 120, "g/" + "n" * 150)
    return [(g.bytes(), "gzip")]


def sparse_image(tmp):
    d = f"{tmp}/sparse-src"
    os.makedirs(d, exist_ok=True)
    with open(f"{d}/holes", "wb") as f:
        f.write(b"start")
        f.seek(20 << 20)
        f.write(b"middle" * 1000)
        f.truncate(64 << 20)  # ends in a hole
    out = subprocess.run(["tar", "--sparse", "--format=posix", "--numeric-owner", "--owner=0", "--group=0",
                          "--mtime=@%d" % T0, "-cf", "-", "-C", d, "holes"], stdout=subprocess.PIPE, check=True).stdout
    return [(out, "gzip")]


def scratch_image(busybox):
    s = Tar()
    with open(busybox, "rb") as f:
        s.file("hello", f.read(), 0o755)
    return [(s.bytes(), "tar")]


def docker_archive(path, layers, tag):
    """The old docker save form: manifest.json, the config by its sha256,
    each layer an uncompressed tar."""
    t = tarfile.open(path, "w")

    def add(name, data):
        ti = tarfile.TarInfo(name)
        ti.size, ti.mtime = len(data), T0
        t.addfile(ti, io.BytesIO(data))

    paths, diff_ids = [], []
    for tar, _ in layers:
        h = sha(tar)
        diff_ids.append("sha256:" + h)
        add(f"{h}/layer.tar", tar)
        paths.append(f"{h}/layer.tar")
    cfg = json.dumps({"architecture": "amd64", "os": "linux", "config": {"Cmd": ["/bin/sh"]},
                      "rootfs": {"type": "layers", "diff_ids": diff_ids}}).encode()
    add(sha(cfg) + ".json", cfg)
    add("manifest.json", json.dumps([{"Config": sha(cfg) + ".json", "RepoTags": [tag], "Layers": paths}]).encode())
    t.close()


def broken(out, busybox):
    ok = scratch_image(busybox)

    def fresh(name, layers=ok, tag="latest"):
        lay = Layout(f"{out}/{name}")
        man, cfg = lay.image(tag, layers)
        return lay, man, cfg

    lay, man, _ = fresh("bad-digest")
    p = f"{lay.path}/blobs/sha256/{man['layers'][0]['digest'][7:]}"
    with open(p, "r+b") as f:
        f.seek(600)
        f.write(b"X")
    lay, man, cfg = fresh("bad-diffid")
    cfg["rootfs"]["diff_ids"] = ["sha256:" + "0" * 64]
    man["config"] = dict(mediaType=OCI + "config.v1+json", **lay.blob(json.dumps(cfg).encode()))
    lay.index = [dict(mediaType=OCI + "manifest.v1+json", **lay.blob(json.dumps(man).encode()),
                      annotations={"org.opencontainers.image.ref.name": "latest"})]
    with open(f"{lay.path}/index.json", "w") as f:
        json.dump({"schemaVersion": 2, "manifests": lay.index}, f)
    lay, man, _ = fresh("missing-manifest")
    os.unlink(f"{lay.path}/blobs/sha256/{lay.index[0]['digest'][7:]}")
    lay, _, _ = fresh("truncated-src")
    subprocess.run(["tar", "-cf", f"{out}/truncated.tar", "-C", lay.path, "."], check=True)
    size = os.path.getsize(f"{out}/truncated.tar")
    os.truncate(f"{out}/truncated.tar", size // 2)
    shutil.rmtree(lay.path)
    t = Tar()
    t.file("../evil", "outside\n")
    fresh("traversal", [(t.bytes(), "tar")])
    t = Tar()
    t.hardlink("etc/x", "../../etc/passwd")
    fresh("hardlink-out", [(t.bytes(), "tar")])
    lay, man, _ = fresh("media-type")
    man["layers"][0]["mediaType"] = OCI + "layer.v1.tar+lz4"
    lay.index = [dict(mediaType=OCI + "manifest.v1+json", **lay.blob(json.dumps(man).encode()),
                      annotations={"org.opencontainers.image.ref.name": "latest"})]
    with open(f"{lay.path}/index.json", "w") as f:
        json.dump({"schemaVersion": 2, "manifests": lay.index}, f)
    lay = Layout(f"{out}/not-json")
    lay.index = [dict(mediaType=OCI + "manifest.v1+json", **lay.blob(b"this is not JSON"),
                      annotations={"org.opencontainers.image.ref.name": "latest"})]
    with open(f"{lay.path}/index.json", "w") as f:
        json.dump({"schemaVersion": 2, "manifests": lay.index}, f)


def main():
    out, busybox = sys.argv[1], sys.argv[2]
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    good = Layout(f"{out}/good")
    layers = layers_image()
    good.image("layers", layers)
    # The same layers, the third zstd-compressed: umoci 0.4 cannot read
    # zstd, so its oracle is the unpack of `layers` (same diff_ids).
    good.image("zstd", [(t, "zstd" if i == 2 else c) for i, (t, c) in enumerate(layers)])
    good.image("gnu", gnu_image())
    good.image("sparse", sparse_image(out))
    good.image("scratch", scratch_image(busybox), {"Entrypoint": ["/hello"]})
    docker_archive(f"{out}/docker.tar", layers, "corpus/layers:v1")
    broken(out, busybox)


if __name__ == "__main__":
    main()
