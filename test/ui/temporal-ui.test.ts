import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { BrowserContext, Page } from 'playwright-core';
import { launchChromium } from '../support/browser.ts';
import { startDevServer, type DevServer } from '../../src/temporal/devServer.ts';
import { songCallback } from '../support/callbacks.ts';
import { FakeProvider, MediaServer } from '../support/fakeProvider.ts';
import { startStack, type Stack } from '../support/stack.ts';
import { freePort } from '../support/ports.ts';

// The committed screenshot is refreshed on demand (UPDATE_SCREENSHOT=1); a plain run keeps it untouched.
const SCREENSHOT =
  process.env.UPDATE_SCREENSHOT === '1'
    ? join(import.meta.dirname, '..', '..', 'docs', 'temporal-ui-task.png')
    : join(process.env.TEST_SCRATCH_DIR ?? tmpdir(), 'temporal-ui-task.png');

describe('the Temporal UI shows a task readably', () => {
  let server: DevServer;
  let uiUrl: string;
  let stack: Stack;
  let browser: BrowserContext;
  const provider = new FakeProvider();
  const media = new MediaServer();

  before(async () => {
    const [port, uiPort] = [await freePort(), await freePort()];
    // The run's shared server is headless: this test brings its own, with the Web UI.
    server = await startDevServer({ port, uiPort });
    uiUrl = `http://127.0.0.1:${uiPort}`;
    await media.start();
    stack = await startStack({
      provider,
      mediaOrigins: [media.url],
      env: { TEMPORAL_ADDRESS: server.address, POLL_INTERVAL: '1m', POLL_MAX_INTERVAL: '1m' },
    });
    browser = await launchChromium({ width: 1400, height: 1000 });
  });
  after(async () => {
    await browser?.close();
    await stack?.close();
    await media.close();
    await server?.stop();
  });

  /** The rendered markdown of the user-metadata panel under `heading` (the UI renders it in an iframe). */
  const panelText = (page: Page, heading: string) =>
    page
      .locator('h3', { hasText: new RegExp(`^${heading}$`) })
      .locator('xpath=ancestor::div[.//iframe][1]')
      .locator('iframe')
      .first()
      .contentFrame()
      .locator('body');

  it(
    'shows the summary, the current details and the search attributes of a task in progress',
    { timeout: 120_000 },
    async () => {
      const submitted = await stack.api('POST', '/v1/tasks', {
        kind: 'music',
        input: {
          customMode: true,
          instrumental: false,
          model: 'V4_5',
          prompt: 'A calm song about summer',
          style: 'pop',
          title: 'Summer Breeze',
        },
      });
      assert.equal(submitted.status, 202, JSON.stringify(submitted.body));
      const taskId = submitted.body.taskId as string;
      const result = media.songResult(taskId);
      assert.equal((await stack.postCallback('music', songCallback('text', taskId))).status, 200);
      assert.equal((await stack.postCallback('music', songCallback('first', taskId, result))).status, 200);
      await stack.waitForTask(taskId, (view) => view.status === 'FIRST_SUCCESS');

      const page = await browser.newPage();
      const workflowUrl = `${uiUrl}/namespaces/default/workflows/music-task-${taskId}`;
      await page.goto(workflowUrl, { waitUntil: 'load' });
      await page.getByRole('heading', { name: `music-task-${taskId}` }).waitFor();

      await page.getByTestId('user-metadata-tab').click();
      const summary = panelText(page, 'Summary');
      await summary.getByText(`music ${taskId} — Summer Breeze`, { exact: true }).waitFor();
      const details = panelText(page, 'Current Details');
      await details.getByText('status: FIRST_SUCCESS', { exact: true }).waitFor();
      await details.getByText('callbacks: 2 (0 duplicate) — text ×1, first ×1', { exact: true }).waitFor();
      const detailsText = await details.innerText();
      // The details start with what changes; the summary beside them already names the task.
      assert.match(detailsText, /^status: FIRST_SUCCESS/);
      assert.match(detailsText, /polls: 0/);
      assert.match(detailsText, /next poll: /);
      mkdirSync(dirname(SCREENSHOT), { recursive: true });
      await page.screenshot({ path: SCREENSHOT, clip: { x: 0, y: 0, width: 1400, height: 560 } });

      await page.getByTestId('search-attributes-tab').click();
      for (const line of [
        '"MusicTaskStatus": "FIRST_SUCCESS"',
        '"MusicTaskKind": "music"',
        '"MusicTaskReady": false',
      ])
        await page.getByText(line).first().waitFor();
      await page.close();
    },
  );
});
