// Opens the gateway's /docs page in Debian's headless Chromium, as a reader would, and reports as
// JSON what it rendered and what its "try it" forms answered.
//   node docs-page.mjs BASE_URL ADMIN_USERNAME ADMIN_PASSWORD MODEL
// Steps: load the page and wait for the operations it renders from /openapi/v1.json; log in
// through the login operation's form and take the token it offers; run an inference through the
// infer form; create an API key through its form and read server metadata sending it as X-API-Key.
import { chromium } from 'playwright-core';

const [base, username, password, model] = process.argv.slice(2);
const report = { operations: [], source: '', tries: {}, errors: [] };
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  headless: true,
  // Playwright gives each launch a fresh temporary profile (its own --user-data-dir).
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
});
try {
  const page = await browser.newPage();
  page.on('pageerror', (error) => report.errors.push(`page error: ${error.message}`));
  // Chromium logs every 4xx answer as "Failed to load resource"; the tries expect some (401 first).
  // Any other console error (a script error, a refused Content-Security-Policy) is reported.
  page.on('console', (message) => {
    if (message.type() === 'error' && !message.text().startsWith('Failed to load resource')) report.errors.push(`console: ${message.text()}`);
  });
  const response = await page.goto(`${base}/docs`);
  report.status = response.status();
  report.csp = response.headers()['content-security-policy'] ?? null;
  report.source = await response.text();
  await page.waitForSelector('body[data-operations]', { timeout: 30000 });
  report.operations = await page.$$eval('details.operation', (nodes) =>
    nodes.map((n) => ({ id: n.dataset.operationId, method: n.dataset.method, path: n.dataset.path, role: n.querySelector('.role').textContent })));
  report.statusLine = await page.textContent('#status');

  // Sends the form of one operation and returns the answer the page shows.
  async function tryOperation(id, fill) {
    const operation = page.locator(`details[data-operation-id="${id}"]`);
    if (!(await operation.evaluate((node) => node.open))) await operation.locator('summary').click();
    // A second try of the same operation must not read the first one's answer.
    await operation.evaluate((node) => node.querySelector('.result').replaceChildren());
    await fill(operation);
    await operation.locator('button[data-send]').click();
    const status = operation.locator('[data-response-status]');
    await status.waitFor({ timeout: 30000 });
    return {
      status: Number(await status.getAttribute('data-response-status')),
      headers: await operation.locator('pre.response-headers').textContent(),
      body: (await operation.locator('pre.response-body').count()) ? await operation.locator('pre.response-body').first().textContent() : '',
    };
  }

  report.tries.unauthenticated = await tryOperation('serverMetadata', async () => {});
  report.tries.login = await tryOperation('login', async (operation) => {
    await operation.locator('textarea[data-body]').fill(JSON.stringify({ username, password }));
  });
  await page.locator('details[data-operation-id="login"] button[data-use-token]').click();
  report.credentialState = await page.textContent('#credential-state');
  report.tries.infer = await tryOperation('modelInfer', async (operation) => {
    await operation.locator('[data-parameter="path:model"]').fill(model);
    await operation.locator('textarea[data-body]').fill(JSON.stringify({
      inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [1, 16], data: Array.from({ length: 16 }, (_, i) => i + 0.5) }],
    }));
  });
  report.tries.createKey = await tryOperation('createKey', async (operation) => {
    await operation.locator('textarea[data-body]').fill(JSON.stringify({ name: 'docs-page-key', role: 'viewer' }));
  });
  const key = JSON.parse(report.tries.createKey.body).key;
  await page.selectOption('#credential-kind', 'apikey');
  await page.fill('#credential', key);
  report.tries.metadataWithKey = await tryOperation('serverMetadata', async () => {});
} finally {
  await browser.close();
}
console.log(JSON.stringify(report));
