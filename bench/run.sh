#!/bin/sh
# bench/run.sh [options] <builddir>: run gort's benchmarks and their Go peers,
# side by side, and report: medians with min–max, a table with ratios, plots,
# optionally JSON, and (on a full run) the generated part of docs/benchmarks.md.
#
# Expects <builddir>/gort_bench, <builddir>/gort_nodebug_bench and
# <builddir>/go_bench (the Makefile's `bench` target builds them).  Every run
# is its own process, so figures such as peak RSS are per run.
#
# Options (each also an environment variable, for make):
#   --quick        QUICK=1   a smoke run: every workload once, sizes divided
#                            by QUICK_SCALE (default 20) through
#                            GORT_BENCH_SCALE; figures marked quick, not for
#                            comparison; docs never regenerated, even with
#                            DOCS=1
#   --json[=FILE]  JSON=1|FILE  also write the report as JSON (default FILE:
#                            <builddir>/bench.json; "-": JSON on stdout, the
#                            text report on stderr)
#   --docs         DOCS=1    regenerate the generated part of
#                            docs/benchmarks.md (and docs/plots/) whatever
#                            the selection; DOCS=0 / --no-docs: never.
#                            Default: only after a full default run (no BENCH,
#                            PROCS or IMPLS selection, not quick) with no
#                            failed run
#   --no-plots     PLOTS=0   skip the gnuplot plots
#   --report                 run nothing: report from <builddir>/raw.txt again
#   --list                   print the workloads and their run counts
# Environment:
#   BENCH   extended regex over workload names (default: all; unanchored,
#           so BENCH=yield selects yield and yield-fp, BENCH='^yield$' one)
#   PROCS   procs to run at, "1 2" or "1,2" (default "1 2"); workloads that
#           are procs=n only (n = 1 or 2) run once at procs=n, and only if n
#           is listed
#   SCALE_PROCS  the extra procs at which steal, skynet and chanmpmc run for
#           the scaling plot (default: 1..nproc when PROCS is not given and
#           not --quick, thinned out above 8; else none)
#   RUNS    processes per (workload, procs, impl), for every workload
#           (default: each workload's own count, 3 to 5: `--list`)
#   IMPLS   implementations to run (default "gort go")
#   LOOPS   the steal task's spin loop count (default: `gort_bench calibrate`,
#           run once, the same count for every run of both impls)
#   BENCH_TIMEOUT  seconds before a run is killed (default 600)
#   QUICK_SCALE    the size divisor of --quick (default 20)
#   DOCS_FILE      the file --docs rewrites (default: docs/benchmarks.md next
#           to this script's directory); its plots go to plots/ beside it
# A workload named <w>-nodebug runs <w> with gort_nodebug_bench (gort built
# without counters, sites and wait records; no Go peer): its ratio column
# is gort(<w>) / gort(<w>-nodebug), the price of the debug information.
# Selected with <w>, its runs interleave with <w>'s (see plan).
# Output: progress on stderr ("[bench 12/84 1m05s] spawn procs=2 impl=go run
# 2/5"); on stdout one RESULT line per (bench, impl, procs, metric), the
# median of the runs, then the table.  Files in <builddir>: raw.txt (every
# run's RESULT lines), summary.txt (stdout), plots/ (SVG and PNG), and the
# JSON file.  A failed run (non-zero exit, timeout, no RESULT line) is
# reported on stderr and marked in the table; the rest go on, and the script
# exits 1 at the end.  POSIX sh and awk only (gnuplot for the plots).
set -u

# name:procs-mode:runs ("all": every procs in PROCS; a number n: procs=n
# only, and only if PROCS lists n).  runs: the default number of runs, fewer
# for the slow ones, so that the whole report takes under 10 minutes on a
# 2-CPU machine.
WORKLOADS="spawn:all:5 yield:1:5 yield-fp:1:5 steal:all:5 idle:all:3 protect:1:5 panic-recover:1:5
	pingpong:all:5 chanmpmc:all:5 fib:all:5 skynet:all:5 select:all:5 parked:2:5 parked_1m:2:3
	timers:all:5 mutex:all:5 ctxcancel:all:5 rwmutex:all:5 semaphore:all:5 echo:all:3 hog:all:3
	pingpong-nodebug:all:5 spawn-nodebug:all:5"
# the workloads of the scaling plot, and its metric for each
SCALE_WORKLOADS="steal:total_ms skynet:total_ms chanmpmc:ns_per_item"

die() {
	echo "run.sh: $*" >&2
	exit 2
}
usage() {
	echo "usage: bench/run.sh [--quick] [--json[=FILE]] [--docs|--no-docs] [--no-plots] [--report] [--list] <builddir>" >&2
	echo "       (environment: BENCH PROCS SCALE_PROCS RUNS IMPLS LOOPS BENCH_TIMEOUT QUICK_SCALE DOCS_FILE)" >&2
	exit 2
}

# Options; the environment variables QUICK, JSON, DOCS and PLOTS are the
# same switches, for `make bench QUICK=1 ...`.
QUICK=${QUICK:-0}
JSON=${JSON:-}
DOCS=${DOCS:-}
PLOTS=${PLOTS:-1}
REPORT_ONLY=0
LIST=0
builddir=""
while [ $# -gt 0 ]; do
	case $1 in
	--quick) QUICK=1 ;;
	--json) JSON=1 ;;
	--json=*) JSON=${1#--json=} ;;
	--docs) DOCS=1 ;;
	--no-docs) DOCS=0 ;;
	--no-plots) PLOTS=0 ;;
	--report) REPORT_ONLY=1 ;;
	--list) LIST=1 ;;
	-h | --help) usage ;;
	-*) echo "run.sh: unknown option '$1'" >&2; usage ;;
	*)
		[ -z "$builddir" ] || usage
		builddir=$1
		;;
	esac
	shift
done
case $QUICK in 0 | '') QUICK=0 ;; *) QUICK=1 ;; esac
case $JSON in 0) JSON="" ;; esac
case $PLOTS in 0) PLOTS=0 ;; *) PLOTS=1 ;; esac

if [ "$LIST" -eq 1 ]; then
	echo "workload procs-mode runs"
	for w in $WORKLOADS; do echo "$w" | tr ':' ' '; done
	echo "scaling plot: $SCALE_WORKLOADS"
	exit 0
fi
[ -n "$builddir" ] || usage
[ -d "$builddir" ] || die "no such directory: $builddir"
here=$(cd "$(dirname "$0")" && pwd) || die "cannot find the script's directory"
srcdir=$(dirname "$here")

# Was the selection left at its default?  (The Makefile passes empty
# variables for what the user did not set.)
full=1
case ${BENCH:-.} in . | '') ;; *) full=0 ;; esac
[ -z "${PROCS:-}" ] || [ "$(echo "$PROCS" | tr ',' ' ' | tr -s ' ')" = "1 2" ] || full=0
[ -z "${IMPLS:-}" ] || [ "$IMPLS" = "gort go" ] || full=0
procs_given=0
[ -z "${PROCS:-}" ] || procs_given=1

BENCH=${BENCH:-.}
PROCS=$(echo "${PROCS:-1 2}" | tr ',' ' ')
RUNS=${RUNS:-}
IMPLS=${IMPLS:-gort go}
BENCH_TIMEOUT=${BENCH_TIMEOUT:-600}
QUICK_SCALE=${QUICK_SCALE:-20}
DOCS_FILE=${DOCS_FILE:-$srcdir/docs/benchmarks.md}

isnum() {
	case $1 in '' | *[!0-9]*) return 1 ;; esac
	return 0
}
ispos() {
	isnum "$1" && [ "$1" -ge 1 ]
}
[ -z "$RUNS" ] || ispos "$RUNS" || die "RUNS must be a positive integer, not '$RUNS'"
ispos "$BENCH_TIMEOUT" || die "bad BENCH_TIMEOUT '$BENCH_TIMEOUT'"
ispos "$QUICK_SCALE" || die "bad QUICK_SCALE '$QUICK_SCALE'"
nprocs=0
for p in $PROCS; do
	ispos "$p" || die "PROCS must list positive integers, not '$p'"
	nprocs=$((nprocs + 1))
done
[ "$nprocs" -gt 0 ] || die "PROCS is empty"
for impl in $IMPLS; do
	case $impl in gort | go) ;; *) die "unknown impl '$impl' in IMPLS" ;; esac
	[ "$REPORT_ONLY" -eq 1 ] || [ -x "$builddir/${impl}_bench" ] ||
		die "missing $builddir/${impl}_bench (build it first)"
done
# Is the regex valid?  (awk reports a bad one and fails.)
awk -v re="$BENCH" 'BEGIN { if ("x" ~ re) {} }' </dev/null 2>/dev/null || die "bad BENCH regex '$BENCH'"

ncpu=$(nproc 2>/dev/null || getconf _NPROCESSORS_ONLN 2>/dev/null || echo 1)
isnum "$ncpu" || ncpu=1

# The scaling plot's procs: 1..N, thinned out above 8 (1 2 3 4 5 6 7 8 12 16
# 24 32 48 64 ... and N itself).
scale_list() {
	awk -v n="$1" 'BEGIN {
		for (p = 1; p <= n && p <= 8; p++) s = s " " p
		for (a = 12; a < n; a = (a % 3 == 0) ? a / 3 * 4 : a / 4 * 6) s = s " " a
		if (n > 8) s = s " " n
		print substr(s, 2)
	}'
}
if [ -n "${SCALE_PROCS+set}" ]; then
	SCALE_PROCS=$(echo "$SCALE_PROCS" | tr ',' ' ')
elif [ "$QUICK" -eq 0 ] && [ "$procs_given" -eq 0 ]; then
	SCALE_PROCS=$(scale_list "$ncpu")
else
	SCALE_PROCS=""
fi
for p in $SCALE_PROCS; do
	ispos "$p" || die "SCALE_PROCS must list positive integers, not '$p'"
done

if [ -z "$DOCS" ]; then
	DOCS=auto
fi
case $DOCS in 0 | 1 | auto) ;; *) die "DOCS must be 0 or 1, not '$DOCS'" ;; esac

TMP=$(mktemp -d "${TMPDIR:-/tmp}/gortbench.XXXXXX") || die "mktemp failed"
trap 'rm -rf "$TMP"' EXIT
trap 'exit 130' INT TERM
RAW=$builddir/raw.txt
PLOTDIR=$builddir/plots

# now_ms: milliseconds since the epoch (seconds * 1000 where date has no %N)
if [ "$(date +%N 2>/dev/null)" != "%N" ] && isnum "$(date +%N 2>/dev/null)"; then
	now_ms() { t=$(date +%s%N); echo "${t%??????}"; }
else
	now_ms() { echo "$(($(date +%s) * 1000))"; }
fi
fmt_dur() { # seconds -> 4m01s
	awk -v s="$1" 'BEGIN { s = int(s + 0.5); if (s >= 60) printf "%dm%02ds", s / 60, s % 60; else printf "%ds", s }'
}
in_list() { # <n> <list>
	for q in $2; do [ "$q" -eq "$1" ] && return 0; done
	return 1
}

# ---------------------------------------------------------------- the plan

# Is workload <b> in WORKLOADS, and does BENCH select it?
selected() {
	for sw in $WORKLOADS; do
		[ "${sw%%:*}" = "$1" ] || continue
		awk -v s="$1" -v re="$BENCH" 'BEGIN { exit !(s ~ re) }' </dev/null
		return
	done
	return 1
}

# One line per run: <bench> <procs> <impl> <run> <runs>, in the order they
# run: workloads in WORKLOADS order, then procs, then runs, the impls
# alternating within a run.  A <w>-nodebug workload selected with its <w>
# runs with it, its run r right after <w>'s run r (same procs and number
# of runs), so that the machine's load lands alike on both sides of its
# ratio; selected alone, it runs in its own place.
plan() {
	nd_gort=0
	case " $IMPLS " in *" gort "*) nd_gort=1 ;; esac
	for w in $WORKLOADS; do
		b=${w%%:*}
		rest=${w#*:}
		mode=${rest%%:*}
		runs=${rest#*:}
		[ -z "$RUNS" ] || runs=$RUNS
		[ "$QUICK" -eq 0 ] || runs=1
		selected "$b" || continue
		echo "MATCH" >&3
		case $b in *-nodebug) selected "${b%-nodebug}" && continue ;; esac
		nd=0
		[ "$nd_gort" -eq 0 ] || ! selected "$b-nodebug" || nd=1
		plist=$PROCS
		if [ "$mode" != all ]; then
			if ! in_list "$mode" "$PROCS"; then
				echo "[bench] $b: procs=$mode only, and PROCS has no $mode: skipped" >&2
				continue
			fi
			plist=$mode
		else
			case " $SCALE_WORKLOADS " in
			*" $b:"*)
				plist=$(for p in $PROCS $SCALE_PROCS; do echo "$p"; done | sort -n | uniq | tr '\n' ' ')
				;;
			esac
		fi
		for p in $plist; do
			r=1
			while [ "$r" -le "$runs" ]; do
				for impl in $IMPLS; do
					case $b:$impl in *-nodebug:go) continue ;; esac
					echo "$b $p $impl $r $runs"
				done
				[ "$nd" -eq 0 ] || echo "$b-nodebug $p gort $r $runs"
				r=$((r + 1))
			done
		done
	done
}

failed=0
loops=${LOOPS:-}

# calibrate: set $loops once, from gort_bench (or go_bench if gort is not run).
calibrate() {
	[ -n "$loops" ] && return 0
	case " $IMPLS " in *" gort "*) cal=$builddir/gort_bench ;; *) cal=$builddir/go_bench ;; esac
	echo "[bench] calibrate ($cal)" >&2
	loops=$($cal calibrate | awk -F= '/^LOOPS=[0-9]+$/ { print $2 }')
	if ! isnum "$loops"; then
		echo "[bench] FAILED: calibrate printed no LOOPS=<n>" >&2
		loops=""
		return 1
	fi
	echo "[bench] steal: LOOPS=$loops" >&2
	echo "# calibrate LOOPS=$loops" >>"$RAW"
}

TIMEOUT_CMD=""
if command -v timeout >/dev/null 2>&1; then
	TIMEOUT_CMD="timeout -k 10 $BENCH_TIMEOUT"
fi
SCALE_ENV=1
[ "$QUICK" -eq 0 ] || SCALE_ENV=$QUICK_SCALE

# run_one <bench> <impl> <procs> <run> <runs> [args...]
run_one() {
	b=$1 impl=$2 p=$3 r=$4 n=$5
	shift 5
	exe=$builddir/${impl}_bench
	arg=$b
	case $b in *-nodebug) exe=$builddir/gort_nodebug_bench arg=${b%-nodebug} ;; esac
	t0=$(now_ms)
	GORT_BENCH_SCALE=$SCALE_ENV $TIMEOUT_CMD "$exe" "$arg" "$p" "$@" >"$TMP/out" 2>"$TMP/err"
	rc=$?
	t1=$(now_ms)
	awk '/^RESULT /' "$TMP/out" >"$TMP/res"
	secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", (b - a) / 1000 }')
	echo "# $b impl=$impl procs=$p run=$r rc=$rc runs=$n secs=$secs" >>"$RAW"
	cat "$TMP/res" >>"$RAW"
	why=""
	if [ "$rc" -eq 124 ]; then
		why="timed out after ${BENCH_TIMEOUT}s"
	elif [ "$rc" -eq 137 ]; then
		why="killed by SIGKILL (timeout, or out of memory)"
	elif [ "$rc" -gt 128 ]; then
		why="killed by signal $((rc - 128))"
	elif [ "$rc" -ne 0 ]; then
		why="exit status $rc"
	elif [ ! -s "$TMP/res" ]; then
		why="no RESULT line"
	fi
	if [ -n "$why" ]; then
		echo "[bench] FAILED: $b procs=$p impl=$impl run $r/$n: $why" >&2
		tail -n 5 "$TMP/err" | sed 's/^/[bench]   | /' >&2
		failed=1
	fi
}

start_ms=$(now_ms)
if [ "$REPORT_ONLY" -eq 0 ]; then
	plan 3>"$TMP/matched" >"$TMP/plan"
	[ -s "$TMP/matched" ] || die "BENCH='$BENCH' selects no workload (have: $(echo "$WORKLOADS" | tr -s ' \t\n' '   ' | sed 's/:[^ ]*//g'))"
	total=$(awk 'END { print NR }' "$TMP/plan")
	if [ "$total" -eq 0 ]; then
		echo "[bench] nothing to run at PROCS='$PROCS'" >&2
		exit 0
	fi
	: >"$RAW" || die "cannot write $RAW"
	{
		echo "# gort bench: $(date -u '+%Y-%m-%d %H:%M UTC') quick=$QUICK scale=$SCALE_ENV full=$full"
		echo "# config BENCH=$BENCH PROCS=$PROCS SCALE_PROCS=$SCALE_PROCS RUNS=${RUNS:-default} IMPLS=$IMPLS"
		echo "# load $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null)"
	} >>"$RAW"
	if [ "$QUICK" -eq 1 ]; then
		echo "[bench] QUICK: a smoke run, sizes / $QUICK_SCALE, one run each: figures not for comparison" >&2
	fi
	echo "[bench] $total runs planned (PROCS='$PROCS'${SCALE_PROCS:+, scaling plot at procs $SCALE_PROCS})" >&2
	k=0
	cal_failed=0
	while read -r b p impl r n; do
		k=$((k + 1))
		set --
		if [ "$b" = steal ]; then
			if [ "$cal_failed" -eq 1 ] || ! calibrate; then
				cal_failed=1
				failed=1
				echo "# $b impl=$impl procs=$p run=$r rc=255 runs=$n secs=0" >>"$RAW"
				continue
			fi
			set -- "$loops"
		fi
		el=$(awk -v a="$start_ms" -v b="$(now_ms)" 'BEGIN { print (b - a) / 1000 }')
		echo "[bench $k/$total $(fmt_dur "$el")] $b procs=$p impl=$impl run $r/$n" >&2
		run_one "$b" "$impl" "$p" "$r" "$n" "$@"
	done <"$TMP/plan"
	el=$(awk -v a="$start_ms" -v b="$(now_ms)" 'BEGIN { print (b - a) / 1000 }')
	echo "[bench] $total runs in $(fmt_dur "$el")" >&2
	echo "# elapsed $el" >>"$RAW"
else
	[ -s "$RAW" ] || die "--report: no $RAW to report from"
	QUICK=$(awk '/^# gort bench:/ { for (i = 1; i <= NF; i++) if ($i ~ /^quick=/) { print substr($i, 7); exit } } END { }' "$RAW")
	[ -n "$QUICK" ] || QUICK=0
	SCALE_ENV=$(awk '/^# gort bench:/ { for (i = 1; i <= NF; i++) if ($i ~ /^scale=/) { print substr($i, 7); exit } }' "$RAW")
	[ -n "$SCALE_ENV" ] || SCALE_ENV=1
	f=$(awk '/^# gort bench:/ { for (i = 1; i <= NF; i++) if ($i ~ /^full=/) { print substr($i, 6); exit } }' "$RAW")
	[ "$f" = 1 ] || full=0
fi

# ---------------------------------------------------------------- medians

# From raw.txt: the summary RESULT lines and the table (stdout), and
# $TMP/rows, one tab-separated line per table row:
#   bench metric unit procs kind ratio hib  then for gort and go:
#   median min max n failed values(comma-separated)
# (kind: "gort/go", or "on/off" for a -nodebug row; hib: 1 where higher is
# better; "-" for what is missing), and $TMP/walls: <bench> <seconds>.
awk -v impls="$IMPLS" -v rowsf="$TMP/rows" -v wallf="$TMP/walls" '
function num(v) {
	if (v == int(v) && v < 1e15 && v > -1e15) return sprintf("%.0f", v)
	v = sprintf("%.3f", v)
	sub(/0+$/, "", v); sub(/\.$/, "", v)
	return v
}
function ratiofmt(r) {
	return (r >= 0.1 || r <= -0.1 || r == 0) ? sprintf("%.2f", r) : sprintf("%.2g", r)
}
function median(k,   n, i, j, t, a, s) {
	n = cnt[k]
	for (i = 1; i <= n; i++) a[i] = val[k, i]
	for (i = 2; i <= n; i++) {
		t = a[i]
		for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]
		a[j + 1] = t
	}
	s = num(a[1]); for (i = 2; i <= n; i++) s = s "," num(a[i])
	vals[k] = s
	lo[k] = a[1]; hi[k] = a[n]
	return (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
function addrow(c1, c2, c3, c4, c5, c6, c7) {
	nrows++
	cell[nrows, 1] = c1; cell[nrows, 2] = c2; cell[nrows, 3] = c3; cell[nrows, 4] = c4
	cell[nrows, 5] = c5; cell[nrows, 6] = c6; cell[nrows, 7] = c7
}
function width(s,   t) {
	t = s
	return length(s) - 2 * gsub(/–/, "-", t) # the en dash is 3 bytes, 1 column
}
function pad(s, w) {
	while (width(s) < w) s = s " "
	return s
}
function cellfor(b, impl, p, m,   k, s) {
	k = b SUBSEP impl SUBSEP p SUBSEP m
	if (!(k in med)) s = "-"
	else if (cnt[k] == 1) s = num(med[k])
	else s = num(med[k]) " (" num(lo[k]) "–" num(hi[k]) ")"
	if ((b SUBSEP impl SUBSEP p) in fails)
		s = s " FAILED " fails[b, impl, p] "/" runs[b]
	return s
}
function rowfields(b, impl, p, m,   k, f) {
	k = b SUBSEP impl SUBSEP p SUBSEP m
	f = ((b SUBSEP impl SUBSEP p) in fails) ? fails[b, impl, p] : 0
	if (!(k in med)) return "-\t-\t-\t0\t" f "\t-"
	return num(med[k]) "\t" num(lo[k]) "\t" num(hi[k]) "\t" cnt[k] "\t" f "\t" vals[k]
}
function seen_bench(b) {
	if (!(b in bseen)) { bseen[b] = 1; nb++; border[nb] = b }
}
# the end of a run record: a failure if it exited non-zero or printed nothing
function close_run() {
	if (cur == "") return
	if (currc != 0 || curn == 0) fails[curb, curimpl, curp]++
	cur = ""
}
/^# [^ ]+ impl=/ {
	close_run()
	split("", f)
	for (i = 3; i <= NF; i++) {
		eq = index($i, "=")
		if (eq) f[substr($i, 1, eq - 1)] = substr($i, eq + 1)
	}
	cur = $2; curb = $2; curimpl = f["impl"]; curp = f["procs"]; currc = f["rc"] + 0; curn = 0
	seen_bench(curb)
	if (!((curb, curp) in ran)) { ran[curb, curp] = 1; nran++; ranb[nran] = curb; ranp[nran] = curp }
	n = ("runs" in f) ? f["runs"] + 0 : f["run"] + 0
	if (n > runs[curb]) runs[curb] = n
	wall[curb] += f["secs"]
	next
}
$1 == "RESULT" {
	split("", f)
	for (i = 2; i <= NF; i++) {
		eq = index($i, "=")
		if (eq) f[substr($i, 1, eq - 1)] = substr($i, eq + 1)
	}
	b = f["bench"]; impl = f["impl"]; p = f["procs"]; m = f["metric"]
	if (b == "" || impl == "" || p == "" || m == "" || f["value"] == "") next
	curn++
	res[NR] = $0; resb[NR] = b; resimpl[NR] = impl; resp[NR] = p; resm[NR] = m; resv[NR] = f["value"]
	resu[NR] = f["unit"]; rescur[NR] = cur
	next
}
END {
	close_run()
	# a record that failed contributes nothing to the medians
	for (i = 1; i <= NR; i++) {
		if (!(i in res)) continue
		b = resb[i]; impl = resimpl[i]; p = resp[i]; m = resm[i]
		seen_bench(b)
		if (!((b, m) in mseen)) { mseen[b, m] = 1; nm[b]++; morder[b, nm[b]] = m }
		if (!((b, p) in pseen)) { pseen[b, p] = 1; np[b]++; porder[b, np[b]] = p }
		unit[b, m] = resu[i]
		k = b SUBSEP impl SUBSEP p SUBSEP m
		val[k, ++cnt[k]] = resv[i] + 0
	}
	nimpl = split(impls, implv, " ")
	for (k in cnt) med[k] = median(k)
	# Summary RESULT lines: bench order, then procs, impl, metric.
	for (bi = 1; bi <= nb; bi++) {
		b = border[bi]
		for (pi = 1; pi <= np[b]; pi++) {
			p = porder[b, pi]
			for (ii = 1; ii <= nimpl; ii++) {
				impl = implv[ii]
				for (mi = 1; mi <= nm[b]; mi++) {
					m = morder[b, mi]
					k = b SUBSEP impl SUBSEP p SUBSEP m
					if (k in med)
						printf "RESULT bench=%s impl=%s procs=%s metric=%s value=%s unit=%s\n",
						    b, impl, p, m, num(med[k]), unit[b, m]
				}
			}
		}
		# steal: speedup at each procs p > 1 = total_ms at procs 1 / at p
		if (b == "steal") {
			hasspeedup = 0
			for (pi = 1; pi <= np[b]; pi++) {
				p = porder[b, pi]
				if (p == 1) continue
				for (ii = 1; ii <= nimpl; ii++) {
					impl = implv[ii]
					k1 = b SUBSEP impl SUBSEP 1 SUBSEP "total_ms"
					k2 = b SUBSEP impl SUBSEP p SUBSEP "total_ms"
					if ((k1 in med) && (k2 in med) && med[k2] > 0) {
						sp = med[k1] / med[k2]
						ks = b SUBSEP impl SUBSEP p SUBSEP "speedup"
						med[ks] = sp; cnt[ks] = 1; lo[ks] = sp; hi[ks] = sp; vals[ks] = num(sp)
						printf "RESULT bench=%s impl=%s procs=%s metric=speedup value=%s unit=x\n",
						    b, impl, p, num(sp)
						hasspeedup = 1
					}
				}
			}
			if (hasspeedup) { nm[b]++; morder[b, nm[b]] = "speedup"; unit[b, "speedup"] = "x" }
		}
	}
	# The table: one row per (bench, metric, procs).
	addrow("bench", "metric", "unit", "procs", "gort (median, min–max)", "go (median, min–max)", "gort/go")
	for (bi = 1; bi <= nb; bi++) {
		b = border[bi]
		for (mi = 1; mi <= nm[b]; mi++) {
			m = morder[b, mi]
			hib = (m ~ /^(requests_per_s|kept_fraction|speedup)$/) ? 1 : 0
			for (pi = 1; pi <= np[b]; pi++) {
				p = porder[b, pi]
				if (m == "speedup" && p == 1) continue
				kg = b SUBSEP "gort" SUBSEP p SUBSEP m
				ko = b SUBSEP "go" SUBSEP p SUBSEP m
				ratio = "-"; raw = "-"; kind = "gort/go"
				if ((kg in med) && (ko in med) && med[ko] != 0) {
					raw = med[kg] / med[ko]; ratio = ratiofmt(raw)
				}
				if (b ~ /-nodebug$/) {
					kind = "on/off"
					kb = substr(b, 1, length(b) - 8) SUBSEP "gort" SUBSEP p SUBSEP m
					if ((kg in med) && (kb in med) && med[kg] != 0) {
						raw = med[kb] / med[kg]; ratio = ratiofmt(raw) " (on/off)"
					}
				}
				addrow(b, m, unit[b, m], p, cellfor(b, "gort", p, m), cellfor(b, "go", p, m), ratio)
				printf "%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\n", b, m, unit[b, m], p, kind,
				    (raw == "-") ? "-" : sprintf("%.6g", raw), hib,
				    rowfields(b, "gort", p, m), rowfields(b, "go", p, m) > rowsf
			}
		}
		# (bench, procs) pairs that ran but produced no figure at all
		for (ri = 1; ri <= nran; ri++) {
			if (ranb[ri] != b || ((b, ranp[ri]) in pseen)) continue
			addrow(b, "-", "-", ranp[ri], cellfor(b, "gort", ranp[ri], "-"),
			    cellfor(b, "go", ranp[ri], "-"), "-")
			printf "%s\t-\t-\t%s\tgort/go\t-\t0\t%s\t%s\n", b, ranp[ri],
			    rowfields(b, "gort", ranp[ri], "-"), rowfields(b, "go", ranp[ri], "-") > rowsf
		}
		printf "%s\t%.1f\t%d\n", b, wall[b], runs[b] > wallf
	}
	close(rowsf); close(wallf)
	for (c = 1; c <= 7; c++) {
		w[c] = 0
		for (r = 1; r <= nrows; r++) if (width(cell[r, c]) > w[c]) w[c] = width(cell[r, c])
	}
	print ""
	for (r = 1; r <= nrows; r++) {
		line = "|"
		for (c = 1; c <= 7; c++) line = line " " pad(cell[r, c], w[c]) " |"
		print line
		if (r == 1) {
			line = "|"
			for (c = 1; c <= 7; c++) { d = ""; while (length(d) < w[c] + 2) d = d "-"; line = line d "|" }
			print line
		}
	}
	for (k in fails) anyfail = 1
	exit anyfail ? 3 : 0
}
' "$RAW" >"$TMP/summary"
[ $? -eq 3 ] && failed=1
: >>"$TMP/rows"
: >>"$TMP/walls"
if [ "$QUICK" -eq 1 ]; then
	{
		echo ""
		echo "QUICK run (sizes / $SCALE_ENV, one run each): a smoke test, not for comparison."
	} >>"$TMP/summary"
fi

# ---------------------------------------------------------------- the machine

# key<TAB>value lines: what the report says about the machine and the run.
machine() {
	cpu=$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null)
	[ -n "$cpu" ] || cpu=$(uname -m)
	mem=$(awk '/^MemTotal:/ { printf "%.1f GiB", $2 / 1048576; exit }' /proc/meminfo 2>/dev/null)
	cc_v=$(${CC:-cc} --version 2>/dev/null | head -n 1)
	go_v=$(go version "$builddir/go_bench" 2>/dev/null | awk '{ print $2 }')
	[ -n "$go_v" ] || go_v=$(go version 2>/dev/null | awk '{ print $3 }')
	boost=$(awk '/define BOOST_LIB_VERSION/ { gsub(/"/, "", $3); gsub(/_/, ".", $3); print $3 }' \
		/usr/include/boost/version.hpp 2>/dev/null)
	commit=$(git -C "$srcdir" rev-parse --short HEAD 2>/dev/null)
	if [ -n "$commit" ] && [ -n "$(git -C "$srcdir" status --porcelain --untracked-files=no 2>/dev/null | head -n 1)" ]; then
		commit="$commit (with uncommitted changes)"
	fi
	date_run=$(awk '/^# gort bench:/ { sub(/^# gort bench: /, ""); sub(/ quick=.*/, ""); print; exit }' "$RAW")
	[ -n "$date_run" ] || date_run=$(date -u '+%Y-%m-%d %H:%M UTC')
	printf 'cpu\t%s\n' "$cpu"
	printf 'cpus\t%s\n' "$ncpu"
	printf 'memory\t%s\n' "${mem:-unknown}"
	printf 'kernel\t%s\n' "$(uname -sr)"
	printf 'cc\t%s\n' "${cc_v:-unknown}"
	printf 'go\t%s\n' "${go_v:-unknown}"
	printf 'boost\t%s\n' "${boost:-unknown}"
	printf 'commit\t%s\n' "${commit:-unknown}"
	printf 'date\t%s\n' "$date_run"
	load=$(awk '/^# load / { sub(/^# load /, ""); print; exit }' "$RAW")
	[ -n "$load" ] || load=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null)
	printf 'load\t%s\n' "$load"
}
machine >"$TMP/machine"
mget() { awk -F'\t' -v k="$1" '$1 == k { print $2; exit }' "$TMP/machine"; }
elapsed=$(awk -v a="$start_ms" -v b="$(now_ms)" 'BEGIN { printf "%.1f", (b - a) / 1000 }')
if [ "$REPORT_ONLY" -eq 1 ]; then # the run's own time, or the sum of its runs
	elapsed=$(awk '/^# elapsed [0-9.]+$/ { e = $3 } END { if (e != "") printf "%.1f", e }' "$RAW")
	[ -n "$elapsed" ] || elapsed=$(awk -F'\t' '{ s += $2 } END { printf "%.1f", s }' "$TMP/walls")
fi
runs_desc=$(awk -F'\t' '{ print $3 }' "$TMP/walls" | sort -n | uniq |
	awk '{ s = s (NR > 1 ? " or " : "") $0 } END { print s }')

# ---------------------------------------------------------------- JSON

json() {
	awk -F'\t' -v quick="$QUICK" -v scale="$SCALE_ENV" -v elapsed="$elapsed" -v failed="$failed" \
		-v procs="$PROCS" -v scaleprocs="$SCALE_PROCS" -v bench="$BENCH" -v impls="$IMPLS" '
	function q(s) {
		gsub(/\\/, "\\\\", s); gsub(/"/, "\\\"", s); gsub(/\t/, "\\t", s)
		return "\"" s "\""
	}
	function n(s) { return (s == "-" || s == "") ? "null" : s }
	function arr(s,   a, k, i, o) {
		if (s == "-" || s == "") return "[]"
		k = split(s, a, ",")
		o = "["
		for (i = 1; i <= k; i++) o = o (i > 1 ? ", " : "") a[i]
		return o "]"
	}
	function nums(s,   a, k, i, o) {
		k = split(s, a, " ")
		o = "["
		for (i = 1; i <= k; i++) o = o (i > 1 ? ", " : "") a[i]
		return o "]"
	}
	function impl(off) {
		if ($(off) == "-" && $(off + 4) == 0) return "null"
		return "{\"median\": " n($(off)) ", \"min\": " n($(off + 1)) ", \"max\": " n($(off + 2)) \
		    ", \"runs\": " $(off + 3) ", \"failed\": " $(off + 4) ", \"values\": " arr($(off + 5)) "}"
	}
	FILENAME ~ /machine$/ { mk[++nmk] = $1; mv[$1] = $2; next }
	FILENAME ~ /walls$/ { nw++; wb[nw] = $1; ws[nw] = $2; wr[nw] = $3; next }
	{ nr++; row[nr] = $0 }
	END {
		print "{"
		print "  \"schema\": \"gort-bench/1\","
		print "  \"quick\": " (quick ? "true" : "false") ","
		print "  \"scale\": " scale ","
		print "  \"failed\": " (failed ? "true" : "false") ","
		print "  \"elapsed_s\": " elapsed ","
		print "  \"selection\": {\"bench\": " q(bench) ", \"procs\": " nums(procs) ", \"scale_procs\": " nums(scaleprocs) ", \"impls\": " q(impls) "},"
		printf "  \"machine\": {"
		for (i = 1; i <= nmk; i++) printf "%s%s: %s", (i > 1 ? ", " : ""), q(mk[i]), (mk[i] == "cpus") ? mv[mk[i]] : q(mv[mk[i]])
		print "},"
		print "  \"workloads\": ["
		for (i = 1; i <= nw; i++)
			printf "    {\"bench\": %s, \"runs\": %d, \"wall_s\": %s}%s\n", q(wb[i]), wr[i], ws[i], (i < nw ? "," : "")
		print "  ],"
		print "  \"results\": ["
		for (i = 1; i <= nr; i++) {
			$0 = row[i]
			printf "    {\"bench\": %s, \"metric\": %s, \"unit\": %s, \"procs\": %s, \"higher_is_better\": %s,\n", \
			    q($1), q($2), q($3), $4, ($7 ? "true" : "false")
			printf "     \"gort\": %s,\n", impl(8)
			printf "     \"go\": %s,\n", impl(14)
			printf "     \"ratio\": %s, \"ratio_kind\": %s}%s\n", n($6), q($5), (i < nr ? "," : "")
		}
		print "  ]"
		print "}"
	}' "$TMP/machine" "$TMP/walls" "$TMP/rows"
}

# ---------------------------------------------------------------- plots

# plots <dir>: SVG and PNG, from $TMP/rows, with gnuplot:
#   ratio.*          gort/Go of every row (log scale, a line at 1.0)
#   scaling.*        steal, skynet and chanmpmc over procs, and their speedups
#   bench_<name>.*   per workload: one panel per metric, bars per procs for
#                    gort and Go (and gort without debug information), the
#                    whiskers min–max
plots() {
	dir=$1
	mkdir -p "$dir" || return 1
	rm -f "$dir"/*.svg "$dir"/*.png "$dir"/*.gp "$dir"/*.dat
	qnote=""
	[ "$QUICK" -eq 0 ] || qnote="@NL@[QUICK smoke run: not for comparison]"
	awk -F'\t' -v dir="$dir" -v qnote="$qnote" -v scalew="$SCALE_WORKLOADS" \
		-v mdesc="$(mget cpu), $(mget cpus) CPUs, $(mget date)" '
	function nz(s) { return (s == "-" || s == "") ? "NaN" : s }
	# a gnuplot string; @NL@ becomes a line break
	function gpq(s,   i) {
		gsub(/\\/, "\\\\", s); gsub(/"/, "\\\"", s)
		while ((i = index(s, "@NL@")) > 0) s = substr(s, 1, i - 1) sprintf("%c", 92) "n" substr(s, i + 4)
		return "\"" s "\""
	}
	function emit(f, body) {
		# the same plot in both formats
		print "set terminal svg size " W[f] "," H[f] " dynamic noenhanced font \"DejaVu Sans,11\" background rgb \"white\"" > (dir "/" f ".gp")
		print "set output " gpq(dir "/" f ".svg") > (dir "/" f ".gp")
		print "reset" > (dir "/" f ".gp")
		print body > (dir "/" f ".gp")
		print "unset multiplot" > (dir "/" f ".gp")
		print "set terminal pngcairo size " W[f] "," H[f] " noenhanced font \"DejaVu Sans,10\" background rgb \"white\"" > (dir "/" f ".gp")
		print "set output " gpq(dir "/" f ".png") > (dir "/" f ".gp")
		print "reset" > (dir "/" f ".gp")
		print body > (dir "/" f ".gp")
		print "unset multiplot" > (dir "/" f ".gp")
		close(dir "/" f ".gp")
		print f
	}
	{
		b = $1; m = $2
		if (m == "-") next
		base = b; nodebug = 0
		if (b ~ /-nodebug$/) { base = substr(b, 1, length(b) - 8); nodebug = 1 }
		if (!(base in bseen)) { bseen[base] = 1; nb++; border[nb] = base }
		if (!((base, m) in mseen)) { mseen[base, m] = 1; nm[base]++; morder[base, nm[base]] = m; unit[base, m] = $3; hib[base, m] = $7 }
		if (!((base, m, $4) in pseen)) { pseen[base, m, $4] = 1; np[base, m]++; porder[base, m, np[base, m]] = $4 }
		# has[b, m, s]: series s (1 gort, 2 Go, 3 gort nodebug) has a figure
		if (nodebug) {
			nd[base, m, $4] = nz($8) " " nz($9) " " nz($10)
			if ($8 != "-") has[base, m, 3] = 1
		} else {
			gv[base, m, $4] = nz($8) " " nz($9) " " nz($10)
			ov[base, m, $4] = nz($14) " " nz($15) " " nz($16)
			if ($8 != "-") has[base, m, 1] = 1
			if ($14 != "-") has[base, m, 2] = 1
			if ($8 != "-") gmed[base, m, $4] = $8
			if ($14 != "-") omed[base, m, $4] = $14
			if ($6 != "-" && $5 == "gort/go") {
				nr++; rl[nr] = b " " m ", procs " $4 (hib[base, m] ? "  (higher is better)" : "")
				rv[nr] = $6 + 0; rb[nr] = hib[base, m] ? (rv[nr] >= 1) : (rv[nr] <= 1)
			}
		}
	}
	END {
		split("gort|Go|gort nodebug", stitle, "|"); split("#1f77b4 #ff7f0e #7fb8e6", scol, " ")
		# per workload
		for (bi = 1; bi <= nb; bi++) {
			b = border[bi]
			k = nm[b]
			f = "bench_" b
			W[f] = (k == 1) ? 560 : (((b, morder[b, 1], 3) in has) ? 500 : 420) * k
			H[f] = 400
			body = sprintf("set multiplot layout 1,%d title %s\n", k,
			    gpq(b ": gort vs Go, medians (whiskers: min to max)" qnote))
			body = body "set style data histogram\nset style histogram errorbars gap 1 lw 1\n"
			body = body "set style fill solid 0.85 border rgb \"#333333\"\nset boxwidth 0.9\n"
			body = body "set key below horizontal maxcols 3 Left reverse samplen 2 width 1\nset grid ytics\nunset xlabel\n"
			body = body "set yrange [0:*]\nset offsets 0, 0, graph 0.12, 0\n"
			for (mi = 1; mi <= k; mi++) {
				m = morder[b, mi]
				dat = dir "/" f "__" m ".dat"
				for (pi = 1; pi <= np[b, m]; pi++) {
					p = porder[b, m, pi]
					g = ((b, m, p) in gv) ? gv[b, m, p] : "NaN NaN NaN"
					o = ((b, m, p) in ov) ? ov[b, m, p] : "NaN NaN NaN"
					d = ((b, m, p) in nd) ? nd[b, m, p] : "NaN NaN NaN"
					print "procs=" p, g, o, d > dat
				}
				close(dat)
				body = body sprintf("set title %s\nset ylabel %s\n",
				    gpq(m " (" (hib[b, m] ? "higher" : "lower") " is better)"), gpq(m " (" unit[b, m] ")"))
				# the series with a figure (gnuplot rejects one without)
				ns = 0
				for (j = 1; j <= 3; j++)
					if ((b, m, j) in has) sv[++ns] = j
				body = body "plot "
				for (j = 1; j <= ns; j++) {
					c = 2 + 3 * (sv[j] - 1)
					body = body sprintf("%s using %d:%d:%d%s title \"%s\" lc rgb \"%s\"", (j == 1) ? gpq(dat) : ", \"\"",
					    c, c + 1, c + 2, (j == 1) ? ":xtic(1)" : "", stitle[sv[j]], scol[sv[j]])
				}
				# each median above its whisker; bar j of k in cluster i is
				# centred at i + (j - (k - 1) / 2) / (k + gap)
				for (j = 1; j <= ns; j++) {
					c = 2 + 3 * (sv[j] - 1)
					body = body sprintf(", \"\" using ($0 + %g):%d:(abs($%d) >= 1000 ? sprintf(\"%%.0f\", $%d) : sprintf(\"%%.4g\", $%d)) with labels offset 0,0.6 font \",8\" notitle",
					    (j - 1 - (ns - 1) / 2) / (ns + 1), c + 2, c, c, c)
				}
				body = body "\n"
			}
			emit(f, body)
		}
		# gort/Go ratios: one bar per row, from 1.0 to the ratio, log scale
		if (nr > 0) {
			f = "ratio"
			dat = dir "/ratio.dat"
			lo = 1; hi = 1
			for (i = 1; i <= nr; i++) {
				v = rv[i]; if (v < 0.001) v = 0.001
				if (v < lo) lo = v; if (v > hi) hi = v
				# y: the first row at the top
				printf "%d\t%s\t%.6g\t%.6g\t%d\n", nr - i, rl[i], v, rv[i], rb[i] ? 2924588 : 14034728 > dat
			}
			close(dat)
			W[f] = 1000; H[f] = 140 + 17 * nr
			body = "set title " gpq("gort / Go, every figure (median / median; " mdesc ")" qnote) "\n"
			body = body "set datafile separator \"\\t\"\nset logscale x\nset xrange [" lo / 2.5 ":" hi * 2.5 "]\nset yrange [-1:" nr "]\n"
			body = body "set xlabel \"gort / Go (log scale); left of 1.0: gort lower, right: gort higher\"\n"
			body = body "set ytics scale 0 font \",9\"\nset grid xtics\nset key top left box opaque\n"
			body = body "set arrow from 1, graph 0 to 1, graph 1 nohead front lw 2 dt 2 lc rgb \"#444444\"\n"
			body = body "set style fill solid 0.85 noborder\nset tmargin 3\n"
			body = body "plot " gpq(dat) " using (($3 < 1) ? $3 : 1):1:(($3 < 1) ? $3 : 1):(($3 < 1) ? 1 : $3):($1 - 0.38):($1 + 0.38):5:ytic(2) with boxxyerror lc rgb variable notitle, \\\n"
			# the value: left of a bar going left, right of one going right
			# (empty labels rather than NaN positions: gnuplot 5.4 crashes on
			# a labels plot without a valid point)
			body = body "  \"\" using ($3 * 1.06):1:(($3 < 1) ? \"\" : sprintf(\"%.3g\", $4)) with labels left font \",8\" notitle, \\\n"
			body = body "  \"\" using ($3 / 1.06):1:(($3 < 1 && $4 >= 0.001) ? sprintf(\"%.3g\", $4) : \"\") with labels right font \",8\" notitle, \\\n"
			body = body "  \"\" using ($3 * 1.15):1:(($4 < 0.001) ? sprintf(\"%.3g (off the scale)\", $4) : \"\") with labels left font \",8\" tc rgb \"white\" notitle, \\\n"
			body = body "  NaN with boxes lc rgb \"#2ca02c\" title \"gort better\", NaN with boxes lc rgb \"#d62728\" title \"Go better\"\n"
			emit(f, body)
		}
		# scaling: steal, skynet, chanmpmc over procs, and their speedups
		ns = split(scalew, sw, " ")
		body = ""; npan = 0; maxp = 1
		for (i = 1; i <= ns; i++) {
			split(sw[i], a, ":"); b = a[1]; m = a[2]
			if (np[b, m] < 2) continue
			npan++
			dat = dir "/scaling__" b ".dat"
			for (pi = 1; pi <= np[b, m]; pi++) {
				p = porder[b, m, pi]
				if (p + 0 > maxp) maxp = p + 0
				g = ((b, m, p) in gv) ? gv[b, m, p] : "NaN NaN NaN"
				o = ((b, m, p) in ov) ? ov[b, m, p] : "NaN NaN NaN"
				sg = ((b, m, 1) in gmed) && ((b, m, p) in gmed) && gmed[b, m, p] > 0 ? gmed[b, m, 1] / gmed[b, m, p] : "NaN"
				so = ((b, m, 1) in omed) && ((b, m, p) in omed) && omed[b, m, p] > 0 ? omed[b, m, 1] / omed[b, m, p] : "NaN"
				print p, g, o, sg, so > dat
			}
			close(dat)
			pb[npan] = b; pm[npan] = m; pd[npan] = dat
		}
		if (npan > 0) {
			f = "scaling"
			cols = (npan + 1 > 2) ? 2 : npan + 1
			rows = int((npan + 1 + cols - 1) / cols)
			W[f] = 520 * cols; H[f] = 380 * rows
			body = sprintf("set multiplot layout %d,%d title %s\n", rows, cols,
			    gpq("Scaling over procs (" mdesc ")" qnote))
			body = body "set key top right samplen 2\nset offsets 0, 0, graph 0.18, 0\nset grid\nset xlabel \"procs\"\n"
			body = body sprintf("set xrange [0.7:%g]\nset xtics 1\nset mxtics 1\n", maxp + 0.3)
			if (maxp > 12) body = body "set xtics autofreq\n"
			for (i = 1; i <= npan; i++) {
				body = body sprintf("set title %s\nset ylabel %s\nset yrange [0:*]\n",
				    gpq(pb[i] ": " pm[i] " (lower is better)"), gpq(pm[i] " (" unit[pb[i], pm[i]] ")"))
				body = body sprintf("plot %s using 1:2:3:4 with yerrorlines lw 2 pt 7 lc rgb \"#1f77b4\" title \"gort\", \"\" using 1:5:6:7 with yerrorlines lw 2 pt 5 lc rgb \"#ff7f0e\" title \"Go\"\n", gpq(pd[i]))
			}
			body = body "set title \"speedup over procs=1 (higher is better)\"\nset ylabel \"speedup (x)\"\n"
			body = body sprintf("set yrange [0:%g]\nset key outside right top vertical\n", maxp + 0.5)
			body = body "plot x with lines dt 2 lc rgb \"#888888\" title \"ideal\""
			split("#1f77b4 #2ca02c #9467bd", gcol, " "); split("#ff7f0e #d62728 #8c564b", ocol, " ")
			for (i = 1; i <= npan; i++)
				body = body sprintf(", %s using 1:8 with linespoints lw 2 pt 7 lc rgb \"%s\" title %s, \"\" using 1:9 with linespoints lw 2 dt 3 pt 5 lc rgb \"%s\" title %s",
				    gpq(pd[i]), gcol[i], gpq(pb[i] " gort"), ocol[i], gpq(pb[i] " Go"))
			body = body "\n"
			emit(f, body)
		}
	}' "$TMP/rows" >"$TMP/plotlist" || return 1
	ok=0 bad=0
	while read -r f; do
		if gnuplot "$dir/$f.gp" >"$TMP/gp.err" 2>&1 && [ -s "$dir/$f.png" ] && [ -s "$dir/$f.svg" ]; then
			ok=$((ok + 1))
		else
			bad=$((bad + 1))
			echo "[bench] gnuplot failed on $dir/$f.gp:" >&2
			tail -n 5 "$TMP/gp.err" | sed 's/^/[bench]   | /' >&2
		fi
	done <"$TMP/plotlist"
	rm -f "$dir"/*.gp "$dir"/*.dat
	if [ "$bad" -eq 0 ]; then
		echo "[bench] plots: $ok written to $dir/ (SVG and PNG)" >&2
	else
		echo "[bench] plots: $ok written to $dir/, $bad FAILED" >&2
	fi
	[ "$bad" -eq 0 ]
}

# ---------------------------------------------------------------- docs

# The generated part of docs/benchmarks.md, between the markers.
docs_block() {
	echo "<!-- BEGIN GENERATED: make bench -->"
	echo "<!-- Written by bench/run.sh (make bench): do not edit by hand; the rest of this file is. -->"
	echo "## Latest full run"
	echo ""
	echo "Machine: $(mget cpu), $(mget cpus) CPUs, $(mget memory) of memory,"
	echo "$(mget kernel); $(mget cc), Go $(mget go), Boost.Context $(mget boost)."
	echo "Run $(mget date), commit $(mget commit), load average"
	echo "$(mget load) at the start; $(awk 'END { print NR }' "$TMP/walls") workloads, $(fmt_dur "$elapsed") in all."
	if [ "$full" -eq 0 ]; then
		echo "A partial run (DOCS=1): $(awk '/^# config / { sub(/^# config /, ""); print; exit }' "$RAW")."
	fi
	echo "Medians of ${runs_desc:-?} runs, min–max in brackets; each run is a"
	echo "separate process, gort and Go alternating.  Every figure is \"lower is"
	echo "better\" except \`requests_per_s\`, \`kept_fraction\` and \`speedup\`."
	echo ""
	awk '/^\|/' "$TMP/summary"
	echo ""
	if [ -s "$TMP/plotlist" ] && [ "$PLOTS" -eq 1 ]; then
		if grep -qx ratio "$TMP/plotlist"; then
			echo "![gort / Go ratio of every figure](plots/ratio.png)"
			echo ""
		fi
		if grep -qx scaling "$TMP/plotlist"; then
			echo "![steal, skynet and chanmpmc over procs](plots/scaling.png)"
			echo ""
		fi
		printf 'Per workload (SVG): '
		awk '/^bench_/ { n++; b = substr($0, 7); printf "%s[%s](plots/%s.svg)", (n > 1 ? " · " : ""), b, $0 }
			END { print "" }' "$TMP/plotlist"
		echo "([ratio](plots/ratio.svg), [scaling](plots/scaling.svg) as SVG)."
		echo ""
	fi
	echo "<!-- END GENERATED -->"
}

docs() {
	f=$DOCS_FILE
	[ -f "$f" ] || { echo "[bench] docs: no $f: not regenerated" >&2; return 1; }
	docs_block >"$TMP/block"
	if grep -q '^<!-- BEGIN GENERATED: make bench -->' "$f"; then
		awk -v blk="$TMP/block" '
		/^<!-- BEGIN GENERATED: make bench -->/ { while ((getline l < blk) > 0) print l; skip = 1; next }
		skip && /^<!-- END GENERATED -->/ { skip = 0; next }
		!skip' "$f" >"$TMP/docs"
	else
		{ cat "$f"; echo ""; cat "$TMP/block"; } >"$TMP/docs"
	fi
	cat "$TMP/docs" >"$f" || return 1
	pdir=$(dirname "$f")/plots
	if [ "$PLOTS" -eq 1 ] && [ -s "$TMP/plotlist" ]; then
		mkdir -p "$pdir" && rm -f "$pdir"/*.svg "$pdir"/*.png &&
			cp "$PLOTDIR"/*.svg "$PLOTDIR"/*.png "$pdir"/
	fi
	echo "[bench] docs: regenerated the generated part of $f and $pdir/" >&2
}

# ---------------------------------------------------------------- report

if [ "$JSON" = "-" ]; then
	cat "$TMP/summary" >&2
else
	cat "$TMP/summary"
fi
cp "$TMP/summary" "$builddir/summary.txt" 2>/dev/null || true

: >"$TMP/plotlist"
if [ "$PLOTS" -eq 0 ]; then
	echo "[bench] plots: skipped (PLOTS=0)" >&2
elif ! command -v gnuplot >/dev/null 2>&1; then
	echo "[bench] plots: skipped (no gnuplot; scripts/deps.sh installs gnuplot-nox)" >&2
	PLOTS=0
elif ! plots "$PLOTDIR"; then
	echo "[bench] plots: some failed (see above)" >&2
fi

if [ -n "$JSON" ]; then
	case $JSON in
	-) json ;;
	1) json >"$builddir/bench.json" && echo "[bench] JSON: $builddir/bench.json" >&2 ;;
	*) json >"$JSON" && echo "[bench] JSON: $JSON" >&2 ;;
	esac
fi

case $DOCS in
1)
	if [ "$QUICK" -eq 1 ]; then
		echo "[bench] docs: not regenerated from a quick run" >&2
	else
		docs
	fi
	;;
auto)
	if [ "$QUICK" -eq 1 ] || [ "$full" -eq 0 ]; then
		echo "[bench] docs: not regenerated (a subset or a quick run; DOCS=1 to force)" >&2
	elif [ "$failed" -ne 0 ]; then
		echo "[bench] docs: not regenerated (some runs failed; DOCS=1 to force)" >&2
	else
		docs
	fi
	;;
esac

if [ "$failed" -ne 0 ]; then
	echo "[bench] some runs FAILED (see above and $RAW)" >&2
	exit 1
fi
exit 0
