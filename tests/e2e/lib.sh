# SPDX-License-Identifier: Apache-2.0
# Sourced by snapshot.sh and power.sh: watching a plugvm run's console
# and process from the host's side. POSIX sh.

uptime_cs() { awk '{ printf "%d\n", $1 * 100 }' /proc/uptime; } # centiseconds
secs() { read -r u _ </proc/uptime; echo "${u%.*}"; }
con() { tr -d '\r' <"$1"; }
alive() { # PID: running (not gone, not a zombie)
    st=$(cut -d' ' -f3 "/proc/$1/stat" 2>/dev/null)
    [ -n "$st" ] && [ "$st" != Z ]
}
# wait_line FILE PID SECONDS REGEX: until a line of FILE matches REGEX
# (status 0); 1 after SECONDS, 2 when PID ended first.
wait_line() {
    end=$(($(secs) + $3))
    while :; do
        con "$1" | grep -q -- "$4" && return 0
        alive "$2" || { con "$1" | grep -q -- "$4"; return $(($? ? 2 : 0)); }
        [ "$(secs)" -lt $end ] || return 1
        sleep 0.05
    done
}
why_not() { # STATUS PID SECONDS: why wait_line failed, in $why
    case $1 in
        1) why="nothing after $3 s, the VM still running" ;;
        *) wait "$2"; why="the VM ended first (plugvm status $?)" ;;
    esac
}
# wait_end PID SECONDS: until PID ends (0) or SECONDS pass (1).
wait_end() {
    end=$(($(secs) + $2))
    while alive "$1"; do
        [ "$(secs)" -lt $end ] || return 1
        sleep 0.05
    done
}
