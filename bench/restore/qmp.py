#!/usr/bin/env python3
"""QMP for bench/restore/run.sh: QEMU's side of a snapshot.

  qmp.py SOCK migrate URI   migrate the (running) VM to URI with no bandwidth
                            cap; wait until done; print one line:
                            wall_ms=.. total_ms=.. downtime_ms=.. setup_ms=..
                            (wall: from sending `migrate` to seeing `completed`,
                            polled every millisecond; the rest QEMU's own)
  qmp.py SOCK quit          quit QEMU
Exit status 1 when the migration fails.
"""
import json
import socket
import sys
import time


class QMP:
    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.connect(path)
        self.f = self.sock.makefile("rw")
        self._reply()  # the greeting
        self.cmd("qmp_capabilities")

    def _reply(self):
        while True:
            line = self.f.readline()
            if not line:
                raise SystemExit("qmp.py: QEMU closed the QMP socket")
            msg = json.loads(line)
            if "event" not in msg:
                return msg

    def cmd(self, name, **args):
        req = {"execute": name}
        if args:
            req["arguments"] = args
        self.f.write(json.dumps(req) + "\n")
        self.f.flush()
        msg = self._reply()
        if "error" in msg:
            raise SystemExit(f"qmp.py: {name}: {msg['error'].get('desc', msg['error'])}")
        return msg.get("return")


def main():
    if len(sys.argv) < 3:
        raise SystemExit(__doc__)
    q = QMP(sys.argv[1])
    if sys.argv[2] == "quit":
        try:
            q.cmd("quit")
        except SystemExit:
            pass
        return 0
    if sys.argv[2] != "migrate" or len(sys.argv) != 4:
        raise SystemExit(__doc__)
    # QEMU 7.2 caps migration at 32 MiB/s by default: lift the cap.
    q.cmd("migrate-set-parameters", **{"max-bandwidth": 1 << 40})
    t0 = time.monotonic()
    q.cmd("migrate", uri=sys.argv[3])
    while True:
        st = q.cmd("query-migrate")
        s = st.get("status")
        if s == "completed":
            wall = (time.monotonic() - t0) * 1e3
            break
        if s in ("failed", "cancelled"):
            print(f"qmp.py: migration {s}: {st.get('error-desc', '')}", file=sys.stderr)
            return 1
        time.sleep(0.001)
    print(f"wall_ms={wall:.1f} total_ms={st.get('total-time', 'nan')} "
          f"downtime_ms={st.get('downtime', 'nan')} setup_ms={st.get('setup-time', 'nan')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
