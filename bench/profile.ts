/**
 * `npm run bench -- --profile`: the Switchyard side of scenario 3 (end to end, webhook), or of the
 * scenario named with `--only=N`, with the gateway under `node --cpu-prof`; then the ten functions
 * with the most self time, and the time per group. `--profile=alloc`: the same runs with V8's
 * sampling heap profiler in the gateway (bench/alloc-sampling.ts); then the bytes it allocated per
 * message published, per function and per group.
 */
import { mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { renderAllocations, summarizeAllocations } from './alloc-report.js';
import type { SamplingHeapProfile } from './alloc-sampling.js';
import type { Bench } from './harness.js';
import { FULL_SIZES } from './options.js';
import { renderProfile, summarizeProfile } from './profile-report.js';
import type { Scenario } from './scenario.js';

const PROFILE_DIR = new URL('./results/profiles/', import.meta.url);
/** Runs under the profiler: the first also warms the gateway up, so steady state dominates. */
const RUNS = 3;

export async function runProfile(bench: Bench, scenario: Scenario, kind: 'cpu' | 'alloc'): Promise<number> {
  const dir = fileURLToPath(PROFILE_DIR);
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  const profiled: Bench = {
    ...bench,
    // Full-size runs, so the gateway's start is a small part of the profile.
    sizes: { ...FULL_SIZES, warmUp: false, rounds: RUNS },
    ...(kind === 'cpu'
      ? { gatewayFlags: [...bench.gatewayFlags, '--cpu-prof', '--cpu-prof-dir', dir] }
      : { gatewayEnv: { ...bench.gatewayEnv, BENCH_ALLOC_PROFILE_DIR: dir } }),
  };
  await runProfiled(profiled, scenario);
  return kind === 'cpu' ? reportCpu(dir, scenario) : reportAllocations(dir, scenario);
}

async function runProfiled(profiled: Bench, scenario: Scenario): Promise<void> {
  const open = await scenario.open(profiled);
  try {
    for (let run = 1; run <= RUNS; run++) {
      const figures = await open.run('switchyard', { round: run, tag: `profile-${run}` });
      process.stderr.write(`  profiled run ${run}: ${JSON.stringify(figures)}\n`);
    }
  } finally {
    // The profile is written as the gateway process exits.
    await open.close();
  }
}

async function reportCpu(dir: string, scenario: Scenario): Promise<number> {
  // tsx's loader hooks run on a thread of their own, which --cpu-prof profiles too: the gateway's
  // main thread is the biggest profile by far.
  const files = await Promise.all(
    (await readdir(dir))
      .filter((name) => name.endsWith('.cpuprofile'))
      .map(async (name) => ({ name, size: (await stat(new URL(name, PROFILE_DIR))).size })),
  );
  const main = files.sort((a, b) => b.size - a.size)[0]?.name;
  if (!main) throw new Error(`no gateway profile was written to ${dir}`);
  const summary = summarizeProfile(JSON.parse(await readFile(new URL(main, PROFILE_DIR), 'utf8')));
  const text = `Scenario ${scenario.id} (${scenario.title}), Switchyard side, ${RUNS} full-size runs.\n\n${renderProfile(summary)}`;
  return writeSummary(`profile-scenario-${scenario.id}`, scenario, text, summary, main);
}

/** Every topology's sampled heap profile (gateway-process.ts writes one per topic), summed. */
async function reportAllocations(dir: string, scenario: Scenario): Promise<number> {
  const names = (await readdir(dir)).filter((name) => name.endsWith('.heapprofile'));
  if (names.length === 0) throw new Error(`no allocation profile was written to ${dir}`);
  const profiles: SamplingHeapProfile[] = [];
  let messages = 0;
  for (const name of names) {
    profiles.push(JSON.parse(await readFile(join(dir, name), 'utf8')) as SamplingHeapProfile);
    const meta = JSON.parse(await readFile(join(dir, name.replace(/\.heapprofile$/, '.json')), 'utf8'));
    messages += (meta as { published: number }).published;
  }
  const summary = summarizeAllocations(profiles, messages);
  const text = `Scenario ${scenario.id} (${scenario.title}), Switchyard side, ${RUNS} full-size runs: bytes the gateway allocated.\n\n${renderAllocations(summary)}`;
  return writeSummary(`allocations-scenario-${scenario.id}`, scenario, text, summary, names.join(', '));
}

async function writeSummary(
  name: string,
  scenario: Scenario,
  text: string,
  summary: object,
  files: string,
): Promise<number> {
  process.stdout.write(`\n${text}\n`);
  const json = { scenario: scenario.id, date: new Date().toISOString(), ...summary };
  await writeFile(new URL(`../${name}.json`, PROFILE_DIR), `${JSON.stringify(json, null, 2)}\n`);
  await writeFile(new URL(`../${name}.md`, PROFILE_DIR), `${text}\n`);
  process.stderr.write(
    `Profile: bench/results/profiles/${files}; summary in bench/results/${name}.{json,md}\n`,
  );
  return 0;
}
