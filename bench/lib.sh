# SPDX-License-Identifier: Apache-2.0
# What the benchmarks' run.sh scripts share; sourced, not run.

# q ARG...: the arguments quoted for a shell, to print the exact command a
# figure came from.
q() {
    local a out=
    for a in "$@"; do
        [[ $a =~ ^[A-Za-z0-9_./,=:+-]+$ ]] || a="'${a//\'/\'\\\'\'}'"
        out+="$a "
    done
    echo "${out% }"
}

# The load averages (1, 5, 15 min): each table says how busy the machine was.
load() { cut -d' ' -f1-3 /proc/loadavg; }
