#!/usr/bin/env bash
# A real one-node SLURM cluster on this machine, for `make test-slurm`.
#
#   tests/slurm/cluster.sh start   # install Debian's SLURM if needed, configure, start daemons
#   tests/slurm/cluster.sh stop    # cancel leftover jobs, stop every daemon started here, by PID
#   tests/slurm/cluster.sh check   # exit 0 when this machine can run it (root, apt-get), else say why
#
# The node is this machine as `slurmd -C` sees it (host name, CPUs, memory), with two fake
# GPUs: GRES backed by character devices (1,3 is /dev/null's) so SLURM hands out
# CUDA_VISIBLE_DEVICES as on a GPU node. Accounting runs through slurmdbd on a private
# MariaDB, because the executor plugin's default status path is `sacct`. Daemon state and
# logs live in $HARDPOS_SLURM_STATE (default /var/tmp/hardpos-slurm); the configuration
# goes to /etc/slurm so that plain `sbatch`/`snakemake --profile profiles/slurm` find it.
# Needs root: it installs packages, writes /etc/slurm, makes device nodes.
set -euo pipefail

STATE=${HARDPOS_SLURM_STATE:-/var/tmp/hardpos-slurm}
CLUSTER=hardpos
PARTITION=hardpos
DB_PORT=${HARDPOS_SLURM_DB_PORT:-3306}
PACKAGES=(slurmctld slurmd slurm-client munge slurmdbd mariadb-server)
# Stopped in this order (the reverse of the start order).
DAEMONS=(slurmd slurmctld slurmdbd mariadbd munged)

say() { echo "cluster.sh: $*" >&2; }

# Wait up to $1 seconds for the command in the remaining arguments to succeed.
wait_for() {
    local seconds=$1 what=$2
    shift 2
    for _ in $(seq $((seconds * 5))); do
        "$@" >/dev/null 2>&1 && return 0
        sleep 0.2
    done
    say "$what did not come up within ${seconds}s; see the logs in $STATE"
    return 1
}

alive() { [[ -f $STATE/$1.pid ]] && kill -0 "$(cat "$STATE/$1.pid")" 2>/dev/null; }

check() {
    if [[ $(id -u) != 0 ]]; then
        echo "not root: installing SLURM and writing /etc/slurm need root"
        return 1
    fi
    if ! command -v apt-get >/dev/null; then
        echo "no apt-get: this script installs Debian's SLURM packages"
        return 1
    fi
}

install_packages() {
    local missing=()
    for package in "${PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "ok installed" ||
            missing+=("$package")
    done
    [[ ${#missing[@]} == 0 ]] && return 0
    say "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q --no-install-recommends "${missing[@]}" >"$STATE/apt.log" 2>&1 || {
        apt-get update -q >>"$STATE/apt.log" 2>&1
        apt-get install -y -q --no-install-recommends "${missing[@]}" >>"$STATE/apt.log" 2>&1
    }
}

write_config() {
    local host node
    host=$(hostname -s)
    # e.g. "NodeName=vm CPUs=2 Boards=1 SocketsPerBoard=1 CoresPerSocket=2 ... RealMemory=24105"
    node=$(slurmd -C | head -n 1)
    for i in 0 1; do
        [[ -c /dev/hardpos-gpu$i ]] || mknod -m 666 "/dev/hardpos-gpu$i" c 1 3
    done
    mkdir -p /etc/slurm
    cat >/etc/slurm/slurm.conf <<EOF
# Written by tests/slurm/cluster.sh: a one-node test cluster.
ClusterName=$CLUSTER
SlurmctldHost=$host(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=$STATE/slurmctld
SlurmdSpoolDir=$STATE/slurmd
SlurmctldPidFile=$STATE/slurmctld.pid
SlurmdPidFile=$STATE/slurmd.pid
SlurmctldLogFile=$STATE/slurmctld.log
SlurmdLogFile=$STATE/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
ReturnToService=2
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
GresTypes=gpu
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=127.0.0.1
AccountingStorageTRES=gres/gpu
AccountingStoreFlags=job_comment
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
KillWait=5
$node NodeAddr=127.0.0.1 Gres=gpu:2 State=UNKNOWN
PartitionName=$PARTITION Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
    cat >/etc/slurm/gres.conf <<EOF
AutoDetect=off
NodeName=$host Name=gpu File=/dev/hardpos-gpu[0-1]
EOF
    # slurmdbd refuses a configuration file others can read (it holds the DB password).
    install -m 600 /dev/null /etc/slurm/slurmdbd.conf
    cat >/etc/slurm/slurmdbd.conf <<EOF
AuthType=auth/munge
DbdHost=localhost
SlurmUser=root
PidFile=$STATE/slurmdbd.pid
LogFile=$STATE/slurmdbd.log
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort=$DB_PORT
StorageUser=slurm
StoragePass=hardpos-test
StorageLoc=slurm_acct_db
EOF
}

start_munge() {
    [[ -f /etc/munge/munge.key ]] || runuser -u munge -- mungekey --create
    install -d -o munge -g munge -m 755 /run/munge "$STATE/munge"
    runuser -u munge -- munged --pid-file="$STATE/munge/munged.pid" \
        --log-file="$STATE/munge/munged.log"
    ln -sf munge/munged.pid "$STATE/munged.pid"
    wait_for 10 munged munge -n
}

start_mariadb() {
    local data=$STATE/mysql
    install -d -o mysql -g mysql "$data" "$STATE/mysql-run"
    if [[ ! -d $data/mysql ]]; then
        mariadb-install-db --user=mysql --datadir="$data" >"$STATE/mariadb-install.log" 2>&1
    fi
    mariadbd --user=mysql --datadir="$data" --socket="$STATE/mysql-run/mysqld.sock" \
        --pid-file="$STATE/mysql-run/mysqld.pid" --bind-address=127.0.0.1 --port="$DB_PORT" \
        --log-error="$STATE/mariadbd.log" </dev/null >/dev/null 2>&1 &
    echo $! >"$STATE/mariadbd.pid"
    wait_for 30 mariadbd mariadb --socket="$STATE/mysql-run/mysqld.sock" -e "SELECT 1"
    mariadb --socket="$STATE/mysql-run/mysqld.sock" <<EOF
CREATE USER IF NOT EXISTS 'slurm'@'localhost' IDENTIFIED BY 'hardpos-test';
CREATE USER IF NOT EXISTS 'slurm'@'127.0.0.1' IDENTIFIED BY 'hardpos-test';
GRANT ALL ON slurm_acct_db.* TO 'slurm'@'localhost';
GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1';
EOF
}

start() {
    local why
    if ! why=$(check); then
        say "cannot start a SLURM cluster here: $why"
        return 1
    fi
    mkdir -p "$STATE/slurmctld" "$STATE/slurmd"
    for daemon in "${DAEMONS[@]}"; do
        if alive "$daemon"; then
            say "$daemon is already running (pid $(cat "$STATE/$daemon.pid")); run '$0 stop' first"
            return 1
        fi
    done
    install_packages
    write_config
    start_munge
    start_mariadb
    slurmdbd
    wait_for 30 slurmdbd sacctmgr -n list cluster
    sacctmgr -i add cluster "$CLUSTER" >/dev/null 2>&1 || true
    slurmctld
    wait_for 30 slurmctld scontrol ping
    # Niced, like every job it starts: test jobs yield to other work on this machine.
    nice -n 19 slurmd
    wait_for 30 "the node" sh -c "sinfo -h -N -o %t | grep -q idle"
    say "up: partition $PARTITION, node $(hostname -s), state and logs in $STATE"
}

stop() {
    if command -v scancel >/dev/null && scontrol ping >/dev/null 2>&1; then
        scancel --partition "$PARTITION" 2>/dev/null || true
        wait_for 30 "job cancellation" sh -c '[ -z "$(squeue -h)" ]' || true
        # Job processes slow to die would outlive slurmd: end them by PID (slurmd lists them).
        scontrol listpids 2>/dev/null | awk 'NR > 1 {print $1}' | xargs -r kill -9 2>/dev/null || true
    fi
    for daemon in "${DAEMONS[@]}"; do
        alive "$daemon" || continue
        local pid
        pid=$(cat "$STATE/$daemon.pid")
        kill "$pid"
        if ! wait_for 30 "the end of $daemon" sh -c "! kill -0 $pid"; then
            kill -9 "$pid" 2>/dev/null || true
        fi
        say "stopped $daemon (pid $pid)"
    done
    rm -f "$STATE"/*.pid
}

case ${1:-} in
    start) start ;;
    stop) stop ;;
    check) check ;;
    *)
        echo "usage: $0 start|stop|check" >&2
        exit 2
        ;;
esac
