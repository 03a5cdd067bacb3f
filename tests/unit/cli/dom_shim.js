// A minimal DOM, enough for the fleet page's script to run under Node: elements with attributes,
// children, textContent, hidden, events; lookups by id, tag, "#id tag" and "input". It fails loudly
// on anything else, so the page's script cannot use more than this without the test noticing.
"use strict";
const fs = require("fs");

class Element {
  constructor(tag) { this.tagName = tag.toUpperCase(); this.attributes = {}; this.children = []; this.listeners = {};
                     this._text = ""; this.hidden = false; this.value = ""; this.checked = false; this.parent = null; }
  setAttribute(name, value) {
    this.attributes[name] = String(value);
    if (name === "value") { this.value = String(value); }
    if (name === "checked") { this.checked = true; }
    if (name === "hidden") { this.hidden = true; }
  }
  getAttribute(name) { return name in this.attributes ? this.attributes[name] : null; }
  appendChild(child) { child.parent = this; this.children.push(child); return child; }
  get firstChild() { return this.children[0] || null; }
  set textContent(value) { this.children = []; this._text = String(value); }
  get textContent() { return this._text + this.children.map((c) => c.textContent).join(""); }
  addEventListener(type, fn) { (this.listeners[type] = this.listeners[type] || []).push(fn); }
  dispatch(type) { let node = this; const event = { type, preventDefault() {} };
                   while (node) { (node.listeners[type] || []).forEach((fn) => fn(event)); node = node.parent; } }
  click() { this.dispatch("click"); }
  all() { return this.children.flatMap((c) => [c].concat(c.all ? c.all() : [])); }
  querySelectorAll(selector) {
    if (!/^[a-z]+$/.test(selector)) { throw new Error("selector not supported: " + selector); }
    return this.all().filter((e) => e.tagName === selector.toUpperCase());
  }
  querySelector(selector) { return this.querySelectorAll(selector)[0] || null; }
}
class Text { constructor(text) { this.text = text; } get textContent() { return this.text; } }

function parse(html) {
  // The page's static skeleton: every element with an id, and tbody / thead tr inside tables.
  const byId = {};
  for (const match of html.matchAll(/<([a-z]+)[^>]*\sid="([^"]+)"/g)) { byId[match[2]] = new Element(match[1]); }
  for (const table of ["nodes", "matrix"]) {
    const tr = new Element("tr");
    byId[table].appendChild(new Element("thead")).appendChild(tr);
    byId[table].appendChild(new Element("tbody"));
    tr.appendChild(new Element("th"));
  }
  return byId;
}

const html = fs.readFileSync(process.argv[2], "utf8");
const byId = parse(html);
const data = html.match(/<script type="application\/json" id="nodeguard-data">([\s\S]*?)<\/script>/)[1];
byId["nodeguard-data"]._text = data;
const script = html.match(/<script>([\s\S]*?)<\/script>/)[1];
global.document = {
  getElementById: (id) => { if (!byId[id]) { throw new Error("no element #" + id); } return byId[id]; },
  querySelector: (selector) => {
    const match = selector.match(/^#([a-z-]+) (.+)$/);
    if (!match) { throw new Error("selector not supported: " + selector); }
    const parts = match[2].split(" ");
    let node = byId[match[1]];
    for (const part of parts) { node = node.querySelector(part); }
    return node;
  },
  createElement: (tag) => new Element(tag),
  createTextNode: (text) => new Text(text),
};
const errors = [];
global.console.error = (...args) => errors.push(args.join(" "));
new Function(script)();

// Open the first control, then filter: only drift, then a search that matches nothing.
const rows = byId.matrix.querySelector("tbody").children;
const button = rows[0].querySelector("button");
button.click();
const steps = { shown: byId.shown.textContent, expanded: button.getAttribute("aria-expanded"),
                detail: rows[1].hidden ? "" : rows[1].textContent, cells: rows[0].textContent };
byId["filter-status"].querySelectorAll("input").forEach((box) => { box.checked = box.value === "drift"; });
byId.filters.dispatch("change");
steps.driftOnly = byId.shown.textContent;
byId["filter-search"].value = "no-such-control";
byId.filters.dispatch("input");
steps.searchNone = byId.shown.textContent;
byId["filter-search"].value = "";
byId["filter-status"].querySelectorAll("input").forEach((box) => { box.checked = true; });
byId["filter-section"].value = data.includes("CIS Kubernetes Benchmark v1.12 \u00a7 4.2") ? "CIS Kubernetes Benchmark v1.12 \u00a7 4.2" : "";
byId.filters.dispatch("change");
steps.section = byId.shown.textContent;
steps.errors = errors;
process.stdout.write(JSON.stringify(steps));
