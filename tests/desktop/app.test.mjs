// The real desktop app, driven over WebDriver: tauri-driver starts LexDesk (the debug build,
// real models, real LanceDB store) and WebKitWebDriver drives its webview under Xvfb.
//
// Environment (tests/desktop/run.sh sets it): LEXDESK_DESKTOP_BIN (the app), LEXDESK_HOME (an
// empty data directory), LEXDESK_DEMO_DIR (the demo documents), LEXDESK_E2E_FIXTURES (a folder
// the fixtures are written to), LEXDESK_ARTIFACTS (where screenshots go).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import net from 'node:net';
import { Builder, By, Capabilities, Key } from 'selenium-webdriver';
import { writeFixtures } from './fixtures.mjs';

const APP = process.env.LEXDESK_DESKTOP_BIN;
const ARTIFACTS = process.env.LEXDESK_ARTIFACTS ?? '/tmp/lexdesk-desktop-artifacts';
const FIXTURES = process.env.LEXDESK_E2E_FIXTURES ?? '/tmp/lexdesk-desktop-fixtures';
const NATIVE_DRIVER = process.env.WEBKIT_WEBDRIVER ?? '/usr/bin/WebKitWebDriver';
const PORT = 4444;

let tauriDriver;
let driver;
let step = 0;

function waitForPort(port, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const attempt = () => {
      const socket = net.connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.end();
        resolve();
      });
      socket.once('error', () => {
        socket.destroy();
        if (Date.now() > deadline) reject(new Error(`tauri-driver did not listen on ${port}`));
        else setTimeout(attempt, 200);
      });
    };
    attempt();
  });
}

async function screenshot(name) {
  step += 1;
  // Let the webview paint the last change before it is captured.
  await driver.sleep(300);
  const png = await driver.takeScreenshot();
  writeFileSync(`${ARTIFACTS}/${String(step).padStart(2, '0')}-${name}.png`, png, 'base64');
}

const byTestId = (id) => By.css(`[data-testid="${id}"]`);

// The first displayed element the locator finds; an element React replaces while this waits
// (a re-render) is looked up again instead of failing as stale.
async function visible(locator, timeoutMs = 30_000) {
  return driver.wait(
    async () => {
      for (const el of await driver.findElements(locator)) {
        try {
          if (await el.isDisplayed()) return el;
        } catch (e) {
          if (e.name !== 'StaleElementReferenceError') throw e;
        }
      }
      return null;
    },
    timeoutMs,
    `nothing visible for ${locator}`,
  );
}

before(async () => {
  assert.ok(APP, 'LEXDESK_DESKTOP_BIN names the desktop binary');
  mkdirSync(ARTIFACTS, { recursive: true });
  mkdirSync(FIXTURES, { recursive: true });
  tauriDriver = spawn('tauri-driver', ['--port', String(PORT), '--native-driver', NATIVE_DRIVER], {
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  await waitForPort(PORT, 20_000);
  const caps = new Capabilities();
  caps.setBrowserName('wry');
  caps.set('tauri:options', { application: APP });
  driver = await new Builder().withCapabilities(caps).usingServer(`http://127.0.0.1:${PORT}/`).build();
  await driver.manage().setTimeouts({ implicit: 0, script: 30_000 });
});

after(async () => {
  await driver?.quit().catch(() => {});
  tauriDriver?.kill();
  // An app that outlives its driver (seen once in CI after all tests passed) keeps the test
  // runner's inherited output pipe open and the runner waits forever: end it.
  spawnSync('pkill', ['-f', APP]);
});

test('first run: the demo matter is prepared and selected', async () => {
  const demo = await visible(By.css('[data-testid="matter-item"][data-name="Demo"]'), 120_000);
  await driver.wait(async () => (await demo.getAttribute('aria-current')) === 'true', 30_000);
  await screenshot('first-run-demo');
});

test('create a matter, add a PDF, watch it index', async () => {
  await (await visible(byTestId('matter-new'))).click();
  const name = await visible(byTestId('matter-name-input'));
  await name.sendKeys('Harbor NDA review', Key.ENTER);
  const item = await visible(By.css('[data-testid="matter-item"][data-name="Harbor NDA review"]'));
  await driver.wait(async () => (await item.getAttribute('aria-current')) === 'true', 10_000);
  await screenshot('matter-created');

  const { good } = writeFixtures(FIXTURES);
  await (await visible(byTestId('tab-documents'))).click();
  await (await visible(byTestId('add-path-input'))).sendKeys(good);
  await (await visible(byTestId('add-path-submit'))).click();
  await screenshot('ingesting');
  const row = await visible(By.css('[data-testid="doc-row"][data-file="harbor-nda.pdf"]'), 120_000);
  await driver.wait(async () => (await row.getAttribute('data-status')) === 'indexed', 120_000);
  await visible(byTestId('ingest-summary'), 30_000);
  await screenshot('indexed');
});

test('a failed file shows its reason', async () => {
  const { broken } = writeFixtures(FIXTURES);
  const input = await visible(byTestId('add-path-input'));
  await input.clear();
  await input.sendKeys(broken);
  await (await visible(byTestId('add-path-submit'))).click();
  const row = await visible(By.css('[data-testid="doc-row"][data-file="not-really.pdf"]'), 60_000);
  await driver.wait(async () => (await row.getAttribute('data-status')) === 'failed', 60_000);
  const reason = await row.findElement(byTestId('doc-error'));
  const text = await reason.getText();
  assert.match(text, /NOT_A_PDF|not a PDF/i, `the reason is shown: ${text}`);
  await screenshot('failed-file');
});

test('ask a question, see a verified citation, open the highlighted page', async () => {
  await (await visible(byTestId('tab-chat'))).click();
  const q = await visible(byTestId('question-input'));
  await q.sendKeys('How much notice is needed to terminate the agreement?');
  await (await visible(byTestId('ask-submit'))).click();
  // The streaming block is replaced by the finished one (a new element): wait by locator.
  await visible(byTestId('answer'), 60_000);
  await screenshot('answer-streaming');
  await visible(By.css('[data-testid="answer"][data-state="done"]'), 240_000);
  await screenshot('answer-done');

  const chip = await visible(By.css('[data-testid="citation-chip"][data-verified="true"]'), 10_000);
  await chip.click();
  const panel = await visible(byTestId('citation-panel'));
  const badge = await panel.findElement(byTestId('citation-badge'));
  assert.ok((await badge.getText()).length > 0, 'the panel badges the citation');
  const page = await panel.findElement(byTestId('page-text'));
  const mark = await page.findElement(By.css('mark.quote-highlight'));
  const quoted = (await mark.getText()).replace(/\s+/g, ' ');
  assert.ok(quoted.length >= 8, `a highlighted quote: ${quoted}`);
  assert.ok((await page.getText()).replace(/\s+/g, ' ').includes(quoted), 'the highlight is on the stored page');
  await screenshot('citation-panel');
});

test('a question the documents do not answer abstains', async () => {
  const q = await visible(byTestId('question-input'));
  await q.sendKeys('What is the capital of France?');
  await (await visible(byTestId('ask-submit'))).click();
  const done = By.css('[data-testid="answer"][data-state="done"]');
  await driver.wait(async () => (await driver.findElements(done)).length >= 2, 240_000);
  const answers = await driver.findElements(done);
  const last = answers[answers.length - 1];
  assert.equal(await last.getAttribute('data-abstained'), 'true');
  await last.findElement(byTestId('abstention'));
  await screenshot('abstention');
});

test('a template shapes a cited answer', async () => {
  await (await visible(byTestId('tab-chat'))).click();
  const picker = await visible(byTestId('template-picker'));
  await (await picker.findElement(By.css('option[value="statute-qa-en"]'))).click();
  const q = await visible(byTestId('question-input'));
  await q.sendKeys('How much notice is needed to terminate the agreement?');
  await (await visible(byTestId('ask-submit'))).click();
  const shaped = await visible(byTestId('turn-template'), 300_000);
  assert.match(await shaped.getText(), /statute-qa-en/);
  const done = By.css('[data-testid="answer"][data-state="done"]');
  await driver.wait(async () => (await driver.findElements(done)).length >= 3, 30_000);
  await screenshot('answer-with-template');
});

test('templates: render with a token count, compare two side by side with a diff', async () => {
  await (await visible(byTestId('nav-templates'))).click();
  const item = await visible(By.css('[data-testid="template-item"][data-name="statute-qa-en"]'));
  await item.click();
  await visible(By.css('[data-testid="template-detail"][data-name="statute-qa-en"]'));
  await (await visible(byTestId('try-var-question'))).sendKeys('How much notice is needed to terminate the agreement?');
  await (await visible(byTestId('template-preview'))).click();
  const count = await visible(byTestId('token-count'), 120_000);
  assert.match(await count.getText(), /\d+ prompt tokens \+ \d+ reserved for the answer of \d+/);
  const user = await (await visible(byTestId('rendered-user'))).getText();
  assert.match(user, /\[S1\]/, 'the evidence was retrieved from the demo matter');
  await screenshot('template-preview');

  await (await visible(byTestId('template-compare'))).click();
  const add = await visible(byTestId('compare-add-select'));
  await (await add.findElement(By.css('option[value="statute-qa-zh"]'))).click();
  await (await visible(byTestId('compare-add'))).click();
  await (await visible(byTestId('compare-var-question'))).sendKeys('How much notice is needed to terminate the agreement?');
  await (await visible(byTestId('compare-keywords'))).sendKeys('notice, days');
  await (await visible(byTestId('compare-max-tokens'))).sendKeys('48');
  await (await visible(byTestId('compare-run'))).click();
  await visible(byTestId('run-column'), 60_000);
  await screenshot('compare-running');
  const finished = By.css('[data-testid="run-column"][data-state="done"] [data-testid="run-metrics"]');
  await driver.wait(async () => (await driver.findElements(finished)).length === 2, 300_000);
  const metrics = await driver.findElements(finished);
  for (const m of metrics) assert.match(await m.getText(), /\d+ tokens · \d+ characters · .* tokens\/s/);
  await visible(byTestId('diff'), 30_000);
  const history = await visible(byTestId('compare-history'));
  assert.ok((await history.findElements(By.css('li'))).length >= 1, 'the comparison is in the history');
  await screenshot('compare-diff');
});

test('evaluate: a faulty gold set is refused row by row; the demo set runs with progress, honesty, charts and items opened to their citations, is graded, and two configurations are compared', async () => {
  await (await visible(byTestId('nav-evaluate'))).click();
  await visible(byTestId('evaluate-view'));
  await (await visible(byTestId('eval-import-open'))).click();

  const { badSet } = writeFixtures(FIXTURES);
  const pathInput = await visible(byTestId('eval-import-path'));
  await pathInput.sendKeys(badSet);
  await (await visible(byTestId('eval-check'))).click();
  const problems = await visible(byTestId('set-problems'), 30_000);
  const rows = await problems.findElements(byTestId('set-problem'));
  const named = await Promise.all(rows.map(async (r) => `${await r.getAttribute('data-row')}:${await r.getAttribute('data-column')}`));
  assert.ok(named.includes('1:questoin'), `the misspelt column is named: ${named}`);
  assert.ok(named.some((n) => n.startsWith('3:')), `the duplicate id / page 0 on row 3 is named: ${named}`);
  assert.equal((await driver.findElements(byTestId('eval-import-submit'))).length, 0, 'a faulty set cannot be imported');
  await screenshot('eval-set-problems');

  // The example set shipped with the app, about the demo NDA.
  const demoSet = path.join(path.dirname(process.env.LEXDESK_DEMO_DIR), 'evals', 'demo-nda-en.jsonl');
  // The form re-renders with the check's result: find the field again.
  const demoInput = await visible(byTestId('eval-import-path'));
  await demoInput.clear();
  await demoInput.sendKeys(demoSet);
  await (await visible(byTestId('eval-check'))).click();
  assert.match(await (await visible(byTestId('set-valid'), 30_000)).getText(), /10 items/);
  await (await visible(byTestId('eval-import-submit'))).click();
  await visible(By.css('[data-testid="eval-set-detail"][data-name="demo-nda-en"]'), 30_000);

  // Extractive answers on the demo matter (no chat model: quick on CPU), the first four items.
  const matterSelect = await visible(byTestId('eval-matter'));
  assert.equal(await (await matterSelect.findElement(By.css('option:checked'))).getText(), 'Demo');
  await (await visible(byTestId('eval-mode-extractive'))).click();
  await (await visible(byTestId('eval-label'))).sendKeys('extractive');
  await (await visible(byTestId('eval-limit'))).sendKeys('4');
  await (await visible(byTestId('eval-start'))).click();
  await screenshot('eval-running');
  const run = await visible(By.css('[data-testid="eval-run"][data-status="finished"]'), 300_000);

  // Citation honesty, checked by reading each verified quote's page back from the store.
  const honesty = await run.findElement(byTestId('eval-honesty'));
  assert.equal(await honesty.getAttribute('data-honest'), 'true', await honesty.getText());
  const keys = await Promise.all((await run.findElements(byTestId('eval-metric'))).map((m) => m.getAttribute('data-key')));
  assert.ok(keys.includes('grounded') && keys.includes('latency_ms'), `metrics: ${keys}`);
  const chart = await visible(By.css('[data-testid="eval-chart"] img'), 30_000);
  await driver.wait(async () => (await driver.executeScript('return arguments[0].naturalWidth', chart)) > 0, 10_000);
  const items = await run.findElements(byTestId('eval-item-row'));
  assert.equal(items.length, 4);
  await screenshot('eval-report');

  // Open an item that has an answer: its gold and its citations, each found again on its page.
  let opened = false;
  for (const row of items) {
    if ((await row.getAttribute('data-state')) !== 'answered') continue;
    // The results scroll inside their pane: bring the row into view, then click its first cell.
    await driver.executeScript('arguments[0].scrollIntoView({ block: "center" })', row);
    await (await row.findElement(By.css('td'))).click();
    const detail = await visible(byTestId('item-detail'));
    assert.ok((await (await detail.findElement(byTestId('item-gold'))).getText()).length > 10, 'the gold is shown');
    const citations = await detail.findElements(By.css('[data-testid="item-citation"][data-verified="true"]'));
    assert.ok(citations.length >= 1, 'an extractive answer quotes verified passages');
    for (const c of citations) assert.equal(await c.getAttribute('data-on-page'), 'true');
    opened = true;
    break;
  }
  assert.ok(opened, 'at least one of four demo questions is answered');
  await screenshot('eval-item');

  // The optional LLM judge (the chat model grades each answer 1–5), labelled as weaker evidence.
  await (await visible(byTestId('eval-judge-run'))).click();
  // Grades appear as they are made; the job's progress goes away when the last is in.
  await driver.wait(
    async () =>
      (await driver.findElements(byTestId('eval-progress'))).length === 0 &&
      /4 answers graded/.test(await driver.findElement(byTestId('eval-judge-note')).getText().catch(() => '')),
    300_000,
  );
  const note = await visible(byTestId('eval-judge-note'));
  assert.match(await note.getText(), /4 answers graded 1–5 by .*weaker evidence/);
  const judged = await driver.findElements(By.css('[data-testid="eval-metric"][data-key="judge_score"]'));
  const unreadable = /(\d+) repl/.exec(await note.getText());
  assert.ok(judged.length === 1 || (unreadable && unreadable[1] === '4'), 'a judge score, unless no reply was readable');
  await screenshot('eval-judged');

  // A second configuration on the same four items (full-text retrieval only), then the two compared.
  await (await visible(byTestId('eval-tab-sets'))).click();
  await visible(By.css('[data-testid="eval-set-detail"][data-name="demo-nda-en"]'), 30_000);
  await (await visible(byTestId('eval-mode-extractive'))).click();
  await (await (await visible(byTestId('eval-search-mode'))).findElement(By.css('option[value="text"]'))).click();
  const label = await visible(byTestId('eval-label'));
  await label.clear();
  await label.sendKeys('text retrieval');
  const limit = await visible(byTestId('eval-limit'));
  await limit.clear();
  await limit.sendKeys('4');
  await (await visible(byTestId('eval-start'))).click();
  const finishedRuns = By.css('[data-testid="eval-run-item"][data-status="finished"]');
  await driver.wait(async () => (await driver.findElements(finishedRuns)).length === 2, 300_000);
  for (const box of await driver.findElements(byTestId('eval-run-compare'))) await box.click();
  await (await visible(byTestId('eval-compare-selected'))).click();
  const comparison = await visible(byTestId('eval-comparison'), 60_000);
  const deltas = await comparison.findElements(byTestId('eval-delta'));
  const deltaKeys = await Promise.all(deltas.map((d) => d.getAttribute('data-key')));
  assert.ok(deltaKeys.includes('grounded') && deltaKeys.includes('latency_ms'), `paired deltas: ${deltaKeys}`);
  assert.match(await comparison.getText(), /4 paired items/i);
  // Items that moved open down to both answers and the gold.
  const moved = await comparison.findElements(byTestId('eval-moved-item'));
  if (moved.length > 0) {
    await driver.executeScript('arguments[0].scrollIntoView({ block: "center" })', moved[0]);
    await moved[0].click();
    const detail = await visible(byTestId('item-detail'));
    assert.equal((await detail.findElements(byTestId('item-answer'))).length, 2, 'both runs\' answers side by side');
  }
  await screenshot('eval-compare');
});
