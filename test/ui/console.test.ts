/**
 * The web console in headless Chromium: a song submitted from the form, its progress moving live
 * to ready, a stored track played; with API_TOKEN, the token asked for first. `UPDATE_SCREENSHOT=1`
 * refreshes the screenshots in docs/ (desktop and phone).
 */
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { BrowserContext, Page } from 'playwright-core';
import { launchChromium } from '../support/browser.ts';
import { songCallback } from '../support/callbacks.ts';
import { FakeProvider, MediaServer } from '../support/fakeProvider.ts';
import { startStack, type Stack } from '../support/stack.ts';

const SHOTS =
  process.env.UPDATE_SCREENSHOT === '1'
    ? join(import.meta.dirname, '..', '..', 'docs')
    : join(process.env.TEST_SCRATCH_DIR ?? tmpdir(), 'console-shots');

/** The row of a task in the list. */
const row = (page: Page, taskId: string) => page.locator(`#task-${taskId}`);

describe('the web console', () => {
  let stack: Stack;
  let browser: BrowserContext;
  const provider = new FakeProvider();
  const media = new MediaServer();
  const errors: string[] = [];

  before(async () => {
    await media.start();
    stack = await startStack({
      provider,
      mediaOrigins: [media.url],
      env: {
        POLL_INTERVAL: '1m',
        POLL_MAX_INTERVAL: '1m',
        TEMPORAL_UI_URL: 'http://temporal-ui.example:8233',
      },
    });
    browser = await launchChromium({ width: 1440, height: 960 }, [
      // A test plays a track without a person's click.
      '--autoplay-policy=no-user-gesture-required',
    ]);
  });
  after(async () => {
    await browser?.close();
    await stack?.close();
    await media.close();
  });

  it(
    'submits a song from the form, shows its progress live until ready, and plays a stored track',
    { timeout: 120_000 },
    async () => {
      const page = await browser.newPage();
      page.on('pageerror', (error) => errors.push(error.message));
      page.on('console', (message) => {
        if (message.type() === 'error') errors.push(message.text());
      });
      page.on('response', (response) => {
        if (response.status() >= 400) errors.push(`${response.status()} ${response.url()}`);
      });
      await page.goto(`${stack.apiUrl}/`, { waitUntil: 'load' });
      await page.getByRole('status').filter({ hasText: 'live' }).waitFor();
      await page.evaluate(() => {
        const root = globalThis as any;
        root.said = [];
        const announcer = root.document.getElementById('announcer');
        new root.MutationObserver(() => root.said.push(announcer.textContent)).observe(announcer, {
          childList: true,
          characterData: true,
          subtree: true,
        });
      });
      // Landmarks and labels: the form is usable by its labels alone.
      assert.equal(await page.getByRole('banner').count(), 1);
      assert.equal(await page.getByRole('main').count(), 1);
      await page.getByLabel('Prompt or lyrics').fill('A calm song about a summer evening by the sea');
      await page.getByLabel('Title').fill('Summer Breeze');
      await page.getByLabel('Style').fill('acoustic pop');
      const submitsBefore = provider.submits;
      await page.getByRole('button', { name: 'Submit song' }).click();

      await page.getByRole('heading', { level: 2, name: 'Summer Breeze' }).waitFor();
      assert.equal(provider.submits, submitsBefore + 1);
      const taskId = [...provider.tasks.keys()].at(-1)!;
      await row(page, taskId).waitFor();
      const temporal = page.getByRole('link', { name: 'Open its workflow in the Temporal UI' });
      assert.equal(
        await temporal.getAttribute('href'),
        `http://temporal-ui.example:8233/namespaces/default/workflows/music-task-${taskId}`,
      );
      const phase = row(page, taskId).getByTestId('phase');
      assert.equal(await phase.textContent(), 'PENDING');

      const result = media.songResult(taskId);
      for (const track of result.tracks!) track.prompt = '[Verse]\nSalt on the wind\n[Chorus]\nSummer breeze';
      assert.equal((await stack.postCallback('music', songCallback('text', taskId))).status, 200);
      await row(page, taskId).getByTestId('phase').filter({ hasText: 'TEXT_SUCCESS' }).waitFor();
      assert.equal((await stack.postCallback('music', songCallback('first', taskId, result))).status, 200);
      await row(page, taskId).getByTestId('phase').filter({ hasText: 'FIRST_SUCCESS' }).waitFor();
      await row(page, taskId).getByTestId('callbacks').filter({ hasText: 'callbacks 2' }).waitFor();
      await page.locator('#detail-timeline li', { hasText: 'TEXT_SUCCESS → FIRST_SUCCESS' }).waitFor();
      await page.getByTestId('detail-phase').filter({ hasText: 'FIRST_SUCCESS' }).waitFor();
      mkdirSync(SHOTS, { recursive: true });
      await page.screenshot({ path: join(SHOTS, 'console-progress.png') });

      provider.set(taskId, 'music', 'SUCCESS', result);
      assert.equal(
        (await stack.postCallback('music', songCallback('complete', taskId, result, true))).status,
        200,
      );
      await row(page, taskId).getByTestId('phase').filter({ hasText: 'ready' }).waitFor({ timeout: 30_000 });
      // Other tests' tasks share the Temporal server (and so the list): read every announcement.
      await page.waitForFunction(() => (globalThis as any).said.includes('Summer Breeze is ready'));
      await page.locator('#detail-timeline li[data-type="ready"]').waitFor();
      const timeline = await page.locator('#detail-timeline li').allTextContents();
      for (const step of ['tracking started', 'callback “text”', 'confirming query', 'files stored', 'ready'])
        assert.ok(
          timeline.some((line) => line.includes(step)),
          `${step} in ${timeline.join(' | ')}`,
        );

      // The files: cover art and a player for each track, the lyrics beside them.
      const players = page.locator('#detail-tracks audio');
      await players.first().waitFor();
      assert.equal(await players.count(), 2);
      assert.equal(await page.locator('#detail-tracks img').count(), 2);
      await page.locator('#detail-lyrics pre', { hasText: 'Salt on the wind' }).first().waitFor();
      const images = await page
        .locator('#detail-tracks img')
        .evaluateAll((nodes: any[]) => nodes.map((node) => node.naturalWidth as number));
      assert.ok(
        images.every((width) => width > 0),
        `cover art decoded: ${images.join(', ')}`,
      );
      const played = await players.first().evaluate(async (node: any) => {
        const audio = node;
        await audio.play();
        const started = Date.now();
        while (audio.currentTime === 0 && !audio.error && Date.now() - started < 10_000)
          await new Promise((resolve) => setTimeout(resolve, 100));
        return {
          currentTime: audio.currentTime,
          duration: audio.duration,
          error: audio.error?.message ?? null,
        };
      });
      assert.equal(played.error, null);
      assert.ok(played.duration > 2.5, `duration ${played.duration}`);
      assert.ok(played.currentTime > 0, `currentTime ${played.currentTime}`);
      await players.first().evaluate((node: any) => node.pause());
      // The stream of all tasks brings the same events a moment later: the task stays ready.
      await page.waitForTimeout(1_500);
      assert.equal(await row(page, taskId).getByTestId('phase').textContent(), 'ready');
      await page.screenshot({ path: join(SHOTS, 'console-desktop.png') });

      // On a phone: one column, nothing wider than the screen.
      await page.setViewportSize({ width: 390, height: 844 });
      await page.waitForTimeout(300);
      const width = await page.evaluate(
        () => (globalThis as any).document.documentElement.scrollWidth as number,
      );
      assert.ok(width <= 390, `page width on a phone: ${width}`);
      await page.screenshot({ path: join(SHOTS, 'console-phone.png') });
      assert.deepEqual(errors, []);
      await page.close();
    },
  );

  it('says what is wrong with a song it cannot submit', { timeout: 60_000 }, async () => {
    const page = await browser.newPage();
    await page.goto(`${stack.apiUrl}/`, { waitUntil: 'load' });
    await page.getByRole('status').filter({ hasText: 'live' }).waitFor();
    // Custom mode (a title) without a style: the API names the field.
    await page.getByLabel('Title').fill('No style');
    await page.getByRole('button', { name: 'Submit song' }).click();
    await page.getByRole('alert').filter({ hasText: 'style' }).waitFor();
    await page.close();
  });
});

describe('the web console with API_TOKEN', () => {
  let stack: Stack;
  let browser: BrowserContext;
  const provider = new FakeProvider();

  before(async () => {
    stack = await startStack({
      provider,
      env: { API_TOKEN: 'console-test-token', POLL_INTERVAL: '1m', POLL_MAX_INTERVAL: '1m' },
    });
    browser = await launchChromium({ width: 1440, height: 960 }, [
      // A test plays a track without a person's click.
      '--autoplay-policy=no-user-gesture-required',
    ]);
  });
  after(async () => {
    await browser?.close();
    await stack?.close();
  });

  it(
    'asks for the token, then lists and follows tasks with it (never in a URL)',
    { timeout: 60_000 },
    async () => {
      const taskId = await provider.submit('lyrics');
      const put = await fetch(`${stack.apiUrl}/v1/tasks/${taskId}`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json', authorization: 'Bearer console-test-token' },
        body: JSON.stringify({ kind: 'lyrics' }),
      });
      assert.equal(put.status, 201);
      const page = await browser.newPage();
      const urls: string[] = [];
      page.on('request', (request) => urls.push(request.url()));
      await page.goto(`${stack.apiUrl}/`, { waitUntil: 'load' });
      await page.getByRole('heading', { name: 'Sign in' }).waitFor();
      await page.getByLabel('API token').fill('wrong');
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.getByRole('alert').filter({ hasText: 'not accepted' }).waitFor();
      await page.getByLabel('API token').fill('console-test-token');
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.getByRole('status').filter({ hasText: 'live' }).waitFor();
      await row(page, taskId).waitFor();
      await row(page, taskId).getByRole('button').click();
      await page.locator('#detail-timeline li[data-type="tracking"]').waitFor();
      assert.ok(
        urls.every((url) => !url.includes('console-test-token')),
        urls.join('\n'),
      );
      await page.close();
    },
  );
});
