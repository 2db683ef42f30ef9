// Placements -> one self-contained HTML page (no network): a grid of the allowed locations by
// country and provider, coloured by effect, with the obligations on hover (docs/where.md).
// The page carries the placements as JSON and draws the grid with a few lines of script, so
// that what a browser shows is what a test running a real browser can read back.
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "internal/time_util.h"
#include "residency/where.h"

namespace residency {
namespace {

std::string HtmlText(std::string_view s) {
  return absl::StrReplaceAll(
      absl::string_view(s.data(), s.size()),
      {{"&", "&amp;"}, {"<", "&lt;"}, {">", "&gt;"}, {"\"", "&quot;"}, {"'", "&#39;"}});
}

constexpr char kStyle[] = R"css(
body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#1b1f24}
h1{font-size:20px;margin:0 0 4px}
.meta{color:#57606a;margin-bottom:16px}
.legend span{display:inline-block;padding:2px 8px;margin-right:8px;border-radius:4px}
table{border-collapse:collapse;margin-top:12px}
th,td{border:1px solid #d0d7de;padding:6px;vertical-align:top;text-align:left}
th{background:#f6f8fa}
.loc{display:inline-block;margin:2px;padding:2px 6px;border-radius:4px;cursor:default}
.effect-allow{background:#2da44e;color:#fff}
.effect-allow_with_obligations{background:#d4a72c;color:#1b1f24}
.effect-escalate{background:#8250df;color:#fff}
.reserved{outline:2px dashed #57606a}
#none{font-weight:bold;color:#cf222e}
)css";

// Builds the grid from the JSON in #placements: a row per country and a column per provider, in
// the order of the list (the placement's own provider and country first).
constexpr char kScript[] = R"js(
(function () {
  var data = JSON.parse(document.getElementById('placements').textContent);
  var out = document.getElementById('grid');
  if (data.allowed.length === 0) {
    out.innerHTML = '<p id="none">Allowed nowhere among the locations asked about.</p>';
    return;
  }
  var countries = [], providers = [];
  data.allowed.forEach(function (a) {
    if (countries.indexOf(a.country) < 0) countries.push(a.country);
    if (providers.indexOf(a.provider) < 0) providers.push(a.provider);
  });
  var table = document.createElement('table');
  var head = table.insertRow();
  head.appendChild(document.createElement('th')).textContent = 'country \\ provider';
  providers.forEach(function (p) {
    head.appendChild(document.createElement('th')).textContent = p;
  });
  countries.forEach(function (c) {
    var row = table.insertRow();
    row.appendChild(document.createElement('th')).textContent = c;
    providers.forEach(function (p) {
      var cell = row.insertCell();
      data.allowed.forEach(function (a) {
        if (a.country !== c || a.provider !== p) return;
        var span = document.createElement('span');
        span.className = 'loc effect-' + a.effect + (a.reserved_for ? ' reserved' : '');
        span.dataset.location = a.location;
        span.dataset.effect = a.effect;
        span.textContent = a.location;
        var tip = a.effect + (a.site ? ' (site ' + a.site + ')' : '') +
            (a.reserved_for ? ', reserved for ' + a.reserved_for : '');
        a.obligations.forEach(function (o) {
          tip += '\n' + o.policy + '/' + o.id + ': ' + o.text;
        });
        span.title = tip;
        cell.appendChild(span);
      });
    });
  });
  out.appendChild(table);
  document.getElementById('count').textContent = String(data.allowed.length);
})();
)js";

}  // namespace

std::string PlacementsToHtml(const Placements& p, std::string_view title) {
  // The JSON goes into a <script> element, which `</script>` or `<!--` in a text would end or
  // derail: `<`, `>` and `&` occur only inside its strings, where \u escapes mean the same.
  const std::string json = absl::StrReplaceAll(
      PlacementsToJson(p), {{"<", "\\u003c"}, {">", "\\u003e"}, {"&", "\\u0026"}});
  const std::string heading = title.empty() ? "Where may this request go?"
                                            : absl::StrCat("Where may ", HtmlText(title), " go?");
  return absl::StrCat(
      "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>", heading,
      "</title>\n<style>", kStyle, "</style></head>\n<body>\n<h1>", heading, "</h1>\n",
      "<div class=\"meta\">Allowed at <span id=\"count\">0</span> location(s), evaluated at ",
      internal::FormatTimestamp(p.now), " under policy set ", HtmlText(p.policy_digest),
      ". Hover a location for its obligations.</div>\n",
      "<div class=\"legend\"><span class=\"effect-allow\">allow</span>"
      "<span class=\"effect-allow_with_obligations\">allow with obligations</span>"
      "<span class=\"effect-escalate\">escalate</span>"
      "<span class=\"reserved\">sector cloud</span></div>\n",
      "<div id=\"grid\"><noscript>This page draws its grid with JavaScript; "
      "`residency where` without --format html lists the same locations as text."
      "</noscript></div>\n",
      "<script type=\"application/json\" id=\"placements\">", json, "</script>\n<script>", kScript,
      "</script>\n</body></html>\n");
}

}  // namespace residency
