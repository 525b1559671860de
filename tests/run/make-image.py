#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Builds the image tests/run/ runs: an OCI layout OUT holding one image,
tag "box", written with tests/image/make-corpus.py's Layout and Tar (local
files only). Usage: make-image.py OUT BUSYBOX

The image: /bin/busybox (busybox-static) with its applets as symlinks in
/bin, /etc/passwd with root and "app" (1000:1000, home /home/app),
/etc/group with "app" and "staff" (50, listing app), /srv/data.txt, and a
config with Env PATH=/bin and IMAGE_VAR=from-image, WorkingDir /srv and
Cmd ["sh", "-c", "echo hello from the image"].
"""
import importlib.util
import os
import sys

here = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location("corpus", os.path.join(here, "..", "image", "make-corpus.py"))
corpus = importlib.util.module_from_spec(spec)
spec.loader.exec_module(corpus)

APPLETS = """sh ash cat echo env id pwd ls mkdir rm sleep true false kill head tail wc sha256sum dd
hostname date uname sync printf test grep sed tr od hexdump mount stat touch chmod tty stty""".split()


def main():
    out, busybox = sys.argv[1], sys.argv[2]
    t = corpus.Tar()
    for d in ("bin", "etc", "srv", "home", "root"):
        t.dir(d)
    t.dir("home/app", uid=1000, gid=1000)
    with open(busybox, "rb") as f:
        t.file("bin/busybox", f.read(), 0o755)
    for a in APPLETS:
        t.symlink("bin/" + a, "busybox")
    t.file("etc/passwd", "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\n")
    t.file("etc/group", "root:x:0:\napp:x:1000:\nstaff:x:50:app\n")
    t.file("srv/data.txt", "data from the image\n")
    config = {"Env": ["PATH=/bin", "IMAGE_VAR=from-image"], "WorkingDir": "/srv",
              "Cmd": ["sh", "-c", "echo hello from the image"]}
    corpus.Layout(out).image("box", [(t.bytes(), "gzip")], config)


if __name__ == "__main__":
    main()
