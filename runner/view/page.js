// kubeoracle view: draws the timeline of the data in <script id="view-data"> (runner/view/model.py).
// Rows are virtualised: only those in sight (and a margin) are in the DOM, so a page of 10k+
// steps opens as fast as one of 100. No network, no libraries.
"use strict";
(function () {
  const ROW = 22, GUTTER = 56, LANE = 104, MARGIN = 15;
  const data = JSON.parse(document.getElementById("view-data").textContent);
  // Rows and arrows come as arrays (msgspec array_like): name their fields once.
  const rows = data.rows.map(r => ({n: r[0], lane: r[1], label: r[2], detail: r[3], diff: r[4], style: r[5] || ""}));
  const arrows = data.arrows.map(a => ({start: a[0], end: a[1], source: a[2], target: a[3], label: a[4], lost: !!a[5]}))
    .sort((a, b) => a.start - b.start);
  const spans = data.spans.map(s => ({lane: s[0], start: s[1], end: s[2], label: s[3], style: s[4] || ""}));
  const marked = new Map(data.marks.map(m => [m.row, m]));
  const badLanes = new Set(data.marks.flatMap(m => m.lanes));
  const $ = id => document.getElementById(id);
  const timeline = $("timeline"), canvas = $("canvas"), layer = $("rows"), svg = $("arrows");
  const width = GUTTER + data.lanes.length * LANE + 200;
  let selected = -1, hits = new Set(), hitList = [], hitAt = -1, haystack = null;

  const esc = s => String(s).replace(/[&<>"]/g, c => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;"}[c]));
  const laneX = lane => GUTTER + lane * LANE + LANE / 2;

  const unit = data.kind === "history" ? "time" : "step";

  function setup() {
    document.title = data.title;
    $("title").textContent = data.title;
    $("summary").innerHTML = data.summary.map(line => `<div>${esc(line)}</div>`).join("");
    $("legend").innerHTML = data.legend.map(([cls, text]) => `<span class="key ${esc(cls)}">${esc(text)}</span>`).join("");
    $("banner").innerHTML = data.marks.map(m =>
      `<div class="mark" data-row="${m.row}">${esc(m.property)} at ${unit} ${rows[m.row].n}: ${esc(m.message)} <a href="#" data-row="${m.row}">show</a></div>`).join("");
    $("lanehead").innerHTML = `<span class="corner" style="width:${GUTTER}px">${unit}</span>` + data.lanes.map((name, i) =>
      `<span class="lanename${badLanes.has(i) ? " bad" : ""}" style="left:${GUTTER + i * LANE}px;width:${LANE}px" title="${esc(name)}">${esc(name)}</span>`).join("");
    $("lanehead").style.width = width + "px";
    canvas.style.height = rows.length * ROW + "px";
    canvas.style.width = width + "px";
    canvas.style.backgroundImage = "linear-gradient(to right, #d8d8d8 1px, transparent 1px)";
    canvas.style.backgroundSize = `${LANE}px 100%`;
    canvas.style.backgroundPosition = `${GUTTER + LANE / 2}px 0`;
    canvas.style.backgroundRepeat = "repeat";
    timeline.addEventListener("scroll", () => requestAnimationFrame(draw));
    window.addEventListener("resize", () => requestAnimationFrame(draw));
    layer.addEventListener("click", event => {
      const row = event.target.closest(".row");
      if (row) select(Number(row.dataset.i), false);
    });
    $("banner").addEventListener("click", event => {
      const link = event.target.closest("[data-row]");
      if (link) { event.preventDefault(); select(Number(link.dataset.row), true); }
    });
    $("hits").addEventListener("click", event => {
      const link = event.target.closest("[data-i]");
      if (link) { event.preventDefault(); select(Number(link.dataset.i), true); }
    });
    $("search").addEventListener("input", () => search($("search").value));
    $("search").addEventListener("keydown", event => {
      if (event.key === "Enter") { event.preventDefault(); jump(event.shiftKey ? -1 : 1); }
    });
    $("next").addEventListener("click", () => jump(1));
    $("prev").addEventListener("click", () => jump(-1));
    document.addEventListener("keydown", event => {
      if (event.target === $("search")) return;
      if (event.key === "ArrowDown" || event.key === "j") { event.preventDefault(); select(Math.min(selected + 1, rows.length - 1), true); }
      if (event.key === "ArrowUp" || event.key === "k") { event.preventDefault(); select(Math.max(selected - 1, 0), true); }
    });
    draw();
    const first = data.marks.length ? data.marks[0].row : -1;
    if (first >= 0) select(first, true);
  }

  function draw() {
    const top = timeline.scrollTop;
    const first = Math.max(0, Math.floor(top / ROW) - MARGIN);
    const last = Math.min(rows.length - 1, Math.ceil((top + timeline.clientHeight) / ROW) + MARGIN);
    const html = [];
    for (let i = first; i <= last; i++) {
      const r = rows[i];
      const x = laneX(r.lane);
      const cls = ["row", r.style, i === selected ? "sel" : "", hits.has(i) ? "hit" : ""].join(" ");
      html.push(`<div class="${cls}" data-i="${i}" data-n="${r.n}" style="top:${i * ROW}px">` +
        `<span class="n">${r.n}</span><span class="dot" style="left:${x - 5}px"></span>` +
        `<span class="label" style="left:${x + 9}px">${esc(r.label)}</span></div>`);
    }
    for (const s of spans) {
      if (s.end < first || s.start > last) continue;
      html.push(`<div class="span ${esc(s.style)}" data-i="${s.start}" title="${esc(s.label)}" style="left:${laneX(s.lane) - 6}px;` +
        `top:${s.start * ROW + 3}px;height:${(s.end - s.start + 1) * ROW - 6}px"></div>`);
    }
    layer.innerHTML = html.join("");
    drawArrows(first, last);
  }

  function drawArrows(first, last) {
    const y0 = first * ROW, height = (last - first + 1) * ROW;
    svg.setAttribute("width", width);
    svg.setAttribute("height", height);
    svg.style.top = y0 + "px";
    const parts = ['<defs><marker id="head" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0L10,5L0,10z" fill="#3060c0"/></marker></defs>'];
    for (const a of arrows) {
      if (a.start > last) break;
      if (a.end < first) continue;
      const x1 = laneX(a.source), y1 = a.start * ROW + ROW / 2 - y0;
      const x2 = laneX(a.target), y2 = a.end * ROW + ROW / 2 - y0;
      const bend = x1 === x2 ? ` Q${x1 + 40},${(y1 + y2) / 2} ` : " L";
      const cls = a.lost ? "arrow lost" : "arrow";
      const hot = a.start === selected || a.end === selected ? " hot" : "";
      parts.push(`<path class="${cls}${hot}" d="M${x1},${y1}${bend}${x2},${y2}" ${a.lost ? "" : 'marker-end="url(#head)"'}><title>${esc(a.label)}</title></path>`);
      if (a.lost) parts.push(`<text class="lost" x="${x2 - 4}" y="${y2 + 4}">✕</text>`);
    }
    svg.innerHTML = parts.join("");
  }

  function select(i, scroll) {
    if (i < 0 || i >= rows.length) return;
    selected = i;
    const r = rows[i];
    if (scroll) {
      const y = i * ROW;
      if (y < timeline.scrollTop || y > timeline.scrollTop + timeline.clientHeight - 2 * ROW) {
        timeline.scrollTop = Math.max(0, y - timeline.clientHeight / 3);
      }
    }
    const mark = marked.get(i);
    const sent = arrows.filter(a => a.start === i).map(a => `${a.label} to ${data.lanes[a.target]}`);
    const took = arrows.filter(a => a.end === i && !(a.start === i && a.source === r.lane)).map(a => `${a.label} from ${data.lanes[a.source]}${a.lost ? " (lost)" : ""}`);
    const diff = r.diff.length
      ? `<table class="diff"><thead><tr><th>path</th><th>before</th><th>after</th></tr></thead><tbody>` +
        r.diff.map(([path, before, after]) => `<tr><td class="path">${esc(path)}</td><td class="old">${esc(before)}</td><td class="new">${esc(after)}</td></tr>`).join("") +
        "</tbody></table>"
      : (data.kind === "trace" ? `<p class="none">no state change</p>` : "");
    $("detail").innerHTML =
      `<h2>${unit} ${r.n} <small>${esc(data.lanes[r.lane])}</small></h2>` +
      (mark ? `<div class="violation-box">${esc(mark.property)}: ${esc(mark.message)}</div>` : "") +
      `<pre class="action">${esc(r.detail)}</pre>` +
      (took.length ? `<div class="msgs">received: ${took.map(esc).join("; ")}</div>` : "") +
      (sent.length ? `<div class="msgs">sent: ${sent.map(esc).join("; ")}</div>` : "") +
      diff;
    draw();
  }

  function search(query) {
    const q = query.trim().toLowerCase();
    hits = new Set(); hitList = []; hitAt = -1;
    if (q) {
      if (haystack === null) {
        haystack = rows.map(r => (data.lanes[r.lane] + "\n" + r.label + "\n" + r.detail + "\n" +
          r.diff.map(d => d.join("\n")).join("\n")).toLowerCase());
      }
      for (let i = 0; i < rows.length; i++) if (haystack[i].includes(q)) { hits.add(i); hitList.push(i); }
    }
    $("count").textContent = q ? `${hitList.length} step${hitList.length === 1 ? "" : "s"} match` : "";
    $("hits").innerHTML = hitList.slice(0, 200).map(i =>
      `<a href="#" class="hit-link" data-i="${i}">${rows[i].n}: ${esc(rows[i].label)}</a>`).join("") +
      (hitList.length > 200 ? `<div>… ${hitList.length - 200} more (use next)</div>` : "");
    draw();
  }

  function jump(direction) {
    if (!hitList.length) return;
    hitAt = (hitAt + direction + hitList.length) % hitList.length;
    select(hitList[hitAt], true);
  }

  setup();
  requestAnimationFrame(() => { window.__viewReady = performance.now(); document.body.dataset.ready = "1"; });
})();
