// crash-guard playground: the page around the wasm `evaluate` entry point.
import init, { evaluate, rules } from "./playground.js";

const $ = (id) => document.getElementById(id);
const el = (tag, attrs = {}, ...children) => {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "class") node.className = value;
    else if (key.startsWith("data-")) node.setAttribute(key, value);
    else node[key] = value;
  }
  for (const child of children) node.append(child);
  return node;
};

let ruleList = [];
let firstVerdictShown = false;

function showStatus(text) {
  $("status").textContent = text;
}

function renderRules() {
  const list = $("rule-list");
  list.replaceChildren();
  for (const rule of ruleList) {
    const checkbox = el("input", { type: "checkbox", checked: true, "data-rule": rule.name, id: `rule-${rule.name}` });
    const settings = el("textarea", { rows: 2, spellcheck: false, value: "{}", "data-settings": rule.name });
    const problem = el("div", { class: "settings-error", "data-settings-error": rule.name });
    checkbox.addEventListener("change", scheduleEvaluate);
    settings.addEventListener("input", scheduleEvaluate);
    list.append(el("div", { class: "rule", "data-rule-panel": rule.name },
      el("label", {}, checkbox, " ", el("strong", { textContent: rule.name }),
        rule.resources.length ? ` (${rule.resources.join(", ")})` : ""),
      el("div", { class: "description", textContent: rule.description }),
      el("details", {}, el("summary", { textContent: "settings (JSON)" }), settings),
      problem));
  }
}

// Builds the evaluate input; JSON errors in a settings panel become input errors.
function collectInput() {
  const errors = [];
  const chosen = {};
  for (const rule of ruleList) {
    const enabled = document.querySelector(`input[data-rule="${rule.name}"]`).checked;
    const text = document.querySelector(`textarea[data-settings="${rule.name}"]`).value.trim() || "{}";
    const problem = document.querySelector(`[data-settings-error="${rule.name}"]`);
    problem.textContent = "";
    if (!enabled) continue;
    try {
      chosen[rule.name] = JSON.parse(text);
    } catch (error) {
      const message = `settings of ${rule.name} are not valid JSON: ${error.message}`;
      problem.textContent = message;
      errors.push(message);
    }
  }
  const groups = $("groups").value.split(",").map((g) => g.trim()).filter(Boolean);
  return {
    errors,
    input: {
      manifests: $("manifests").value,
      oldManifests: $("old-manifests").value,
      cluster: $("cluster").value,
      operation: $("operation").value,
      namespace: $("namespace").value.trim(),
      userInfo: { username: $("username").value.trim(), groups },
      rules: chosen,
    },
  };
}

function renderMessage(cell, message) {
  // "crash-guard/<rule> refused <object>: N violations. [1] field = value: problem Fix: fix [2] …"
  const parts = message.split(/ (?=\[\d+\] )/);
  cell.append(el("div", { class: "violation", textContent: parts[0] }));
  for (const part of parts.slice(1)) {
    const at = part.lastIndexOf(" Fix: ");
    const line = el("div", { class: "violation" });
    if (at >= 0) {
      line.append(part.slice(0, at) + " ", el("span", { class: "fix", textContent: part.slice(at + 1) }));
    } else {
      line.textContent = part;
    }
    cell.append(line);
  }
}

function render(output, pageErrors) {
  const errors = $("errors");
  errors.replaceChildren();
  const describe = (e) => `${e.source}${e.document ? `, document ${e.document}` : ""}: ${e.message}`;
  for (const text of [...pageErrors, ...output.errors.map(describe)]) {
    errors.append(el("li", { class: "input-error", textContent: text }));
  }
  for (const s of output.settings) {
    if (s.valid) continue;
    errors.append(el("li", { class: "input-error", textContent: s.message }));
    const problem = document.querySelector(`[data-settings-error="${s.rule}"]`);
    if (problem) problem.textContent = s.message;
  }
  const results = $("results");
  results.replaceChildren();
  for (const object of output.objects) {
    const refused = object.results.some((r) => !r.response.accepted);
    const where = object.namespace ? `${object.namespace}/${object.name}` : object.name;
    const card = el("article", { class: `object ${refused ? "refused" : "accepted"}`, "data-kind": object.kind, "data-name": object.name },
      el("h3", { textContent: `${object.operation} ${object.kind} ${where} (document ${object.document}): ${refused ? "refused" : "accepted"}` }));
    for (const note of object.notes) card.append(el("p", { class: "note", textContent: note }));
    const table = el("table");
    for (const result of object.results) {
      const r = result.response;
      const detail = el("td", { class: "detail" });
      if (r.message) renderMessage(detail, r.message);
      for (const warning of r.warnings || []) detail.append(el("div", { class: "warning", textContent: `warning: ${warning}` }));
      if (!result.applies) detail.append(el("div", { textContent: "(this policy's webhook rules do not match this resource and operation)" }));
      table.append(el("tr", { class: `verdict-row${result.applies ? "" : " not-matched"}`, "data-rule": result.rule, "data-allowed": String(r.accepted) },
        el("td", { class: "rule-name", textContent: result.rule }),
        el("td", { class: "verdict", textContent: r.accepted ? "accepted" : `refused${r.code ? ` (${r.code})` : ""}` }),
        detail));
    }
    if (!object.results.length) {
      table.append(el("tr", {}, el("td", { textContent: "no rule selected (or every selected rule has invalid settings)" })));
    } else if (!refused) {
      table.append(el("tr", { class: "summary" }, el("td", { colSpan: 3, textContent: "no rule refused this object" })));
    }
    card.append(table);
    results.append(card);
  }
  if (!firstVerdictShown && output.objects.length) {
    firstVerdictShown = true;
    const ms = performance.now();
    document.body.dataset.firstVerdictMs = ms.toFixed(0);
    $("first-verdict").textContent = `${ms.toFixed(0)} ms after navigation`;
  }
}

function run() {
  const { errors, input } = collectInput();
  let output;
  try {
    output = JSON.parse(evaluate(JSON.stringify(input)));
  } catch (error) {
    output = { errors: [{ source: "playground", message: String(error) }], settings: [], objects: [] };
  }
  render(output, errors);
  document.body.dataset.evaluations = String(Number(document.body.dataset.evaluations || 0) + 1);
}

let timer;
function scheduleEvaluate() {
  clearTimeout(timer);
  timer = setTimeout(run, 250);
}

async function loadExample(example) {
  const response = await fetch(`examples/${example.file}`);
  let text = await response.text();
  if (example.fill) {
    // Generated here so the repository does not carry a megabyte of base64.
    const value = "A".repeat((example.fill.bytes / 3) * 4);
    text = text.replace(`${example.fill.key}: ""`, `${example.fill.key}: ${value}`);
  }
  $("manifests").value = text;
  run();
}

async function main() {
  try {
    const wasmUrl = new URL("playground_bg.wasm", import.meta.url);
    await init({ module_or_path: wasmUrl });
    const size = performance.getEntriesByName(wasmUrl.href)[0]?.encodedBodySize;
    if (size) $("wasm-size").textContent = `${(size / 1024).toFixed(0)} KiB`;
    ruleList = JSON.parse(rules());
    renderRules();
    const examples = await (await fetch("examples/index.json")).json();
    for (const example of examples) {
      const button = el("button", { type: "button", textContent: example.title, "data-example": example.file,
        title: example.rule ? `refused by ${example.rule} (when that rule is selected)` : "accepted by every rule" });
      button.addEventListener("click", () => loadExample(example));
      $("examples").append(button);
    }
    for (const id of ["manifests", "old-manifests", "cluster", "namespace", "username", "groups"]) {
      $(id).addEventListener("input", scheduleEvaluate);
    }
    $("operation").addEventListener("change", run);
    $("evaluate").addEventListener("click", run);
    showStatus(`${ruleList.length} rule${ruleList.length === 1 ? "" : "s"}: ${ruleList.map((r) => r.name).join(", ")}`);
    const clean = examples.find((e) => !e.rule);
    if (clean) await loadExample(clean);
    document.body.dataset.ready = "true";
  } catch (error) {
    showStatus(`The playground could not start: ${error}`);
    $("errors").append(el("li", { class: "input-error", textContent: String(error) }));
  }
}

main();
