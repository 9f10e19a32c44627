# Markdown to man(7), enough for gdal_plugin/README.md: headings, paragraphs, fenced code, tables,
# bullet and numbered lists, `code`, **bold**, *italic*. Variables: name, section, source, title
# (the NAME line), see_also ("gdalinfo(1) tm_generate(1)"), skip (a regex: "## " sections whose
# heading matches are left out). Code blocks before the first "## " heading (a source layout) are
# left out too.
function esc(s) {
  gsub(/\\/, "\\e", s)
  gsub(/-/, "\\-", s)
  return s
}
function inline(s,   out) {
  s = esc(s)
  out = ""
  while (match(s, /`[^`]*`/)) {
    out = out substr(s, 1, RSTART - 1) "\\fB" substr(s, RSTART + 1, RLENGTH - 2) "\\fR"
    s = substr(s, RSTART + RLENGTH)
  }
  s = out s
  while (match(s, /\*\*[^*]+\*\*/))
    s = substr(s, 1, RSTART - 1) "\\fB" substr(s, RSTART + 2, RLENGTH - 4) "\\fR" \
        substr(s, RSTART + RLENGTH)
  while (match(s, /\*[^* ][^*]*\*/))
    s = substr(s, 1, RSTART - 1) "\\fI" substr(s, RSTART + 1, RLENGTH - 2) "\\fR" \
        substr(s, RSTART + RLENGTH)
  if (s ~ /^[.']/) s = "\\&" s  # a text line may not start with a control character
  return s
}
function flush() {
  if (buf != "") print head "\n" inline(buf)
  buf = ""; head = ""
}
function cells(s, a) {
  sub(/^ *\| */, "", s); sub(/ *\| *$/, "", s)
  return split(s, a, / *\| */)
}
BEGIN {
  printf ".TH %s %s \"\" \"%s\" \"tm manual\"\n", toupper(name), section, source
  printf ".ad l\n.nh\n.SH NAME\n%s \\- %s\n.SH DESCRIPTION\n", name, esc(title)
  intro = 1
}
/^```/ {
  flush()
  if (code) { if (!skipping && !intro) print ".fi\n.RE"; code = 0; next }
  code = 1
  if (!skipping && !intro) print ".PP\n.RS\n.nf"
  next
}
code { if (!skipping && !intro) print "\\&" esc($0); next }
/^# / { next }  # the title: the NAME line
/^## / {
  flush()
  intro = 0
  h = substr($0, 4)
  skipping = (skip != "" && h ~ skip)
  gsub(/`/, "", h)
  if (!skipping) print ".SH \"" esc(toupper(h)) "\""
  next
}

skipping { next }
/^\| *-/ { next }  # table rule
/^\|/ {
  flush()
  n = cells($0, c)
  if (!intable) { intable = 1; has_default = (n >= 3 && c[3] == "default"); next }  # header
  rest = c[2]
  if (n >= 3 && c[3] != "") rest = rest (has_default ? " (default: " c[3] ")" : "; " c[3])
  print ".TP\n" inline(c[1]) "\n" inline(rest)
  next
}
{ intable = 0 }
/^$/ { flush(); para = 1; next }
/^- / { flush(); head = ".IP \\(bu 2"; buf = substr($0, 3); para = 0; next }
/^[0-9]+\. / {
  flush()
  match($0, /^[0-9]+\. /)
  head = ".IP " substr($0, 1, RLENGTH - 1) " 4"; buf = substr($0, RLENGTH + 1); para = 0
  next
}
{
  line = $0
  sub(/^ +/, "", line)
  if (buf == "") { head = para ? ".PP" : ""; para = 0; buf = line }
  else buf = buf " " line
}
END {
  flush()
  if (see_also != "") {
    n = split(see_also, refs, / +/)
    print ".SH \"SEE ALSO\""
    for (i = 1; i <= n; i++) {
      split(refs[i], r, /[()]/)
      print ".BR " r[1] " (" r[2] ")" (i < n ? "," : "")
    }
  }
}
