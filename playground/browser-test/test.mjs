// Real-browser test of the built playground (dist/playground): headless
// Chromium driven by playwright-core, the page served from 127.0.0.1.
// Usage: node test.mjs [DIST_DIR]   (default ../../dist/playground)
import { createServer } from "node:http";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { extname, join, normalize, resolve } from "node:path";
import { chromium } from "playwright-core";

const dist = resolve(process.argv[2] || new URL("../../dist/playground", import.meta.url).pathname);
const types = { ".html": "text/html", ".js": "text/javascript", ".mjs": "text/javascript", ".css": "text/css",
  ".wasm": "application/wasm", ".json": "application/json", ".yaml": "text/yaml" };
const served = {};
const server = createServer((req, res) => {
  const path = decodeURIComponent(new URL(req.url, "http://x").pathname);
  const file = normalize(join(dist, path === "/" ? "index.html" : path));
  if (!file.startsWith(dist)) { res.writeHead(403).end(); return; }
  try {
    const body = readFileSync(file);
    served[path] = body.length;
    res.writeHead(200, { "content-type": types[extname(file)] || "application/octet-stream" }).end(body);
  } catch {
    res.writeHead(404).end("not found");
  }
});
await new Promise((ok) => server.listen(0, "127.0.0.1", ok));
const url = `http://127.0.0.1:${server.address().port}/`;

let passed = 0;
let failed = 0;
function check(ok, what, detail = "") {
  if (ok) { passed++; console.log(`PASS ${what}`); }
  else { failed++; console.log(`FAIL ${what}${detail ? `: ${detail}` : ""}`); }
}

const userDataDir = mkdtempSync(join(tmpdir(), "crash-guard-chromium-"));
const context = await chromium.launchPersistentContext(userDataDir, {
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
try {
  const page = context.pages()[0] || await context.newPage();
  const pageErrors = [];
  page.on("pageerror", (e) => pageErrors.push(String(e)));
  page.on("console", (m) => { if (m.type() === "error") pageErrors.push(m.text()); });

  const started = Date.now();
  await page.goto(url);
  await page.waitForSelector("body[data-ready=true]", { timeout: 30000 });
  const firstVerdictMs = Number(await page.getAttribute("body", "data-first-verdict-ms"));
  const wallMs = Date.now() - started;
  const rules = await page.$$eval("#rule-list input[data-rule]", (inputs) => inputs.map((i) => i.dataset.rule));
  check(rules.length > 0 && rules.includes("object-size"), "the rule panel lists every registry rule", rules.join(","));

  const evaluations = async () => Number(await page.getAttribute("body", "data-evaluations") || 0);
  async function clickExample(file) {
    const before = await evaluations();
    await page.click(`button[data-example="${file}"]`);
    await page.waitForFunction((n) => Number(document.body.dataset.evaluations || 0) > n, before, { timeout: 30000 });
  }
  const rows = () => page.$$eval("tr.verdict-row", (trs) => trs.map((tr) => ({
    rule: tr.dataset.rule, allowed: tr.dataset.allowed === "true", text: tr.textContent,
    object: tr.closest("article").querySelector("h3").textContent })));
  const errorsShown = () => page.$$eval("#errors li", (lis) => lis.map((li) => li.textContent));

  // The clean application: three objects, every rule accepts, no input errors.
  await clickExample("9-clean-application.yaml");
  let shown = await rows();
  const objects = await page.$$eval("#results article.object", (as) => as.map((a) => a.dataset.kind));
  check(JSON.stringify(objects) === JSON.stringify(["Deployment", "Service", "ConfigMap"]),
    "clean example: the page shows the Deployment, the Service and the ConfigMap", objects.join(","));
  check(shown.length === objects.length * rules.length, "clean example: one verdict row per object and rule", String(shown.length));
  check(shown.length > 0 && shown.every((r) => r.allowed), "clean example: every rule accepts every object",
    JSON.stringify(shown.filter((r) => !r.allowed)));
  check((await page.textContent("#results")).includes("no rule refused this object"), "clean example: says no rule refused");
  check((await errorsShown()).length === 0, "clean example: no input errors", (await errorsShown()).join(" | "));

  // The fork bomb: refused by daemonset-guard, with the fix shown.
  await clickExample("3-fork-bomb-daemonset.yaml");
  shown = await rows();
  check(shown.length === rules.length && shown.every((r) => r.object.includes("DaemonSet default/node-debugger")),
    "fork bomb: the page shows the DaemonSet with a verdict row per rule", JSON.stringify(shown.map((r) => r.object)));
  const guard = shown.find((r) => r.rule === "daemonset-guard");
  check(guard && !guard.allowed && guard.text.includes("fork bomb") && guard.text.includes("Fix:"),
    "fork bomb: refused by daemonset-guard with a fix", guard?.text);

  // The talk's 900 KiB Secret: refused by object-size, message and fix shown.
  await clickExample("2-900kib-secret.yaml");
  shown = await rows();
  const size = shown.find((r) => r.rule === "object-size");
  check(size && !size.allowed && size.text.includes("Secret payments/app-bundle") && size.text.includes("921613 bytes")
    && size.text.includes("Fix:"), "900 KiB Secret: refused by object-size, naming the Secret, its size and the fix", size?.text.slice(0, 300));

  if (process.env.SCREENSHOT) await page.screenshot({ path: process.env.SCREENSHOT, fullPage: true });

  // Every other talk example: report which rules refuse it.
  const examples = await page.$$eval("#examples button", (bs) => bs.map((b) => b.dataset.example));
  for (const file of examples) {
    await clickExample(file);
    const refusedBy = (await rows()).filter((r) => !r.allowed).map((r) => r.rule);
    console.log(`  example ${file}: ${refusedBy.length ? `refused by ${refusedBy.join(", ")}` : "no rule refused"}`);
  }

  // Input errors are shown in the page, never a blank screen.
  const before = await evaluations();
  await page.fill("#manifests", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x\n---\n");
  await page.click("#evaluate");
  await page.waitForFunction((n) => Number(document.body.dataset.evaluations || 0) > n, before);
  const yamlErrors = await errorsShown();
  check(yamlErrors.some((e) => e.includes("not valid YAML")), "bad YAML: the error is shown in the page", yamlErrors.join(" | "));
  await page.fill("#manifests", "apiVersion: v1\nmetadata: {name: x}\n");
  await page.click("#evaluate");
  await page.waitForFunction(() => [...document.querySelectorAll("#errors li")].some((li) => li.textContent.includes("no `kind`")));
  check(true, "missing kind: the error is shown in the page");
  await page.click(`[data-rule-panel="object-size"] summary`);
  await page.fill(`textarea[data-settings="object-size"]`, "{not json");
  await page.click("#evaluate");
  await page.waitForFunction(() => [...document.querySelectorAll("#errors li")].some((li) => li.textContent.includes("not valid JSON")));
  check(true, "bad settings JSON: the error is shown in the page");
  check(pageErrors.length === 0, "no script errors in the page", pageErrors.join(" | "));

  const wasm = Object.entries(served).filter(([p]) => p.endsWith(".wasm")).reduce((s, [, n]) => s + n, 0);
  const js = Object.entries(served).filter(([p]) => p.endsWith(".js")).reduce((s, [, n]) => s + n, 0);
  console.log(`page weight: wasm ${wasm} bytes (${(wasm / 1024).toFixed(0)} KiB), JS ${js} bytes (${(js / 1024).toFixed(1)} KiB)`);
  console.log(`load to first verdict: ${firstVerdictMs} ms after navigation start (page's performance.now()), ${wallMs} ms wall clock from goto`);
} catch (error) {
  check(false, "browser test ran to the end", String(error));
} finally {
  await context.close();
  server.close();
  rmSync(userDataDir, { recursive: true, force: true });
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 && passed > 0 ? 0 : 1);
