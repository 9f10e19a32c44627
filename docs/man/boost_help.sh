#!/bin/sh
# help2man runs this in place of a tool (TM_MAN_TOOL): the tool's --help, reshaped from
# Boost.Program_options' layout into the GNU one help2man parses. The first line
# ("tool: summary") is the NAME paragraph (help2man -n) and is dropped; "usage:" becomes
# "Usage:" with "or:" continuation lines (SYNOPSIS); "options:" becomes "Options:" (OPTIONS); an
# option whose text reaches the description column gets the two spaces help2man needs.
set -eu
case "${1:-}" in
  --version) echo "${TM_MAN_VERSION:-}"; exit 0 ;;
esac
"$TM_MAN_TOOL" --help | awk '
  NR == 1 { next }
  NR == 2 && $0 == "" { next }
  { line[++n] = $0 }
  END {
    # The description column: where wrapped option descriptions start.
    for (i = 1; i <= n; i++) {
      if (line[i] ~ /^[a-zA-Z][a-zA-Z ]*:$/) in_opts = (line[i] ~ /^options:$/)
      else if (in_opts && match(line[i], /^ +[^ -]/)) count[RLENGTH - 1]++
    }
    best = 0
    for (c in count) if (count[c] > count[best] || best == 0) best = c
    in_opts = 0; in_usage = 0
    for (i = 1; i <= n; i++) {
      s = line[i]
      if (s ~ /^usage: /) { sub(/^usage: /, "Usage: ", s); in_usage = 1 }
      else if (in_usage && s ~ /^       [^ ]/) sub(/^       /, "  or:  ", s)
      else in_usage = 0
      if (s ~ /^[a-zA-Z][a-zA-Z ]*:$/) {
        in_opts = (s ~ /^options:$/)
        if (in_opts) s = "Options:"
      } else if (in_opts && best > 2 && s ~ /^  -/ &&
                 substr(s, best, 1) == " " && substr(s, best - 1, 1) != " " &&
                 substr(s, best + 1, 1) != " " && length(s) > best) {
        s = substr(s, 1, best) " " substr(s, best + 1)
      }
      print s
    }
  }'
