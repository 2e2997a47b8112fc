"""The dashboard's HTML, rendered on the server from the JSON documents of `scaler.reports.dashboard`.

Two pages, each a whole document or just its live part (`fragment=1`): the fleet (`/`) and one
ScaledObject (`/scaledobjects/{namespace}/{name}`). The object page draws its charts and decision table
with `scaler.reports.charts`, the renderer of `ebb simulate -o html`. The pages work without JavaScript
(filters are a GET form, sorting and paging are links); a small inline script, written for Ebb, polls
the live part with `If-None-Match` and swaps it in when it changed. Nothing is fetched from elsewhere.

Pure: builds strings.
"""

from __future__ import annotations

import dataclasses
import datetime
import html
import math
import urllib.parse
from collections.abc import Mapping, Sequence
from typing import Any

from scaler.reports import charts, dashboard


@dataclasses.dataclass(frozen=True)
class Header:
    """What the header and footer show: Ebb's version and the operator's leader status."""

    version: str
    leader: str  # "leading", "standby: …", "starting…", "shutting down"
    identity: str = ""


def _esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def _clock(timestamp: float | None) -> str:
    if timestamp is None:
        return "—"
    return datetime.datetime.fromtimestamp(timestamp, datetime.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _age(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    if seconds < 120:
        return f"{seconds:.0f} s ago"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min ago"
    return f"{seconds / 3600:.1f} h ago"


_STYLE = """
a{color:#0550ae}
a:focus-visible,button:focus-visible,input:focus-visible,select:focus-visible{outline:3px solid #bf8700;outline-offset:2px}
.skip{position:absolute;left:-999px}.skip:focus{left:8px;top:8px;background:#fff;padding:4px 8px;z-index:9}
header.top,footer.bottom{display:flex;gap:16px;align-items:baseline;flex-wrap:wrap;color:#59636e;font-size:13px}
header.top{border-bottom:1px solid #d1d9e0;padding-bottom:8px;margin-bottom:12px}
header.top .brand{font-weight:700;color:#1f2328;font-size:16px;text-decoration:none}
footer.bottom{border-top:1px solid #d1d9e0;padding-top:8px;margin-top:24px}
.leader{padding:1px 8px;border-radius:10px;background:#dafbe1;color:#1a7f37}
.leader.standby{background:#fff8c5;color:#7d4e00}
ul.counts{list-style:none;display:flex;flex-wrap:wrap;gap:8px;padding:0;margin:8px 0}
ul.counts li{border:1px solid #d1d9e0;border-radius:6px;padding:4px 10px}
ul.counts b{font-size:16px;margin-right:4px}
form.filters{display:flex;flex-wrap:wrap;gap:8px 16px;align-items:center;margin:8px 0;padding:8px;background:#f6f8fa;border-radius:6px}
form.filters label{white-space:nowrap}
table.fleet td.bad{color:#d1242f;font-weight:600}
table.fleet td.ok{color:#1a7f37}
nav.pager{display:flex;gap:12px;margin:8px 0}
p.why{font-size:16px;padding:10px 14px;border-left:4px solid #bf8700;background:#fff8c5;margin:8px 0 16px}
p.why.why-scaling{border-color:#1a7f37;background:#dafbe1}
p.why.why-spec-invalid,p.why.why-scaler-error,p.why.why-hpa-no-metrics{border-color:#d1242f;background:#ffebe9}
dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:2px 12px;margin:0 0 12px}
dl.facts dt{color:#59636e}dl.facts dd{margin:0}
.muted{color:#59636e}
"""

# Polls the live part (the same URL with fragment=1) and swaps it in when it changed; keeps the keyboard
# focus on the element that had it (by id) across the swap.
_SCRIPT = """
(function(){
  var live=document.getElementById('live');
  if(!live||!live.dataset.src)return;
  var every=parseInt(live.dataset.every||'2000',10), etag=live.dataset.etag||'';
  var status=document.getElementById('live-status');
  function tick(){
    fetch(live.dataset.src,{headers:{'If-None-Match':etag},credentials:'same-origin',cache:'no-store'})
      .then(function(r){
        if(r.status===200){etag=r.headers.get('ETag')||'';return r.text();}
        if(r.status!==304){throw new Error('HTTP '+r.status);}
        return null;})
      .then(function(text){
        if(text!==null){
          var focused=document.activeElement&&live.contains(document.activeElement)?document.activeElement.id:'';
          live.innerHTML=text;live.dataset.etag=etag;
          if(focused){var again=document.getElementById(focused);if(again){again.focus();}}
        }
        if(status){status.textContent='live: updated '+new Date().toISOString().slice(11,19)+' UTC';}
      })
      .catch(function(e){if(status){status.textContent='live updates paused: '+e.message;}})
      .finally(function(){setTimeout(tick,every);});
  }
  setTimeout(tick,every);
})();
"""


def _page(title: str, header: Header, body: str, live_src: str | None, etag: str, every_ms: int) -> str:
    leader_class = "leader" if header.leader.startswith("leading") else "leader standby"
    live_attrs = (f' data-src="{_esc(live_src)}" data-etag="{_esc(etag)}" data-every="{every_ms}"'
                  if live_src else "")
    identity = f' <span class="muted">({_esc(header.identity)})</span>' if header.identity else ""
    top = (
        '<a class="skip" href="#live">Skip to content</a>'
        '<header class="top"><a class="brand" href="/">Ebb dashboard</a>'
        f'<span>Ebb {_esc(header.version)}</span>'
        f'<span>operator: <span class="{leader_class}" id="leader">{_esc(header.leader)}</span>{identity}</span>'
        '<span id="live-status" role="status" aria-live="polite">'
        f'{"live updates on" if live_src else "fixed time range: no live updates"}</span></header>'
    )
    bottom = (f'<footer class="bottom"><span>Ebb {_esc(header.version)}</span>'
              f"<span>operator {_esc(header.leader)}</span><span>read-only; data from "
              '<a href="/api/v1/dashboard/fleet">the JSON API</a></span></footer>')
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">'
        f"<title>{_esc(title)}</title><style>{charts.STYLE}{_STYLE}</style></head><body>{top}"
        f'<main id="live" tabindex="-1"{live_attrs}>{body}</main>{bottom}<script>{_SCRIPT}</script></body></html>\n'
    )


# -- fleet -------------------------------------------------------------------------------------------

_COLUMNS: Sequence[tuple[str, dashboard.Sort | None]] = (
    ("ScaledObject", dashboard.Sort.NAMESPACE), ("target", None), ("mode", None),
    ("replicas (min / current / desired / max)", dashboard.Sort.REPLICAS), ("Ready", None), ("Active", None),
    ("Fallback", None), ("Paused", None), ("HPA", None), ("last decision", dashboard.Sort.REASON),
    ("age", dashboard.Sort.AGE), ("last error", None),
)


def _cond(value: str, good: str = "True") -> str:
    css = "ok" if value == good else ("bad" if value == "False" and good == "True" else "")
    return f'<td class="{css}">{_esc(value)}</td>'


def _filters(doc: Mapping[str, Any], filters: dashboard.Filters) -> str:
    options = ['<option value="">all namespaces</option>'] + [
        f'<option value="{_esc(ns)}"{" selected" if ns == filters.namespace else ""}>{_esc(ns)}</option>'
        for ns in doc["namespaces"]
    ]
    boxes = "".join(
        f'<label><input type="checkbox" id="f-{key}" name="{key}" value="1"{" checked" if on else ""}> {label}</label>'
        for key, label, on in (("errors", "errors only", filters.errors), ("atMax", "at max", filters.at_max),
                               ("paused", "paused", filters.paused), ("flapping", "flapping", filters.flapping))
    )
    sizes = "".join(f'<option value="{n}"{" selected" if n == filters.page_size else ""}>{n}</option>'
                    for n in dashboard.PAGE_SIZES)
    keep = "".join(f'<input type="hidden" name="{k}" value="{_esc(v)}">' for k, v in (
        ("sort", filters.sort.value if filters.sort is not dashboard.Sort.NAMESPACE else ""),
        ("order", "desc" if filters.descending else "")) if v)
    return (
        '<form class="filters" method="get" action="/" role="search" aria-label="Filter ScaledObjects">'
        f'<label for="f-namespace">Namespace</label><select id="f-namespace" name="namespace">{"".join(options)}</select>'
        f'<label for="f-q">Name contains</label><input id="f-q" name="q" type="search" value="{_esc(filters.search)}">'
        f'{boxes}<label for="f-size">Per page</label><select id="f-size" name="pageSize">{sizes}</select>'
        f'{keep}<button type="submit" id="f-apply">Apply filters</button> <a href="/" id="f-clear">Clear</a></form>'
    )


def fleet_fragment(doc: Mapping[str, Any], filters: dashboard.Filters) -> str:
    """The live part of the fleet page: counts, the table and the pager."""
    counts = doc["counts"]
    count_items = "".join(
        f'<li data-count="{key}"><b>{counts[key]}</b>{label}</li>'
        for key, label in (("total", "ScaledObjects"), ("ready", "ready"), ("active", "active"),
                           ("errors", "with errors"), ("atMax", "at max"), ("paused", "paused"),
                           ("fallback", "in fallback"), ("flapping", "flapping"))
    )
    heads = []
    for label, sort in _COLUMNS:
        if sort is None:
            heads.append(f'<th scope="col">{_esc(label)}</th>')
            continue
        current = filters.sort is sort
        descending = not filters.descending if current else False
        aria = f' aria-sort="{"descending" if filters.descending else "ascending"}"' if current else ""
        query = filters.query(sort=sort, descending=descending, page=1)
        heads.append(f'<th scope="col"{aria}><a href="/?{_esc(query)}" id="sort-{sort.value}">{_esc(label)}'
                     f'<span class="muted">{(" ▼" if filters.descending else " ▲") if current else ""}</span></a></th>')
    rows = []
    for item in doc["scaledObjects"]:
        c = item["conditions"]
        last = item["lastDecision"]
        replicas = " / ".join("—" if v is None else str(v) for v in (
            item["minReplicas"], item["currentReplicas"], item["desiredReplicas"], item["maxReplicas"]))
        hpa = c["HPAActive"] + (f" ({item['hpaReason']})" if item["hpaReason"] and c["HPAActive"] == "False" else "")
        reason = "—" if last is None else f'<code>{_esc(last["reason"])}</code>'
        title = "" if last is None else f' title="{_esc(last["explanation"])}"'
        rows.append(
            f'<tr data-name="{_esc(item["namespace"])}/{_esc(item["name"])}">'
            f'<th scope="row"><a href="{_esc(item["href"])}" id="so-{_esc(item["namespace"])}.{_esc(item["name"])}">'
            f'{_esc(item["namespace"])}/{_esc(item["name"])}</a></th>'
            f'<td>{_esc(item["target"])}</td><td>{_esc(item["mode"])}</td><td class="num">{_esc(replicas)}</td>'
            f'{_cond(c["Ready"])}<td class="{"ok" if c["Active"] == "True" else ""}">{_esc(c["Active"])}</td>{_cond(c["Fallback"], "False")}{_cond(c["Paused"], "False")}'
            f'<td class="{"bad" if c["HPAActive"] == "False" else ""}">{_esc(hpa)}</td>'
            f"<td{title}>{reason}</td><td>{_esc(_age(last and last['ageSeconds']))}</td>"
            f'<td class="bad">{_esc(item["lastError"] or "")}</td></tr>'
        )
    if not rows:
        empty = ("No ScaledObjects yet: apply one and it appears here." if counts["total"] == 0
                 else "No ScaledObject matches these filters.")
        rows.append(f'<tr><td colspan="{len(_COLUMNS)}" id="empty">{empty}</td></tr>')
    page, pages = doc["page"], doc["pages"]
    pager = [f'<span id="page-of">page {page} of {pages} · {doc["matched"]} matching</span>']
    if page > 1:
        pager.append(f'<a href="/?{_esc(filters.query(page=page - 1))}" id="page-prev" rel="prev">Previous page</a>')
    if page < pages:
        pager.append(f'<a href="/?{_esc(filters.query(page=page + 1))}" id="page-next" rel="next">Next page</a>')
    return (
        f'<h1>ScaledObjects</h1><ul class="counts" aria-label="Counts">{count_items}</ul>'
        f'<table class="fleet"><caption class="muted">Every ScaledObject the operator watches; select one to '
        f'see why it has the replicas it has.</caption><thead><tr>{"".join(heads)}</tr></thead>'
        f'<tbody>{"".join(rows)}</tbody></table><nav class="pager" aria-label="Pages">{"".join(pager)}</nav>'
    )


def fleet_page(doc: Mapping[str, Any], filters: dashboard.Filters, header: Header, etag: str) -> str:
    query = filters.query()
    src = "/?" + (query + "&" if query else "") + "fragment=1"
    body = fleet_fragment(doc, filters)
    # The filter form sits outside the swapped part, so typing in it is never interrupted.
    page = _page("Ebb: ScaledObjects", header, body, src, etag, 5000)
    return page.replace('<main id="live"', _filters(doc, filters) + '<main id="live"', 1)


# -- one object --------------------------------------------------------------------------------------

_RANGES = (("last 5 min", 300), ("last 15 min", 900), ("last hour", 3600))


def object_fragment(doc: Mapping[str, Any]) -> str:
    """The live part of the object page: "why not scaling?", the facts, the charts and the table."""
    item = doc["scaledObject"]
    why = doc["why"]
    c = item["conditions"]
    line = dashboard.object_timeline(doc)
    triggers = ", ".join(f"#{t['index']} {t['type']}" + (f" ({t['name']})" if t.get("name") else "")
                         for t in doc["spec"]["triggers"])
    facts = "".join(f"<dt>{_esc(k)}</dt><dd>{v}</dd>" for k, v in (
        ("target", _esc(item["target"])),
        ("mode", _esc(item["mode"])),
        ("replicas", _esc(f"min {item['minReplicas']} · current {item['currentReplicas']} · desired "
                          f"{item['desiredReplicas']} · ready {item['readyReplicas']} · max {item['maxReplicas']}")),
        ("conditions", _esc(" · ".join(f"{k} {v}" for k, v in c.items()))),
        ("triggers", _esc(triggers or "none")),
        ("shown", _esc(f"{_clock(doc['range']['from'])} → {_clock(doc['range']['to'])}, "
                       f"{len(doc['decisions'])} log entries")),
    ))
    if doc["decisions"]:
        charts_html = charts.figures(line)
        table = charts.decision_table(line, list(range(len(line.steps) - 1, -1, -1)))
    else:
        charts_html = '<p class="muted" id="no-decisions">No decisions recorded in this range.</p>'
        table = ""
    return (
        f'<p class="why why-{_esc(why["kind"])}" id="why" data-kind="{_esc(why["kind"])}">'
        f'<b>Why not scaling?</b> {_esc(why["sentence"])}</p>'
        f'<dl class="facts">{facts}</dl>{charts_html}'
        f'<h2 id="decisions-heading">Decisions, newest first</h2><p class="meta">Who (the trigger), what (the '
        "replica change) and why (the reason and its explanation, with any clamp); identical decisions in a "
        f'row are one entry with a repeat count.</p><div id="decisions">{table}</div>'
    )


def object_body(doc: Mapping[str, Any], query: str) -> str:
    """The object page's live part: its title, the time-range links and `object_fragment`."""
    ns, name = doc["namespace"], doc["name"]
    base = f"/scaledobjects/{urllib.parse.quote(ns)}/{urllib.parse.quote(name)}"
    # Ids: the live swap puts the keyboard focus back on the element of the same id (a link without one
    # lost it when the page refreshed under it).
    ranges = " · ".join(f'<a id="range-{seconds}" href="{base}?last={seconds}">{label}</a>' for label, seconds in _RANGES)
    frm, to = doc["range"]["from"], doc["range"]["to"]
    pinned = f'{base}?from={math.floor(frm)}&amp;to={math.ceil(to)}'
    nav = (f'<nav aria-label="Time range" class="meta"><a id="to-fleet" href="/">← all ScaledObjects</a> · '
           f'time range: <a id="range-all" href="{base}">everything kept</a> · {ranges} · <a href="{pinned}" id="permalink">link to this '
           f'range</a> · <a id="json" href="/api/v1/dashboard/scaledobjects/{_esc(ns)}/{_esc(name)}'
           f'{"?" + _esc(query) if query else ""}">JSON</a></nav>')
    return f"<h1>{_esc(ns)}/{_esc(name)}</h1>{nav}<div id=\"object\">{object_fragment(doc)}</div>"


def object_page(doc: Mapping[str, Any], header: Header, etag: str, *, live: bool, query: str) -> str:
    ns, name = doc["namespace"], doc["name"]
    base = f"/scaledobjects/{urllib.parse.quote(ns)}/{urllib.parse.quote(name)}"
    body = object_body(doc, query)
    src = None
    if live:
        src = base + "?" + (query + "&" if query else "") + "fragment=1"
    return _page(f"Ebb: {ns}/{name}", header, body, src, etag, 1000)


def not_found_page(header: Header, message: str) -> str:
    return _page("Ebb: not found", header, f'<h1>Not found</h1><p id="not-found">{_esc(message)}</p>'
                 '<p><a href="/">All ScaledObjects</a></p>', None, "", 0)
