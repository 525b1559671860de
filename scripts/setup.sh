#!/bin/bash
# setup.sh: the README's first command. Installs what plugvm needs, builds
# it into build/, makes the guest images, and runs the examples: the hello
# guest, then Debian's kernel to "hello from plugvm". Where this host has
# no usable KVM (or none that runs guest kernel code in hardware, for the
# Linux example), they run inside the nested VM host, a QEMU (TCG) machine
# with SVM whose own KVM plugvm uses (tests/vmhost/README.md).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$top/build}
"$top/scripts/deps.sh"
cmake -S "$top" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build "$build" -j"$(nproc)"
"$top/scripts/images.sh" "$build"
vmhost=$top/tests/vmhost/run.sh
export VMHOST_QUIET=1   # the line below says where, once
where=$("$vmhost" --why --need kvm "$build")
case $where in
    nested:*) echo "== ${where#nested: }: the examples run inside the nested VM host (QEMU TCG with SVM)" ;;
esac
echo "== plugvm run etc/examples/hello.cfg"
"$vmhost" --need kvm "$build" "$build/core/plugvm" run "$top/etc/examples/hello.cfg" </dev/null
echo "== plugvm run etc/examples/linux.cfg"
where=$("$vmhost" --why --need hw "$build")
case $where in
    nested:*) [[ $where == *"no usable KVM"* ]] ||
        echo "== Linux needs guest kernel code run in hardware (${where#nested: }): it runs inside the nested VM host" ;;
esac
"$vmhost" --need hw "$build" "$build/core/plugvm" run --timeout 120 "$top/etc/examples/linux.cfg" </dev/null
