#!/bin/sh
# bench/run.sh <builddir>: run gort's benchmarks and their Go peers, side by side.
#
# Expects <builddir>/gort_bench and <builddir>/go_bench (the Makefile's
# `bench` target builds them).  Every run is its own process, so figures such
# as peak RSS are per run.  Environment:
#   BENCH   extended regex over workload names (default: all; unanchored,
#           so BENCH=yield selects yield and yield-fp, BENCH='^yield$' one)
#   PROCS   procs to run at, "1 2" or "1,2" (default "1 2"); workloads that
#           are procs=n only (n = 1 or 2) run once at procs=n, and only if n
#           is listed
#   RUNS    processes per (workload, procs, impl) (default 3)
#   IMPLS   implementations to run (default "gort go")
#   LOOPS   the steal task's spin loop count (default: `gort_bench calibrate`,
#           run once, the same count for every run of both impls)
#   BENCH_TIMEOUT  seconds before a run is killed (default 600)
# A workload named <w>-nodebug runs <w> with gort_nodebug_bench (gort built
# without counters, sites and wait records; no Go peer): its ratio column
# is gort(<w>) / gort(<w>-nodebug), the price of the debug information.
# Output: progress on stderr; on stdout one RESULT line per
# (bench, impl, procs, metric), the median of the runs, then a table.  The raw
# RESULT lines of every run go to <builddir>/raw.txt, the stdout summary to
# <builddir>/summary.txt.  A failed run (non-zero exit, timeout, no RESULT
# line) is reported on stderr and marked in the table; the rest go on, and the
# script exits 1 at the end.  POSIX sh and awk only.
set -u

# name:procs-mode ("all": every procs in PROCS; a number n: procs=n only,
# and only if PROCS lists n)
WORKLOADS="spawn:all yield:1 yield-fp:1 steal:all idle:all protect:1 panic-recover:1
	pingpong:all chanmpmc:all fib:all skynet:all select:all parked:2 parked_1m:2 timers:all
	mutex:all ctxcancel:all rwmutex:all semaphore:all echo:all hog:all
	pingpong-nodebug:all spawn-nodebug:all"

die() {
	echo "run.sh: $*" >&2
	exit 2
}

[ $# -eq 1 ] || die "usage: bench/run.sh <builddir>"
builddir=$1
[ -d "$builddir" ] || die "no such directory: $builddir"

BENCH=${BENCH:-.}
PROCS=$(echo "${PROCS:-1 2}" | tr ',' ' ')
RUNS=${RUNS:-3}
IMPLS=${IMPLS:-gort go}
BENCH_TIMEOUT=${BENCH_TIMEOUT:-600}

isnum() {
	case $1 in '' | *[!0-9]*) return 1 ;; esac
	return 0
}
ispos() {
	isnum "$1" && [ "$1" -ge 1 ]
}
ispos "$RUNS" || die "RUNS must be a positive integer, not '$RUNS'"
ispos "$BENCH_TIMEOUT" || die "bad BENCH_TIMEOUT '$BENCH_TIMEOUT'"
nprocs=0
for p in $PROCS; do
	ispos "$p" || die "PROCS must list positive integers, not '$p'"
	nprocs=$((nprocs + 1))
done
[ "$nprocs" -gt 0 ] || die "PROCS is empty"
for impl in $IMPLS; do
	case $impl in gort | go) ;; *) die "unknown impl '$impl' in IMPLS" ;; esac
	[ -x "$builddir/${impl}_bench" ] || die "missing $builddir/${impl}_bench (build it first)"
done
# Is the regex valid?  (awk reports a bad one and fails.)
awk -v re="$BENCH" 'BEGIN { if ("x" ~ re) {} }' </dev/null 2>/dev/null || die "bad BENCH regex '$BENCH'"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/gortbench.XXXXXX") || die "mktemp failed"
trap 'rm -rf "$TMP"' EXIT
trap 'exit 130' INT TERM
RAW=$builddir/raw.txt
: >"$RAW" || die "cannot write $RAW"
: >"$TMP/good"  # RESULT lines of successful runs
: >"$TMP/marks" # RAN <bench> <procs> / FAIL <bench> <impl> <procs>

TIMEOUT_CMD=""
if command -v timeout >/dev/null 2>&1; then
	TIMEOUT_CMD="timeout -k 10 $BENCH_TIMEOUT"
fi

failed=0
loops=${LOOPS:-}

in_procs() {
	for q in $PROCS; do [ "$q" -eq "$1" ] && return 0; done
	return 1
}

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

# run_one <bench> <impl> <procs> <run> [args...]
run_one() {
	b=$1 impl=$2 p=$3 r=$4
	shift 4
	echo "[bench] $b procs=$p impl=$impl run $r/$RUNS" >&2
	exe=$builddir/${impl}_bench
	arg=$b
	case $b in *-nodebug) exe=$builddir/gort_nodebug_bench arg=${b%-nodebug} ;; esac
	$TIMEOUT_CMD "$exe" "$arg" "$p" "$@" >"$TMP/out" 2>"$TMP/err"
	rc=$?
	awk '/^RESULT /' "$TMP/out" >"$TMP/res"
	echo "# $b impl=$impl procs=$p run=$r rc=$rc" >>"$RAW"
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
		echo "[bench] FAILED: $b procs=$p impl=$impl run $r/$RUNS: $why" >&2
		tail -n 5 "$TMP/err" | sed 's/^/[bench]   | /' >&2
		echo "FAIL $b $impl $p" >>"$TMP/marks"
		failed=1
	else
		cat "$TMP/res" >>"$TMP/good"
	fi
}

matched=0
selected=0
for w in $WORKLOADS; do
	b=${w%%:*}
	mode=${w#*:}
	awk -v s="$b" -v re="$BENCH" 'BEGIN { exit !(s ~ re) }' </dev/null || continue
	matched=1
	plist=$PROCS
	if [ "$mode" != all ]; then
		if ! in_procs "$mode"; then
			echo "[bench] $b: procs=$mode only, and PROCS has no $mode: skipped" >&2
			continue
		fi
		plist=$mode
	fi
	selected=1
	set --
	if [ "$b" = steal ]; then
		if ! calibrate; then
			for p in $plist; do
				echo "RAN $b $p" >>"$TMP/marks"
				for impl in $IMPLS; do echo "FAIL $b $impl $p" >>"$TMP/marks"; done
			done
			failed=1
			continue
		fi
		set -- "$loops"
	fi
	for p in $plist; do
		echo "RAN $b $p" >>"$TMP/marks"
		r=1
		while [ "$r" -le "$RUNS" ]; do
			for impl in $IMPLS; do
				case $b:$impl in *-nodebug:go) continue ;; esac
				run_one "$b" "$impl" "$p" "$r" "$@"
			done
			r=$((r + 1))
		done
	done
done
[ "$matched" -eq 1 ] || die "BENCH='$BENCH' selects no workload (have: $WORKLOADS)"
if [ "$selected" -eq 0 ]; then
	echo "[bench] nothing to run at PROCS='$PROCS'" >&2
	exit 0
fi

# Medians, the steal speedup, and the table.
awk -v runs="$RUNS" -v impls="$IMPLS" '
function num(v) {
	if (v == int(v) && v < 1e15 && v > -1e15) return sprintf("%.0f", v)
	v = sprintf("%.3f", v)
	sub(/0+$/, "", v); sub(/\.$/, "", v)
	return v
}
function ratiofmt(r) {
	return (r >= 0.1 || r <= -0.1) ? sprintf("%.2f", r) : sprintf("%.2g", r)
}
function median(k,   n, i, j, t, a) {
	n = cnt[k]
	for (i = 1; i <= n; i++) a[i] = val[k, i]
	for (i = 2; i <= n; i++) {
		t = a[i]
		for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]
		a[j + 1] = t
	}
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
		s = s " FAILED " fails[b, impl, p] "/" runs
	return s
}
FILENAME ~ /marks$/ {
	if ($1 == "RAN") {
		if (!(($2, $3) in ran)) { ran[$2, $3] = 1; nran++; ranb[nran] = $2; ranp[nran] = $3 }
		if (!($2 in bseen)) { bseen[$2] = 1; nb++; border[nb] = $2 }
	} else if ($1 == "FAIL") fails[$2, $3, $4]++
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
	if (!(b in bseen)) { bseen[b] = 1; nb++; border[nb] = b }
	if (!((b, m) in mseen)) { mseen[b, m] = 1; nm[b]++; morder[b, nm[b]] = m }
	if (!((b, p) in pseen)) { pseen[b, p] = 1; np[b]++; porder[b, np[b]] = p }
	unit[b, m] = f["unit"]
	k = b SUBSEP impl SUBSEP p SUBSEP m
	val[k, ++cnt[k]] = f["value"] + 0
}
END {
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
		if (b == "steal") {
			for (ii = 1; ii <= nimpl; ii++) {
				impl = implv[ii]
				k1 = b SUBSEP impl SUBSEP 1 SUBSEP "total_ms"
				k2 = b SUBSEP impl SUBSEP 2 SUBSEP "total_ms"
				if ((k1 in med) && (k2 in med) && med[k2] > 0) {
					sp = med[k1] / med[k2]
					med[b, impl, 2, "speedup"] = sp; cnt[b, impl, 2, "speedup"] = 1
					printf "RESULT bench=%s impl=%s procs=2 metric=speedup value=%s unit=x\n",
					    b, impl, num(sp)
					hasspeedup = 1
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
			for (pi = 1; pi <= np[b]; pi++) {
				p = porder[b, pi]
				if (m == "speedup" && p != 2) continue
				kg = b SUBSEP "gort" SUBSEP p SUBSEP m
				ko = b SUBSEP "go" SUBSEP p SUBSEP m
				ratio = "-"
				if ((kg in med) && (ko in med) && med[ko] != 0)
					ratio = ratiofmt(med[kg] / med[ko])
				if (b ~ /-nodebug$/) {
					kb = substr(b, 1, length(b) - 8) SUBSEP "gort" SUBSEP p SUBSEP m
					if ((kg in med) && (kb in med) && med[kg] != 0)
						ratio = ratiofmt(med[kb] / med[kg]) " (on/off)"
				}
				addrow(b, m, unit[b, m], p, cellfor(b, "gort", p, m), cellfor(b, "go", p, m), ratio)
			}
		}
		# (bench, procs) pairs that ran but produced no figure at all
		for (ri = 1; ri <= nran; ri++) {
			if (ranb[ri] != b || ((b, ranp[ri]) in pseen)) continue
			addrow(b, "-", "-", ranp[ri], cellfor(b, "gort", ranp[ri], "-"),
			    cellfor(b, "go", ranp[ri], "-"), "-")
		}
	}
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
}
' "$TMP/marks" "$TMP/good" >"$TMP/summary"
cat "$TMP/summary"
cp "$TMP/summary" "$builddir/summary.txt" 2>/dev/null || true

if [ "$failed" -ne 0 ]; then
	echo "[bench] some runs FAILED (see above and $RAW)" >&2
	exit 1
fi
exit 0
