#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""The two images bench/image times, as OCI layouts under OUT:
  big    one gzip layer holding one 100 MiB file (incompressible bytes)
  small  one gzip layer holding 10,000 files of 1 to 4 KiB in 100 folders
usage: make-images.py OUT"""
import gzip
import hashlib
import io
import json
import os
import random
import sys
import tarfile

OCI = "application/vnd.oci.image."


def layout(path, tar):
    os.makedirs(f"{path}/blobs/sha256", exist_ok=True)

    def blob(b):
        h = hashlib.sha256(b).hexdigest()
        with open(f"{path}/blobs/sha256/{h}", "wb") as f:
            f.write(b)
        return {"digest": "sha256:" + h, "size": len(b)}

    layer = gzip.compress(tar, compresslevel=6, mtime=0)
    cfg = {"architecture": "amd64", "os": "linux",
           "rootfs": {"type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(tar).hexdigest()]}}
    man = {"schemaVersion": 2, "mediaType": OCI + "manifest.v1+json",
           "config": dict(mediaType=OCI + "config.v1+json", **blob(json.dumps(cfg).encode())),
           "layers": [dict(mediaType=OCI + "layer.v1.tar+gzip", **blob(layer))]}
    m = dict(mediaType=OCI + "manifest.v1+json", **blob(json.dumps(man).encode()),
             annotations={"org.opencontainers.image.ref.name": "latest"})
    with open(f"{path}/index.json", "w") as f:
        json.dump({"schemaVersion": 2, "manifests": [m]}, f)
    with open(f"{path}/oci-layout", "w") as f:
        json.dump({"imageLayoutVersion": "1.0.0"}, f)


def tar_of(entries):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        for name, data in entries:
            ti = tarfile.TarInfo(name)
            ti.mtime = 1700000000
            if data is None:
                ti.type, ti.mode = tarfile.DIRTYPE, 0o755
                t.addfile(ti)
            else:
                ti.size, ti.mode = len(data), 0o644
                t.addfile(ti, io.BytesIO(data))
    return buf.getvalue()


def main():
    out = sys.argv[1]
    rnd = random.Random(1)
    layout(f"{out}/big", tar_of([("data/", None), ("data/blob", rnd.randbytes(100 << 20))]))
    words = [bytes(rnd.choice(b"abcdefghij klmnop\n") for _ in range(64)) for _ in range(256)]
    entries = []
    for d in range(100):
        entries.append((f"d{d:03}/", None))
        for f in range(100):
            n = rnd.randint(16, 64)
            entries.append((f"d{d:03}/f{f:03}.txt", b"".join(rnd.choice(words) for _ in range(n))))
    layout(f"{out}/small", tar_of(entries))


if __name__ == "__main__":
    main()
