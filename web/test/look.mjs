// One page of the dashboard as a person sees it in Debian's Chromium:
// signs in from a link, opens LOOK_PATH (a route such as
// "#/deployments/<id>"), waits for LOOK_TEXT, saves a screenshot to
// LOOK_SHOT and prints one JSON line: the page's text and its console errors.
//
// Needs LOOK_URL, LOOK_TOKEN, LOOK_PATH, LOOK_TEXT, LOOK_SHOT; CHROMIUM
// (default /usr/bin/chromium).

import { chromium } from "playwright-core";

const base = process.env.LOOK_URL;
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  args: ["--no-sandbox"],
});
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  page.setDefaultTimeout(20_000);
  const consoleErrors = [];
  // A missing resource Chromium logs on its own (the favicon); anything
  // else is an error of the page's own.
  page.on("console", (m) => {
    if (m.type() === "error" && !m.text().startsWith("Failed to load resource")) consoleErrors.push(m.text());
  });
  page.on("response", (r) => {
    if (r.status() >= 400 && !r.url().endsWith("/favicon.ico")) consoleErrors.push(`${r.status()} ${r.url()}`);
  });
  page.on("pageerror", (e) => consoleErrors.push(String(e)));
  await page.goto(`${base}/#token=${encodeURIComponent(process.env.LOOK_TOKEN)}`);
  await page.getByRole("heading", { name: "Applications" }).waitFor();
  await page.goto(`${base}/${process.env.LOOK_PATH}`);
  await page.locator("main").filter({ hasText: process.env.LOOK_TEXT }).waitFor();
  await page.screenshot({ path: process.env.LOOK_SHOT, fullPage: true });
  const text = await page.locator("main").innerText();
  console.log(JSON.stringify({ text, consoleErrors }));
} finally {
  await browser.close();
}
