#!/bin/sh
# apidoc.sh — the API reference: docs/api.md, generated from the comments
# of include/gort.h and the headers it includes (POSIX sh and awk only).
#
#   sh scripts/apidoc.sh            write docs/api.md (make api-docs)
#   sh scripts/apidoc.sh --check    exit 1, naming each problem, when a
#                                   public function or user-facing macro
#                                   lacks a complete comment or when
#                                   docs/api.md is not what the headers
#                                   generate (make check-api)
#   -I DIR    the include directory (default: include/ of this tree)
#   -o FILE   the reference to write or compare (default: docs/api.md)
#
# What is checked.  Public are the GORT_API function declarations and the
# function-like macros users call (named gort_*, or expanding to a call of
# a gort_* function: GORT_DEFER).  Each must sit in an *entry*: a comment
# directly above (no blank line) a run of declarations, which that one
# comment documents (a macro and the _at function behind it, or a few
# closely related functions).  A blank line or another comment ends the
# run.  The comment is a description, then tagged lines, each at the start
# of a comment line and continued on the lines after it:
#   Returns:  every value and error code (may be left out when every
#             function of the entry is void or never returns)
#   Blocks:   "no", or what it waits for
#   Context:  required unless Blocks: starts with "no": the _ctx sibling,
#             "takes ctx", or "none"
#   Threads:  who may call it
#   Panics:   optional
# A declaration inside a preprocessor conditional cannot be documented
# and is reported too.  Problems are printed one a line:
#   undocumented: NAME (FILE:LINE)
#   incomplete: NAME (FILE:LINE): lacks Blocks:, Threads:
#   stale: FILE is not what the headers generate (run make api-docs)
# Generation prints the same problems as warnings and writes the file
# anyway (an undocumented entry says so).  The output is deterministic
# (LC_ALL=C; nothing from the environment but the headers).
set -eu
LC_ALL=C
export LC_ALL

usage() {
	echo "usage: sh scripts/apidoc.sh [--check] [-I include-dir] [-o docs/api.md]"
}

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
inc=$root/include
out=$root/docs/api.md
check=0
while [ $# -gt 0 ]; do
	case $1 in
	--check) check=1 ;;
	-I) [ $# -ge 2 ] || { usage >&2; exit 2; }; inc=$2; shift ;;
	-o) [ $# -ge 2 ] || { usage >&2; exit 2; }; out=$2; shift ;;
	-h | --help) usage; exit 0 ;;
	*) echo "apidoc.sh: unknown argument: $1" >&2; usage >&2; exit 2 ;;
	esac
	shift
done
if [ ! -f "$inc/gort.h" ]; then
	echo "apidoc.sh: $inc/gort.h: no such file" >&2
	exit 2
fi

# The headers: gort.h, the ones it includes in its order, then any other
# gort/*.h (sorted).
set -- "$inc/gort.h"
seen=" "
# shellcheck disable=SC2013 # one word a line: header names have no spaces
for h in $(sed -n 's|^[[:space:]]*#[[:space:]]*include[[:space:]]*<\(gort/[A-Za-z0-9_.-]*\.h\)>.*|\1|p' "$inc/gort.h"); do
	case $seen in *" $h "*) continue ;; esac
	if [ -f "$inc/$h" ]; then
		set -- "$@" "$inc/$h"
		seen="$seen$h "
	fi
done
for p in "$inc"/gort/*.h; do
	[ -f "$p" ] || continue
	h=gort/${p##*/}
	case $seen in *" $h "*) continue ;; esac
	set -- "$@" "$p"
	seen="$seen$h "
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/apidoc.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
trap 'exit 2' INT TERM HUP
: > "$tmp/problems"
: > "$tmp/stats"

cat > "$tmp/apidoc.awk" <<'AWK'
# ---------------------------------------------------------------- parsing
#
# Per line, outside statements: comments (banners, a header's leading
# comment, doc comments), preprocessor lines, blank lines, and the first
# line of a statement.  A statement (a declaration, a typedef with its
# body, a #define with its continuations) is read whole, then classified.

function trim(s) { sub(/^[ \t]+/, "", s); sub(/[ \t]+$/, "", s); return s }
function squeeze(s) { gsub(/[ \t]+/, " ", s); return trim(s) }
function problem(s) { print s > probfile; nproblems++ }

function newfile(   f) {
	if (NR > 1)
		endfile()
	f = FILENAME
	if (index(f, incdir "/") == 1)
		f = substr(f, length(incdir) + 2)
	nf++
	F_name[nf] = f
	F_intro[nf] = ""
	curfile = f
	seen_code = 0; guard_seen = 0; guard_define = ""; depth = 0
	in_comment = 0; in_stmt = 0; pending = 0; run = 0; expect_title = 0
	new_section("")
}

function endfile() {
	if (in_stmt)
		finish_stmt()
	run = 0
	free_pending()
}

function new_section(title) {
	ns++
	S_file[ns] = nf
	S_title[ns] = title
	S_intro[ns] = ""
	cursect = ns
}

# ---- comments

function start_comment(line) {
	in_comment = 1
	cn = 0
	cline = FNR
	add_comment(line)
}

function add_comment(line,   s) {
	C[++cn] = line
	s = line
	if (cn == 1)
		sub(/^[ \t]*\/\*/, "", s)
	if (index(s, "*/"))
		close_comment()
}

# The text of the comment in C[1..cn]: delimiters and leading " * " gone,
# the indentation after them kept; lines joined by "\n".
function comment_text(   i, s, t, n, first, last) {
	t = ""
	n = 0
	for (i = 1; i <= cn; i++) {
		s = C[i]
		if (i == 1)
			sub(/^[ \t]*\/\*+/, "", s)
		else if (s ~ /^[ \t]*\*\//)
			s = ""
		else
			sub(/^[ \t]*\*/, "", s)
		sub(/[ \t]*\*\/[ \t]*$/, "", s)
		sub(/^ /, "", s)
		sub(/[ \t]+$/, "", s)
		L[++n] = s
	}
	first = 1
	while (first <= n && L[first] == "")
		first++
	last = n
	while (last >= first && L[last] == "")
		last--
	for (i = first; i <= last; i++)
		t = t (i > first ? "\n" : "") L[i]
	return t
}

function close_comment(   t, dashes, title) {
	in_comment = 0
	t = comment_text()
	if (cn == 1 && t ~ /^----/) {
		# a banner: a rule with a title ("---- mutex") or a bare rule
		# around a one-line title comment
		title = t
		sub(/^-+[ \t]*/, "", title)
		if (title != "") {
			new_section(trim(title))
			expect_title = 0
		} else {
			expect_title = !expect_title
		}
		return
	}
	if (cn == 1 && expect_title) {
		new_section(trim(t))
		return
	}
	if (!seen_code && F_intro[nf] == "") {
		F_intro[nf] = t
		return
	}
	if (pending)
		free_pending()
	pending = 1
	pending_text = t
	pending_line = cline
}

# A comment followed by a blank line (or by another comment): a section's
# introduction, or the error table.
function free_pending() {
	if (!pending)
		return
	pending = 0
	if (pending_text ~ /^Errors:/) {
		errors_text = pending_text
		errors_sect = cursect
		return
	}
	S_intro[cursect] = S_intro[cursect] (S_intro[cursect] != "" ? "\n\n" : "") pending_text
}

# ---- entries

function start_run() {
	ne++
	E_file[ne] = nf
	E_sect[ne] = cursect
	E_line[ne] = FNR
	E_ncode[ne] = 0
	E_nnames[ne] = 0
	E_comment[ne] = pending ? pending_text : ""
	E_hascomment[ne] = pending
	E_isfn[ne] = 0
	E_nonvoid[ne] = 0
	E_fwd[ne] = 1
	pending = 0
	run = 1
}

function add_name(e, name, kind, line) {
	if (name == "")
		return
	E_nnames[e]++
	E_name[e, E_nnames[e]] = name
	E_kind[e, E_nnames[e]] = kind
	E_nline[e, E_nnames[e]] = line
	if (!(name in A)) {
		A[name] = e
	}
}

# ---- statements

function count(s, re) { return gsub(re, "", s) }

function start_stmt(line) {
	in_stmt = 1
	stmt = line
	stmt_line = FNR
	braces = 0
	stmt_step(line)
}

function stmt_step(line) {
	if (stmt ~ /^[ \t]*#/) {
		if (line !~ /\\[ \t]*$/)
			finish_stmt()
		return
	}
	braces += count(line, "{") - count(line, "}")
	if (braces <= 0 && index(line, ";"))
		finish_stmt()
}

# Comments removed from a statement's text (its body's field comments).
function strip_comments(s,   out, p, q) {
	out = ""
	while ((p = index(s, "/*")) > 0) {
		out = out substr(s, 1, p - 1)
		s = substr(s, p + 2)
		q = index(s, "*/")
		if (q == 0) { s = ""; break }
		s = substr(s, q + 2)
	}
	return out s
}

function finish_stmt(   flat, x, name, p, pre, ret, body, n, i, parts, id, code, e) {
	in_stmt = 0
	e = ne
	flat = stmt
	gsub(/\\\n/, " ", flat)
	gsub(/\n/, " ", flat)
	flat = squeeze(flat)
	if (flat ~ /^#[ \t]*define[ \t]/) {
		x = flat
		sub(/^#[ \t]*define[ \t]+/, "", x)
		match(x, /^[A-Za-z_][A-Za-z0-9_]*/)
		name = substr(x, 1, RLENGTH)
		code = "#define " x
		E_code[e, ++E_ncode[e]] = code
		E_fwd[e] = 0
		if (substr(x, RLENGTH + 1, 1) == "(") {
			body = substr(x, RLENGTH + 1)
			sub(/^\([^)]*\)/, "", body)
			if (name ~ /^gort_/ || body ~ /gort_[a-z0-9_]+[ \t]*\(/) {
				add_name(e, name, "umacro", stmt_line)
				E_isfn[e] = 1
				E_body[name] = body
			} else {
				add_name(e, name, "macro", stmt_line)
			}
		} else {
			add_name(e, name, "const", stmt_line)
		}
		return
	}
	if (flat ~ /(^|[ \t])GORT_API[ \t]/) {
		p = index(flat, "(")
		pre = substr(flat, 1, p - 1)
		match(pre, /[A-Za-z_][A-Za-z0-9_]*[ \t]*$/)
		name = trim(substr(pre, RSTART))
		ret = substr(pre, 1, RSTART - 1)
		gsub(/GORT_API|GORT_NORETURN/, "", ret)
		ret = squeeze(ret)
		code = flat
		sub(/GORT_API /, "", code)
		E_code[e, ++E_ncode[e]] = code
		E_fwd[e] = 0
		add_name(e, name, "fn", stmt_line)
		E_isfn[e] = 1
		if (ret != "void" && flat !~ /GORT_NORETURN/)
			E_nonvoid[e] = 1
		return
	}
	if (flat ~ /^(typedef|enum|struct|union)[ \t{]/) {
		E_code[e, ++E_ncode[e]] = stmt
		x = strip_comments(stmt)
		gsub(/\n/, " ", x)
		x = squeeze(x)
		if (x ~ /^struct [A-Za-z_][A-Za-z0-9_]* *;$/)
			return # a forward declaration
		E_fwd[e] = 0
		if (x ~ /^typedef/ && !index(x, "{") && match(x, /\(\*[ \t]*[A-Za-z_][A-Za-z0-9_]*[ \t]*\)/)) {
			id = substr(x, RSTART + 2, RLENGTH - 3)
			add_name(e, trim(id), "type", stmt_line)
			return
		}
		if (index(x, "{")) {
			body = x
			sub(/^[^{]*\{/, "", body)
			sub(/\}[^}]*$/, "", body)
			n = split(body, parts, ",")
			for (i = 1; i <= n; i++) {
				id = trim(parts[i])
				if (match(id, /^[A-Z_][A-Z0-9_]*/) && x ~ /^(typedef )?enum/)
					add_name(e, substr(id, 1, RLENGTH), "enumconst", stmt_line)
			}
			x = substr(x, length(x) - index(reverse(x), "}") + 2)
		}
		sub(/[ \t]*;$/, "", x)
		if (match(x, /[A-Za-z_][A-Za-z0-9_]*$/))
			add_name(e, substr(x, RSTART), "type", stmt_line)
		return
	}
	E_code[e, ++E_ncode[e]] = stmt
	E_fwd[e] = 0
}

function reverse(s,   r, i) {
	r = ""
	for (i = length(s); i > 0; i--)
		r = r substr(s, i, 1)
	return r
}

# A public declaration in a place the parser skips.
function scan_hidden(line,   x) {
	x = line
	if (x ~ /^[ \t]*(GORT_NORETURN[ \t]+)?GORT_API[ \t]/) {
		sub(/\(.*/, "", x)
		match(x, /[A-Za-z_][A-Za-z0-9_]*[ \t]*$/)
		hidden(trim(substr(x, RSTART)))
	} else if (x ~ /^[ \t]*#[ \t]*define[ \t]+gort_[A-Za-z0-9_]*\(/) {
		sub(/^[ \t]*#[ \t]*define[ \t]+/, "", x)
		sub(/\(.*/, "", x)
		hidden(x)
	}
}

function hidden(name) {
	problem("undocumented: " name " (" curfile ":" FNR "): inside a preprocessor conditional, where no comment can document it")
	nhidden++
}

FNR == 1 { newfile() }

{
	line = $0
	if (in_stmt) {
		stmt = stmt "\n" line
		stmt_step(line)
		next
	}
	if (in_comment) {
		add_comment(line)
		next
	}
	if (line ~ /^[ \t]*#[ \t]*(if|ifdef|ifndef)([ \t]|$)/) {
		seen_code = 1
		run = 0
		if (!guard_seen && line ~ /^[ \t]*#[ \t]*ifndef[ \t]+[A-Za-z0-9_]+_H[ \t]*$/) {
			guard_seen = 1
			guard_define = line
			sub(/^[ \t]*#[ \t]*ifndef[ \t]+/, "", guard_define)
			guard_define = trim(guard_define)
			pending = 0
			next
		}
		pending = 0 # it described what the conditional holds
		depth++
		next
	}
	if (line ~ /^[ \t]*#[ \t]*endif/) {
		run = 0
		pending = 0
		if (depth > 0)
			depth--
		next
	}
	if (line ~ /^[ \t]*#[ \t]*(else|elif)/)
		next
	if (depth > 0) {
		scan_hidden(line)
		next
	}
	if (guard_define != "" && line ~ /^[ \t]*#[ \t]*define[ \t]/) {
		x = line
		sub(/^[ \t]*#[ \t]*define[ \t]+/, "", x)
		if (trim(x) == guard_define) {
			guard_define = ""
			next
		}
	}
	if (line ~ /^[ \t]*$/) {
		run = 0
		free_pending()
		next
	}
	if (line ~ /^[ \t]*\/\*/) {
		run = 0
		start_comment(line)
		next
	}
	seen_code = 1
	if (line ~ /^[ \t]*#[ \t]*(include|error|pragma|undef|line)/) {
		run = 0
		pending = 0
		next
	}
	if (!run)
		start_run()
	start_stmt(line)
}

# --------------------------------------------------------------- checking

# Tags of entry e's comment: T[tag] (text joined), the description in Tdesc.
function parse_tags(e,   n, i, l, tag, cur) {
	delete T
	Tdesc = ""
	cur = ""
	n = split(E_comment[e], TL, "\n")
	for (i = 1; i <= n; i++) {
		l = TL[i]
		if (match(l, /^(Returns|Blocks|Context|Threads|Panics):/)) {
			cur = substr(l, 1, RLENGTH - 1)
			T[cur] = trim(substr(l, RLENGTH + 1))
			continue
		}
		if (cur != "")
			T[cur] = T[cur] (T[cur] != "" ? " " : "") trim(l)
		else
			Tdesc = Tdesc (Tdesc != "" ? "\n" : "") l
	}
}

function check_entry(e,   k, lacks, where) {
	if (!E_isfn[e])
		return
	lacks = ""
	if (!E_hascomment[e]) {
		for (k = 1; k <= E_nnames[e]; k++)
			if (E_kind[e, k] == "fn" || E_kind[e, k] == "umacro")
				problem("undocumented: " E_name[e, k] " (" F_name[E_file[e]] ":" E_nline[e, k] ")")
		return
	}
	parse_tags(e)
	if (trim(Tdesc) == "")
		lacks = lacks ", a description"
	if (E_nonvoid[e] && !("Returns" in T))
		lacks = lacks ", Returns:"
	if (!("Blocks" in T))
		lacks = lacks ", Blocks:"
	else if (T["Blocks"] !~ /^no([^A-Za-z]|$)/ && !("Context" in T))
		lacks = lacks ", Context:"
	if (!("Threads" in T))
		lacks = lacks ", Threads:"
	if (lacks == "")
		return
	lacks = substr(lacks, 3)
	for (k = 1; k <= E_nnames[e]; k++)
		if (E_kind[e, k] == "fn" || E_kind[e, k] == "umacro")
			problem("incomplete: " E_name[e, k] " (" F_name[E_file[e]] ":" E_nline[e, k] "): lacks " lacks)
}

# ------------------------------------------------------------- rendering

# Inline Markdown for a line of prose: identifiers (gort_*, GORT_*, names
# with an underscore, -EXXX codes, *pointer) become code spans, linked
# when they name an entry other than entry self; the rest is escaped.
function md_inline(s, self,   out, c, run, rest, w, p) {
	out = ""
	while (s != "") {
		p = index(s, "`")
		if (p == 1) {
			# an existing code span: kept as it is
			rest = substr(s, 2)
			p = index(rest, "`")
			if (p == 0) { out = out "\\`"; s = rest; continue }
			out = out "`" substr(rest, 1, p)
			s = substr(rest, p + 1)
			continue
		}
		if (match(s, /^[A-Za-z0-9_*]+/)) {
			w = substr(s, 1, RLENGTH)
			s = substr(s, RLENGTH + 1)
			if (w ~ /^E[A-Z][A-Z0-9]+$/ && out ~ /-$/) {
				out = substr(out, 1, length(out) - 1)
				w = "-" w
			}
			p = call_len(s)
			if (p > 0 && is_name(w)) {
				out = out code_word(w substr(s, 1, p), w, self)
				s = substr(s, p + 1)
			} else
				out = out code_word(w, w, self)
			continue
		}
		c = substr(s, 1, 1)
		s = substr(s, 2)
		if (c == "<" && s ~ /^[A-Za-z\/!?]/)
			out = out "&lt;"
		else if (c == "&" && s ~ /^[A-Za-z#]/)
			out = out "&amp;"
		else if (c == "\\" || (c == "]" && s ~ /^[[(]/))
			out = out "\\" c
		else
			out = out c
	}
	return out
}

# The length of a call's argument list at the start of s ("(a, b)"), or 0
# when s does not start with one (unbalanced, or too long to be one).
function call_len(s,   i, d, c) {
	if (substr(s, 1, 1) != "(")
		return 0
	d = 0
	for (i = 1; i <= length(s) && i <= 80; i++) {
		c = substr(s, i, 1)
		if (c == "(")
			d++
		else if (c == ")" && --d == 0)
			return i
		else if (c == "`")
			return 0
	}
	return 0
}

function is_name(w) {
	return w ~ /^(gort_|GORT_)/ || w ~ /^-?E[A-Z][A-Z0-9]+$/ || \
	       (w ~ /_/ && w ~ /^[*]*[A-Za-z_][A-Za-z0-9_]*$/) || w ~ /^[*]+[A-Za-z_]/ || w == "NULL"
}

function code_word(text, w, self) {
	if (!is_name(w)) {
		gsub(/\*/, "\\*", text)
		return text
	}
	if ((w in A) && !(w in self))
		return "[`" text "`](#" w ")"
	return "`" text "`"
}

# Prose to Markdown: paragraphs; "- " items (continued by deeper lines);
# other indented lines as a code block.
function md_block(text, self,   n, i, l, ind, out, mode, buf, item_ind, m, j, k, pre, minind) {
	out = ""
	mode = ""
	buf = ""
	n = split(text, ML, "\n")
	for (i = 1; i <= n + 1; i++) {
		l = i <= n ? ML[i] : ""
		if (l ~ /^[ \t]*$/) {
			out = md_flush(out, mode, buf)
			mode = ""; buf = ""
			continue
		}
		match(l, /^[ \t]*/)
		ind = RLENGTH
		if (l ~ /^[ \t]*- /) {
			out = md_flush(out, mode, buf)
			mode = "li"
			item_ind = ind
			buf = trim(substr(l, ind + 3))
			continue
		}
		if (mode == "li" && ind > item_ind) {
			buf = buf " " trim(l)
			continue
		}
		if (ind >= 2) {
			if (mode != "pre") {
				out = md_flush(out, mode, buf)
				mode = "pre"
				buf = ""
				npre = 0
			}
			PRE[++npre] = l
			continue
		}
		if (mode != "p") {
			out = md_flush(out, mode, buf)
			mode = "p"
			buf = ""
		}
		buf = buf (buf != "" ? " " : "") trim(l)
	}
	return out
}

function md_flush(out, mode, buf,   k, minind, l) {
	if (mode == "")
		return out
	if (out != "" && !(mode == "li" && last_mode == "li"))
		out = out "\n"
	last_mode = mode
	if (mode == "p")
		return out md_inline(buf, SELF) "\n"
	if (mode == "li")
		return out "- " md_inline(buf, SELF) "\n"
	minind = 1000
	for (k = 1; k <= npre; k++) {
		match(PRE[k], /^ */)
		if (RLENGTH < minind)
			minind = RLENGTH
	}
	out = out "```\n"
	for (k = 1; k <= npre; k++)
		out = out substr(PRE[k], minind + 1) "\n"
	return out "```\n"
}

function md_text(text, e,   k) {
	delete SELF
	if (e)
		for (k = 1; k <= E_nnames[e]; k++)
			SELF[E_name[e, k]] = 1
	last_mode = ""
	return md_block(text, SELF)
}

function slug(s) {
	s = tolower(s)
	gsub(/[^a-z0-9]+/, "-", s)
	gsub(/^-+|-+$/, "", s)
	return s
}

# A section's title; an unnamed one (before the first banner) takes the
# subject of its header's leading comment ("gort/io.h — I/O that ...").
function sect_title(s,   t) {
	if (S_title[s] != "")
		return S_title[s]
	t = F_intro[S_file[s]]
	sub(/\n.*/, "", t)
	if (!sub(/^[^ ]+ (—|--|-) /, "", t))
		return F_name[S_file[s]]
	sub(/[ \t]*\(.*/, "", t)
	sub(/[.:].*/, "", t)
	return t
}

function sect_anchor(s) { return "s-" slug(F_name[S_file[s]] "-" (S_title[s] != "" ? S_title[s] : "top")) }
function file_anchor(f) { return "h-" slug(F_name[f]) }
function types_anchor(f) { return "t-" slug(F_name[f]) }

# The names shown for entry e: functions entries show their functions and
# user-facing macros, but not an _at function a macro of the entry wraps;
# type entries their types, else their constants.
function entry_heading(e, sep,   k, h, name, kind, wrapped, j, any) {
	h = ""
	if (E_isfn[e]) {
		for (k = 1; k <= E_nnames[e]; k++) {
			name = E_name[e, k]
			kind = E_kind[e, k]
			if (kind != "fn" && kind != "umacro")
				continue
			if (kind == "fn" && name ~ /_at$/) {
				wrapped = 0
				for (j = 1; j <= E_nnames[e]; j++)
					if (E_kind[e, j] == "umacro" && E_body[E_name[e, j]] ~ ("(^|[^A-Za-z0-9_])" name "[ \t]*\\("))
						wrapped = 1
				if (wrapped)
					continue
			}
			h = h (h != "" ? sep : "") name
		}
		return h
	}
	for (any = 0; any < 3 && h == ""; any++)
		for (k = 1; k <= E_nnames[e]; k++) {
			kind = E_kind[e, k]
			if ((any == 0 && kind == "type") || (any == 1 && kind == "const") || (any == 2 && kind == "enumconst"))
				h = h (h != "" ? sep : "") E_name[e, k]
		}
	return h
}

function linked_list(e,   n, i, out) {
	n = split(entry_heading(e, " "), HN, " ")
	out = ""
	for (i = 1; i <= n; i++)
		out = out (out != "" ? ", " : "") "[`" HN[i] "`](#" HN[i] ")"
	return out
}

function anchors(e,   k, out) {
	out = ""
	for (k = 1; k <= E_nnames[e]; k++)
		if (A[E_name[e, k]] == e)
			out = out "<a id=\"" E_name[e, k] "\"></a>"
	return out
}

function set_self(e,   k) {
	delete SELF
	for (k = 1; k <= E_nnames[e]; k++)
		SELF[E_name[e, k]] = 1
}

function print_code(e,   k) {
	print ""
	print "```c"
	for (k = 1; k <= E_ncode[e]; k++)
		print E_code[e, k]
	print "```"
}

# An entry: anchors, heading; for functions the declarations, the
# description and the tags; for types the description, then the code.
function render_entry(e,   k, h, tag, i, n) {
	set_self(e)
	h = entry_heading(e, " ")
	n = split(h, HN, " ")
	h = ""
	for (i = 1; i <= n; i++)
		h = h (h != "" ? ", " : "") "`" HN[i] "`"
	print ""
	print anchors(e)
	print "#### " h
	if (E_isfn[e])
		print_code(e)
	if (!E_hascomment[e]) {
		print ""
		print "*Undocumented.*"
		if (!E_isfn[e])
			print_code(e)
		return
	}
	parse_tags(e)
	if (trim(Tdesc) != "") {
		print ""
		printf "%s", md_text(Tdesc, e)
	}
	if (!E_isfn[e]) {
		print_code(e)
		return
	}
	set_self(e)
	i = 0
	for (k = 1; k <= 5; k++) {
		tag = TAGS[k]
		if (!(tag in T))
			continue
		if (i++ == 0)
			print ""
		print "- **" tag ":** " md_inline(T[tag], SELF)
	}
}

# The error table of the "Errors:" comment: rows "  CODE  \"text\"", each
# explained on the deeper lines below it; prose before and after.
function render_errors(   n, i, l, before, after, state, code, text, meaning, m) {
	n = split(errors_text, EL, "\n")
	before = ""; after = ""; state = 0; m = 0
	for (i = 1; i <= n; i++) {
		l = EL[i]
		if (l ~ /^  [^ \t]+[ \t]+"[^"]*"[ \t]*$/) {
			state = 1
			m++
			code = trim(l)
			sub(/[ \t].*/, "", code)
			text = l
			sub(/^[^"]*"/, "", text)
			sub(/"[ \t]*$/, "", text)
			ROWC[m] = code; ROWT[m] = text; ROWM[m] = ""
			continue
		}
		if (state == 1 && l ~ /^    /) {
			ROWM[m] = ROWM[m] (ROWM[m] != "" ? " " : "") trim(l)
			continue
		}
		if (state == 1 && l == "")
			continue
		if (state == 0)
			before = before (before != "" ? "\n" : "") l
		else {
			state = 2
			after = after (after != "" ? "\n" : "") l
		}
	}
	sub(/^Errors:[ \t]*/, "", before)
	before = toupper(substr(before, 1, 1)) substr(before, 2)
	printf "%s", md_text(before, 0)
	print ""
	print "| Code | `gort_strerror(code)` | Meaning |"
	print "|---|---|---|"
	for (i = 1; i <= m; i++)
		print "| `" ROWC[i] "` | " ROWT[i] " | " cell(md_inline(ROWM[i], SELF)) " |"
	if (after != "") {
		print ""
		printf "%s", md_text(after, 0)
	}
	nerrcodes = m
}

function cell(s) { gsub(/\|/, "\\|", s); return s }

function sect_has(s, want,   e) {
	for (e = 1; e <= ne; e++)
		if (E_sect[e] == s && !E_fwd[e] && E_isfn[e] == want)
			return 1
	return 0
}

END {
	if (NR > 0)
		endfile()
	TAGS[1] = "Returns"; TAGS[2] = "Blocks"; TAGS[3] = "Context"; TAGS[4] = "Threads"; TAGS[5] = "Panics"

	for (e = 1; e <= ne; e++)
		check_entry(e)
	if (errors_text == "")
		problem("missing: the \"Errors:\" comment (the error table) in gort.h")

	print "# gort API reference"
	print ""
	print "<!-- Generated by scripts/apidoc.sh from the comments of include/gort.h and the"
	print "     headers it includes: do not edit.  make api-docs regenerates it; make"
	print "     check-api fails when it is stale or a public function lacks its comment. -->"
	print ""
	print "Generated from the comments of `include/gort.h` and the headers it includes"
	print "(`scripts/apidoc.sh`; `make api-docs`).  Every public function and user-facing"
	print "macro is here, in header order, with what it returns (every error code), whether"
	print "it blocks, its context-aware sibling, and who may call it."
	print ""
	print "<a id=\"errors\"></a>"
	print "## Errors"
	print ""
	if (errors_text != "")
		render_errors()
	print ""
	print "## Reading an entry"
	print ""
	print "Each entry shows its declarations: for a blocking call, the macro you call"
	print "(it records the call site for dumps) and the `_at` function behind it.  Then"
	print "what it does, and:"
	print ""
	print "- **Returns:** every value and error code (left out for `void` functions);"
	print "- **Blocks:** `no`, or what it waits for (a coroutine parks: its P runs others;"
	print "  a plain thread sleeps);"
	print "- **Context:** for blocking calls: the `_ctx` sibling that also ends when a"
	print "  `gort_ctx` is done, `takes ctx`, or `none`;"
	print "- **Threads:** who may call it: coroutines, plain threads, and what it needs"
	print "  (the runtime running, one owner);"
	print "- **Panics:** the panics it raises, as Go would (programming errors)."
	print ""
	print "## Index"
	for (f = 1; f <= nf; f++) {
		print ""
		print "**[`<" F_name[f] ">`](#" file_anchor(f) ")**"
		print ""
		for (s = 1; s <= ns; s++) {
			if (S_file[s] != f)
				continue
			fl = ""; tl = ""
			for (e = 1; e <= ne; e++) {
				if (E_sect[e] != s || E_fwd[e])
					continue
				if (E_isfn[e])
					fl = fl (fl != "" ? ", " : "") linked_list(e)
				else if (entry_heading(e, " ") != "")
					tl = tl (tl != "" ? ", " : "") linked_list(e)
			}
			if (fl == "" && tl == "")
				continue
			line = "- [" sect_title(s) "](#" sect_anchor(s) "):"
			if (fl != "")
				line = line " " fl
			if (tl != "")
				line = line (fl != "" ? "; " : " ") "types and constants: " tl
			print line
		}
	}

	for (f = 1; f <= nf; f++) {
		print ""
		print "<a id=\"" file_anchor(f) "\"></a>"
		print "## `<" F_name[f] ">`"
		if (F_intro[f] != "") {
			print ""
			printf "%s", md_text(F_intro[f], 0)
		}
		for (s = 1; s <= ns; s++) {
			if (S_file[s] != f)
				continue
			if (!sect_has(s, 1) && S_intro[s] == "" && errors_sect != s)
				continue
			print ""
			print "<a id=\"" sect_anchor(s) "\"></a>"
			print "### " md_inline(sect_title(s), SELF)
			if (errors_sect == s) {
				print ""
				print "The error codes and their texts: [Errors](#errors)."
			}
			if (S_intro[s] != "") {
				print ""
				printf "%s", md_text(S_intro[s], 0)
			}
			for (e = 1; e <= ne; e++)
				if (E_sect[e] == s && E_isfn[e] && !E_fwd[e])
					render_entry(e)
		}
	}

	print ""
	print "## Types and constants"
	for (f = 1; f <= nf; f++) {
		any = 0
		for (e = 1; e <= ne; e++)
			if (E_file[e] == f && !E_isfn[e] && !E_fwd[e] && entry_heading(e, " ") != "")
				any = 1
		if (!any)
			continue
		print ""
		print "<a id=\"" types_anchor(f) "\"></a>"
		print "### `<" F_name[f] ">`"
		for (e = 1; e <= ne; e++)
			if (E_file[e] == f && !E_isfn[e] && !E_fwd[e] && entry_heading(e, " ") != "")
				render_entry(e)
	}

	nfn = 0; nmac = 0; nent = 0
	for (e = 1; e <= ne; e++) {
		if (!E_isfn[e])
			continue
		nent++
		for (k = 1; k <= E_nnames[e]; k++) {
			if (E_kind[e, k] == "fn") nfn++
			if (E_kind[e, k] == "umacro") nmac++
		}
	}
	print "check-api: " nfn " functions and " nmac " user-facing macros in " nent " entries, " nerrcodes " error codes" > statfile
}
AWK

awk -v incdir="$inc" -v probfile="$tmp/problems" -v statfile="$tmp/stats" \
	-f "$tmp/apidoc.awk" "$@" > "$tmp/api.md"

# $out as the messages show it: relative to the current directory if under it
show=$out
case $out in "$PWD"/*) show=${out#"$PWD"/} ;; esac

if [ "$check" = 1 ]; then
	status=0
	if [ -s "$tmp/problems" ]; then
		cat "$tmp/problems" >&2
		status=1
	fi
	if ! cmp -s "$tmp/api.md" "$out"; then
		echo "stale: $show is not what the headers generate (run make api-docs)" >&2
		status=1
	fi
	if [ "$status" = 0 ]; then
		echo "$(cat "$tmp/stats"): complete; $show is up to date"
	fi
	exit "$status"
fi

if [ -s "$tmp/problems" ]; then
	echo "apidoc.sh: warning: the API comments are not complete (make check-api fails):" >&2
	cat "$tmp/problems" >&2
fi
mkdir -p "$(dirname "$out")"
if cmp -s "$tmp/api.md" "$out"; then
	echo "apidoc.sh: $show is up to date"
else
	cat "$tmp/api.md" > "$out"
	echo "apidoc.sh: wrote $show"
fi
cat "$tmp/stats"
