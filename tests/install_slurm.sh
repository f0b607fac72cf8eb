#!/usr/bin/env bash
# Installs what the real-Slurm tests (tests/test_slurm_real.py) need, where it can: Debian's slurm-wlm,
# munge, slurmdbd and mariadb-server, as root with apt-get. `make test` calls it, as CI does.
# Elsewhere it says what is missing and installs nothing; those tests then fail in one sentence
# naming it (BENCH_REAL_SLURM=0 leaves them out).
set -u
missing=()
for command in munged slurmctld slurmd sbatch slurmdbd mariadbd; do
  command -v "$command" >/dev/null 2>&1 || [ -x "/usr/sbin/$command" ] || missing+=("$command")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "${BENCH_REAL_SLURM:-1}" = "0" ]; then
  exit 0
fi
if [ "$(id -u)" != "0" ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "note: the real-Slurm tests need ${missing[*]}; install Debian's slurm-wlm munge slurmdbd mariadb-server as root" >&2
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
packages=(slurm-wlm munge slurmdbd mariadb-server)
log="${TMPDIR:-/tmp}/bench-install-slurm.log"
echo "installing ${packages[*]} for the real-Slurm tests (log: $log)"
started=$(date +%s)
if ! apt-get install -y -q --no-install-recommends "${packages[@]}" >"$log" 2>&1; then
  apt-get update -q >>"$log" 2>&1
  apt-get install -y -q --no-install-recommends "${packages[@]}" >>"$log" 2>&1 || {
    echo "note: apt-get could not install ${packages[*]} (see $log)" >&2
    exit 0
  }
fi
echo "installed in $(( $(date +%s) - started )) s"
