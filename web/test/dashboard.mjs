// The dashboard in Debian's Chromium, driven like a person would: signs in
// from a link, creates a git app through the form, follows it to running,
// reads the webhook, rotates it, follows a build's log and cancels it, and
// looks as another owner. Prints one JSON line of what it saw for the Rust
// test around it (tests/tests/dashboard.rs), which checks it against the API.
//
// Needs DASH_URL, DASH_TOKEN, DASH_OTHER_TOKEN, DASH_REPO, DASH_SLOW_REPO,
// DASH_ZIP1 and DASH_ZIP2 (two versions of a site), DASH_NOT_ARCHIVE (a
// file of another kind), DASH_OUT (screenshots), CHROMIUM (default
// /usr/bin/chromium).

import { chromium } from "playwright-core";
import { mkdirSync } from "node:fs";

const base = process.env.DASH_URL;
const out = process.env.DASH_OUT;
mkdirSync(out, { recursive: true });
const origin = new URL(base).origin;
const seen = { consoleErrors: [], foreignRequests: [], uploadPuts: 0 };

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  args: ["--no-sandbox"],
});

function fail(message) {
  console.error(`dashboard test: ${message}`);
  process.exitCode = 1;
  throw new Error(message);
}

async function open(width) {
  const page = await browser.newPage({ viewport: { width, height: 900 } });
  page.setDefaultTimeout(20_000);
  // A refusal the page shows (400, 404, 409) is also logged by Chromium as
  // a failed load; anything else is an error of the page's own.
  page.on("console", (m) => {
    if (m.type() === "error" && !m.text().startsWith("Failed to load resource")) seen.consoleErrors.push(m.text());
  });
  page.on("pageerror", (e) => seen.consoleErrors.push(String(e)));
  page.on("request", (r) => {
    if (new URL(r.url()).origin === origin) return;
    // The one request allowed elsewhere: an archive PUT to its presigned URL.
    if (r.method() === "PUT" && new URL(r.url()).pathname.includes("/sources/")) seen.uploadPuts += 1;
    else if (r.method() !== "OPTIONS") seen.foreignRequests.push(r.url());
  });
  page.on("dialog", (d) => d.accept(d.type() === "prompt" ? page.__promptAnswer ?? "" : undefined));
  return page;
}

async function shoot(page, name) {
  for (const width of [1280, 390]) {
    await page.setViewportSize({ width, height: 900 });
    await page.screenshot({ path: `${out}/${name}-${width}.png`, fullPage: true });
  }
  await page.setViewportSize({ width: 1280, height: 900 });
}

async function status(page) {
  return page.locator("h1 [data-status]").first().getAttribute("data-status");
}

async function waitStatus(page, want, seconds) {
  const deadline = Date.now() + seconds * 1000;
  let now;
  while (Date.now() < deadline) {
    now = await status(page);
    if (want.includes(now)) return now;
    await page.waitForTimeout(250);
  }
  fail(`the page shows ${now}, not ${want.join(" or ")}`);
}

async function fill(page, fields) {
  for (const [id, value] of Object.entries(fields)) {
    await page.fill(`#${id}`, value);
  }
}

try {
  const page = await open(1280);

  // Signed out: the sign-in page.
  await page.goto(base);
  await page.getByLabel("API token").waitFor();
  await shoot(page, "signin");

  // A sign-in link: the token moves to storage and out of the address bar.
  await page.goto(`${base}/#token=${encodeURIComponent(process.env.DASH_TOKEN)}`);
  await page.getByRole("heading", { name: "Applications" }).waitFor();
  if (page.url().includes("token")) fail(`the token stayed in the address: ${page.url()}`);
  await shoot(page, "apps-empty");

  // A bad port: the API's message next to the field, nothing created.
  await page.click("text=Create application");
  await fill(page, { name: "shop", repo: process.env.DASH_REPO, port: "0" });
  await page.click("button[type=submit]");
  await page.locator("#port-error").filter({ hasText: "port" }).waitFor();
  seen.portError = await page.locator("#port-error").textContent();
  if ((await page.getAttribute("#port", "aria-invalid")) !== "true") fail("the port field is not marked invalid");
  await shoot(page, "new-app-error");

  // The real thing: building, then running, with the webhook shown.
  await fill(page, { port: "8080" });
  await page.click("button[type=submit]");
  await page.waitForURL(/#\/apps\//);
  seen.appId = page.url().split("#/apps/")[1];
  seen.statuses = [await waitStatus(page, ["queued", "building", "deploying", "running"], 30)];
  seen.statuses.push(await waitStatus(page, ["running"], 120));
  seen.liveUrl = await page.locator("[data-live-url]").getAttribute("href");
  seen.hook = {};
  for (const key of ["url", "secret", "contentType", "events"]) {
    seen.hook[key] = await page.locator(`[data-hook=${key}]`).textContent();
  }
  seen.redeployButtons = await page.getByRole("button", { name: "Redeploy" }).count();
  await shoot(page, "app");

  // Settings: a bad value is named at its field; a good one is saved, and
  // a redeploy runs with it.
  await page.click("summary >> text=Settings");
  await page.fill("#set-memory", "1");
  await page.click("text=Save settings");
  await page.locator("#set-memory-error").filter({ hasText: "memory" }).waitFor();
  await page.fill("#set-memory", "256");
  await page.fill("#set-env", "GREETING=from the settings");
  await page.fill("#set-secrets", "API_KEY=s3t-From-The-Page");
  await page.click("text=Save settings");
  await page.locator("[data-settings-message]").filter({ hasText: "Saved" }).waitFor();
  seen.secretShown = await page.evaluate((v) =>
    document.body.innerText.includes(v) ||
    [...document.querySelectorAll("input, textarea")].some((e) => e.value.includes(v)), "s3t-From-The-Page");
  await page.getByRole("button", { name: "Redeploy" }).click();
  await page.locator("tbody tr").nth(1).waitFor();
  seen.afterSettings = await waitStatus(page, ["running"], 60);
  await shoot(page, "settings");

  // Rotate: the secret on the page changes.
  await page.click("text=Rotate secret");
  await page.waitForFunction(
    (old) => document.querySelector("[data-hook=secret]")?.textContent !== old,
    seen.hook.secret,
  );
  seen.rotatedSecret = await page.locator("[data-hook=secret]").textContent();

  // The list shows it running, with its link.
  await page.click("header >> text=Apps");
  await page.locator(`a[href="#/apps/${seen.appId}"]`).waitFor();
  seen.listStatus = await page.locator("tbody [data-status]").first().getAttribute("data-status");
  seen.listLink = await page.locator(`tbody a[href^="http"]`).first().getAttribute("href");
  await shoot(page, "apps");

  // The name is taken: said at the name field, nothing changed.
  await page.click("text=Create application");
  await fill(page, { name: "shop", repo: process.env.DASH_REPO, port: "8080" });
  await page.click("button[type=submit]");
  await page.locator("#name-error").filter({ hasText: "already have an app named shop" }).waitFor();

  // A slow build: its log grows on the page without a reload; Cancel ends it.
  await fill(page, { name: "slow", repo: process.env.DASH_SLOW_REPO, port: "8080" });
  await page.click("button[type=submit]");
  await page.waitForURL(/#\/apps\//);
  seen.slowAppId = page.url().split("#/apps/")[1];
  await page.locator("tbody a[href^='#/deployments/']").first().click();
  await page.waitForURL(/#\/deployments\//);
  await page.locator("[data-log]").filter({ hasText: "tick 2" }).waitFor({ timeout: 90_000 });
  const before = (await page.locator("[data-log]").textContent()).length;
  await page.locator("[data-log]").filter({ hasText: "tick 4" }).waitFor({ timeout: 30_000 });
  const after = (await page.locator("[data-log]").textContent()).length;
  seen.logGrew = after > before;
  await shoot(page, "deployment");
  await page.getByRole("button", { name: "Cancel" }).click();
  seen.cancelled = await waitStatus(page, ["cancelled"], 60);

  // An upload app: the archive is checked before anything is sent, goes
  // straight to storage with a progress bar, and the first deploy starts.
  await page.click("header >> text=New");
  await page.getByLabel("Upload source code").check();
  await fill(page, { name: "upapp", port: "8080" });
  await page.setInputFiles("#archive", process.env.DASH_NOT_ARCHIVE);
  await page.click("button[type=submit]");
  await page.locator("#archive-error").filter({ hasText: "not a .zip or a .tar.gz" }).waitFor();
  await page.setInputFiles("#archive", process.env.DASH_ZIP1);
  await fill(page, { name: "shop" });
  await page.click("button[type=submit]");
  await page.locator("#name-error").filter({ hasText: "already have an app named shop" }).waitFor();
  seen.uploadNameTaken = await page.locator("#name-error").textContent();
  await fill(page, { name: "upapp" });
  await page.click("button[type=submit]");
  await page.waitForURL(/#\/apps\//);
  seen.uploadAppId = page.url().split("#/apps/")[1];
  seen.uploadStatus = await waitStatus(page, ["running"], 120);
  seen.uploadRedeployButtons = await page.getByRole("button", { name: "Redeploy" }).count();
  await shoot(page, "upload-app");

  // Deploy with a new archive, then with none (the stored one again).
  const rows = () => page.locator("tbody tr").count();
  for (const [file, count] of [[process.env.DASH_ZIP2, 2], [null, 3]]) {
    await page.getByRole("button", { name: "Deploy", exact: true }).click();
    await page.getByRole("dialog").waitFor();
    if (file) await page.setInputFiles("#new-archive", file);
    if (count === 2) await shoot(page, "deploy-modal");
    await page.getByRole("dialog").getByRole("button", { name: "Deploy" }).click();
    await page.getByRole("dialog").getByRole("status").waitFor();
    if (file) await page.locator("[data-progress]").filter({ hasText: "100 %" }).waitFor();
    await page.getByRole("dialog").getByRole("button", { name: "Close" }).click();
    await page.getByRole("dialog").waitFor({ state: "detached" });
    const deadline = Date.now() + 120_000;
    while ((await rows()) < count || (await page.locator("tbody tr").first().getAttribute("data-status")) !== "running") {
      if (Date.now() > deadline) fail(`deploy ${count} did not reach running`);
      await page.waitForTimeout(300);
    }
  }
  seen.uploadDeployments = await rows();

  // Another owner: an empty list, and a 404 for the first owner's app.
  const other = await open(1280);
  await other.goto(`${base}/#token=${encodeURIComponent(process.env.DASH_OTHER_TOKEN)}`);
  await other.getByRole("heading", { name: "Applications" }).waitFor();
  await other.getByText("No apps yet").waitFor();
  seen.otherRows = await other.locator("tbody tr").count();
  await other.goto(`${base}/#/apps/${seen.appId}`);
  await other.getByText("Not found").waitFor();
  await shoot(other, "not-found");
} catch (e) {
  if (!process.exitCode) console.error(e);
  process.exitCode = 1;
} finally {
  await browser.close();
  console.log(JSON.stringify(seen));
}
