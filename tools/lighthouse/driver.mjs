// Prospector's resident Lighthouse driver: one Node process and one Chrome
// that audit many URLs, one at a time, so Node's start-up, Lighthouse's module
// and config loading and Chrome's start are paid once per driver instead of
// once per audit. The audits themselves are the ones the `lighthouse` CLI
// runs: the same `lighthouse()` entry point, flags and presets.
//
// Started by the audit stage (jobs/src/audit/lighthouse/resident.rs):
//
//   node driver.mjs --chrome-path /usr/bin/chromium --user-data-dir DIR \
//        [--chrome-flag FLAG]...
//
// Protocol, one JSON object per line:
//   stdout, once: {"ready": true, "lighthouseVersion": "12.8.2", "chromePid": 123}
//   stdin:  {"id": 1, "url": "https://…", "outputPath": "/…/report.json", "formFactor": "mobile"}
//   stdout: {"id": 1, "ok": true}                 the report (LHR JSON) is at outputPath,
//                                                 also when it carries a runtimeError
//           {"id": 1, "ok": false, "error": "…"}  Lighthouse threw; nothing written
//
// Each audit runs in a fresh browser context (no cookies, storage or cache
// from earlier audits). Chromium stays in the driver's process group. When
// stdin closes (the worker went away) or on SIGTERM/SIGINT the driver kills
// its Chromium and exits.

import {spawn} from 'node:child_process';
import fs from 'node:fs';
import readline from 'node:readline';

import * as ChromeLauncher from 'chrome-launcher';
import lighthouse, {desktopConfig} from 'lighthouse';
import puppeteer from 'puppeteer-core';

function parseArgs(argv) {
  const args = {chromeFlags: []};
  for (let i = 0; i < argv.length; i++) {
    const value = argv[i + 1];
    switch (argv[i]) {
      case '--chrome-path': args.chromePath = value; i++; break;
      case '--user-data-dir': args.userDataDir = value; i++; break;
      case '--chrome-flag': args.chromeFlags.push(value); i++; break;
      default: throw new Error(`unknown argument ${argv[i]}`);
    }
  }
  if (!args.chromePath || !args.userDataDir) {
    throw new Error('--chrome-path and --user-data-dir are required');
  }
  return args;
}

function send(message) {
  process.stdout.write(JSON.stringify(message) + '\n');
}

const args = parseArgs(process.argv.slice(2));
const lighthouseVersion = JSON.parse(
  fs.readFileSync(new URL('./node_modules/lighthouse/package.json', import.meta.url), 'utf8'),
).version;

fs.mkdirSync(args.userDataDir, {recursive: true});
// chrome-launcher starts Chromium in a session of its own (`detached`); keep
// it in this driver's process group instead, so that killing the group (what
// the worker does on timeout, shutdown or drop) also kills Chromium.
const chrome = new ChromeLauncher.Launcher(
  {
    chromePath: args.chromePath,
    chromeFlags: args.chromeFlags,
    userDataDir: args.userDataDir,
    logLevel: 'silent',
  },
  {spawn: (command, argv, options) => spawn(command, argv, {...options, detached: false})},
);
await chrome.launch();

let stopping = false;
function stop(code) {
  if (stopping) return;
  stopping = true;
  try {
    // Started by the worker, the driver leads its own process group
    // (Chromium included): kill the group. Started by hand it leads none,
    // and only its Chromium is killed.
    process.kill(-process.pid, 'SIGKILL');
  } catch {
    chrome.chromeProcess?.kill('SIGKILL');
  }
  process.exit(code);
}
process.on('SIGTERM', () => stop(0));
process.on('SIGINT', () => stop(0));
// A report must never be half-written by a crashed driver: die loudly instead.
process.on('unhandledRejection', (reason) => {
  process.stderr.write(`unhandled rejection: ${reason}\n`);
  stop(1);
});

const browser = await puppeteer.connect({
  browserURL: `http://127.0.0.1:${chrome.port}`,
  defaultViewport: null,
});

async function audit(request) {
  const flags = {
    port: chrome.port,
    output: 'json',
    logLevel: 'silent',
  };
  const config = request.formFactor === 'desktop' ? desktopConfig : undefined;
  const context = await browser.createBrowserContext();
  try {
    const page = await context.newPage();
    const result = await lighthouse(request.url, flags, config, page);
    if (!result) throw new Error('Lighthouse returned no result');
    fs.writeFileSync(request.outputPath, JSON.stringify(result.lhr));
  } finally {
    await context.close().catch(() => {});
  }
}

send({ready: true, lighthouseVersion, chromePid: chrome.pid});

const lines = readline.createInterface({input: process.stdin, crlfDelay: Infinity});
for await (const line of lines) {
  if (!line.trim()) continue;
  let request;
  try {
    request = JSON.parse(line);
  } catch (err) {
    send({id: null, ok: false, error: `not a JSON request: ${err.message}`});
    continue;
  }
  try {
    await audit(request);
    send({id: request.id, ok: true});
  } catch (err) {
    send({id: request.id, ok: false, error: String(err?.message ?? err)});
  }
}
stop(0);
