import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, test } from 'node:test';
import { runBerth } from '../helpers/berth-process';

/** Each command, a line that must be refused before anything is read, and its usage's first line. */
const COMMANDS = [
  { args: ['serve'], usage: 'usage: berth [serve] [--config FILE]' },
  { args: ['config', 'check'], usage: 'usage: berth config check [--config FILE] [--show-secrets]' },
  { args: ['gc'], usage: 'usage: berth gc [--dry-run]' },
  { args: ['check'], usage: 'usage: berth check [--repair]' },
  { args: ['ls'], usage: 'usage: berth ls [REPOSITORY]' },
  { args: ['healthcheck'], usage: 'usage: berth healthcheck [--cert FILE --key FILE]' },
  { args: ['insight'], usage: 'usage: berth insight IMAGE' },
];

// A store nobody may touch: a refused line must not even create it.
const ENV = { REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY: '/nonexistent/berth-usage-test' };

describe('berth command lines', () => {
  for (const { args, usage } of COMMANDS) {
    const name = args.join(' ');
    test(`${name}: an unknown flag or a stray argument exits 2 with ${name}'s usage, one option per line`, async () => {
      const stray = args[0] === 'ls' || args[0] === 'insight' ? ['one', 'two'] : ['extra'];
      for (const bad of [['--bogus'], stray]) {
        const r = await runBerth([...args, ...bad], { env: ENV });
        assert.equal(r.code, 2, `${name} ${bad.join(' ')}: ${r.stdout}${r.stderr}`);
        assert.equal(r.stdout, '');
        const lines = r.stderr.split('\n');
        assert.match(lines[0], new RegExp(`^${args[0]}: `), r.stderr);
        assert.ok(lines[1].startsWith(usage), `the command's own usage on its own line:\n${r.stderr}`);
        assert.ok(lines.length > 3, 'not flattened onto one line');
      }
    });

    test(`berth help ${args[0]} and ${name} --help print ${args[0]}'s usage on stdout, exit 0`, async () => {
      const help = await runBerth(['help', args[0]], { env: ENV });
      const flag = await runBerth([...args, '--help'], { env: ENV });
      for (const r of [help, flag]) {
        assert.equal(r.code, 0, r.stderr);
        assert.equal(r.stderr, '');
        assert.ok(r.stdout.startsWith(usage), r.stdout);
        assert.ok(r.stdout.split('\n').length > 3, 'one option per line');
      }
      assert.equal(flag.stdout, help.stdout);
    });
  }

  test('berth help is the overview of every command; berth help NOPE exits 2', async () => {
    const r = await runBerth(['help']);
    assert.equal(r.code, 0);
    for (const command of ['serve', 'config check', 'gc', 'check', 'ls', 'healthcheck', 'insight', '--version']) assert.match(r.stdout, new RegExp(`\\n {7}berth ${command}|^usage: berth \\[${command}`), command);
    const nope = await runBerth(['help', 'nope']);
    assert.equal(nope.code, 2);
    assert.match(nope.stderr, /^help: unknown command "nope"\n/);
  });

  test('berth --version prints the version of package.json', async () => {
    const { version } = JSON.parse(await readFile(path.resolve(__dirname, '..', '..', '..', 'package.json'), 'utf8')) as { version: string };
    const r = await runBerth(['--version']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `berth ${version}\n`);
  });

  test('berth config alone asks for its subcommand, with config\'s usage, exit 2', async () => {
    for (const args of [['config'], ['config', 'chek']]) {
      const r = await runBerth(args);
      assert.equal(r.code, 2);
      assert.match(r.stderr, /^config: (name a subcommand: check|unknown subcommand "chek")\nusage: berth config check/);
    }
  });

  test('gc --dryrun (a typo) is refused: it never runs a deleting collection', async () => {
    const r = await runBerth(['gc', '--dryrun'], { env: ENV });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /^gc: Unknown option '--dryrun'\nusage: berth gc /);
  });
});
