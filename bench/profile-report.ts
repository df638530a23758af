/**
 * Where a V8 CPU profile (`node --cpu-prof`) spends its time: self time per function and per group
 * (our code, GraphQL, BullMQ, HTTP, JSON, crypto...). Native functions and Node's own internals are
 * charged to the nearest caller that belongs to a group (a socket write issued by ioredis counts as
 * BullMQ + ioredis), which is what says whose work it is. Also runs alone:
 * `node --import tsx bench/profile-report.ts <file.cpuprofile>`.
 */
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

export interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}

/** The parts of a .cpuprofile we read. */
export interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

export const GROUPS = [
  'Switchyard',
  'GraphQL',
  'BullMQ + ioredis',
  'HTTP + sockets',
  'JSON',
  'crypto',
  'garbage collection',
  'other',
] as const;
export type Group = (typeof GROUPS)[number];

export interface FunctionTime {
  name: string;
  /** Where it is defined, relative to the project for our code and packages. */
  location: string;
  /** For native code and Node internals: the caller it is charged to. */
  chargedTo: string | null;
  group: Group;
  selfMs: number;
  /** Share of the busy (non-idle) time. */
  share: number;
}

export interface ProfileSummary {
  busyMs: number;
  idleMs: number;
  top: FunctionTime[];
  groups: { group: Group; selfMs: number; share: number }[];
}

const PROJECT = fileURLToPath(new URL('../', import.meta.url));

const PACKAGE_GROUPS: [RegExp, Group][] = [
  [
    /node_modules\/(graphql|graphql-jit|graphql-yoga|graphql-ws|@graphql-yoga|@graphql-tools|@envelop|@pothos|@repeaterjs|@graphql-typed-document-node)\//,
    'GraphQL',
  ],
  [
    /node_modules\/(bullmq|ioredis|@ioredis|redis-parser|redis-errors|msgpackr|cluster-key-slot|denque|standard-as-callback|cron-parser)\//,
    'BullMQ + ioredis',
  ],
  // yoga's server adapter turns Node's request into a WHATWG Request and back: HTTP plumbing.
  [/node_modules\/(@whatwg-node|undici|urlpattern-polyfill)\//, 'HTTP + sockets'],
  // Payload schema checks are ours to pay for.
  [/node_modules\/(ajv|fast-uri|fast-deep-equal)\//, 'Switchyard'],
];

/** A frame's own group, or null for native code and Node internals that are charged to a caller. */
export function ownGroup(frame: CallFrame): Group | null {
  const { functionName: name, url } = frame;
  if (name === '(garbage collector)') return 'garbage collection';
  if (url === '' && /^(parse|stringify)$/.test(name)) return 'JSON';
  for (const [pattern, group] of PACKAGE_GROUPS) if (pattern.test(url)) return group;
  if (url.startsWith('node:internal/crypto') || url === 'node:crypto') return 'crypto';
  if (url.includes(PROJECT) && !url.includes('/node_modules/')) return 'Switchyard';
  if (url.includes('/node_modules/')) return 'other';
  return null;
}

/** Node internals that are HTTP or sockets, for time no library frame above says whose it is. */
export const NODE_HTTP =
  /^node:(_http|http|https|net|dns|tls|stream|internal\/(http|streams|stream_base|deps\/undici|child_process|dns|net|url))/;

export function locationOf(frame: CallFrame): string {
  const path = frame.url.replace(/^file:\/\//, '').replace(PROJECT, '');
  const packageMatch = /node_modules\/((?:@[^/]+\/)?[^/]+)\/(.*)$/.exec(path);
  const shown = packageMatch ? `${packageMatch[1]}/${packageMatch[2]}` : path;
  if (!shown) return '(native)';
  // tsx compiles our .ts files on the fly, so their line numbers are those of its output: leave them out.
  return shown.endsWith('.ts') ? shown : `${shown}:${frame.lineNumber + 1}`;
}

const SPECIAL = new Set(['(idle)', '(program)', '(root)', '(garbage collector)']);

/** Self time per function and group; the ten functions with the most self time come first. */
export function summarizeProfile(profile: CpuProfile, topCount = 10): ProfileSummary {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  /**
   * The frame a native function or Node internal is charged to: the nearest caller with a group of
   * its own, else the nearest HTTP or socket internal (a timer or a socket event has no library above it).
   */
  const owner = (id: number): { frame: CallFrame; group: Group } | null => {
    let http: CallFrame | null = null;
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const frame = byId.get(at)?.callFrame;
      if (!frame) continue;
      const group = ownGroup(frame);
      if (group !== null) return { frame, group };
      if (!http && NODE_HTTP.test(frame.url)) http = frame;
    }
    return http ? { frame: http, group: 'HTTP + sockets' } : null;
  };
  const selfByNode = new Map<number, number>();
  // timeDeltas[i] is the time before sample i, so the time spent in sample i is timeDeltas[i + 1].
  profile.samples.forEach((nodeId, i) => {
    selfByNode.set(nodeId, (selfByNode.get(nodeId) ?? 0) + (profile.timeDeltas[i + 1] ?? 0));
  });
  const byFunction = new Map<string, FunctionTime & { us: number }>();
  const groupTotals = new Map<Group, number>();
  let idleUs = 0;
  for (const [nodeId, us] of selfByNode) {
    const frame = byId.get(nodeId)?.callFrame;
    if (!frame) continue;
    if (frame.functionName === '(idle)') {
      idleUs += us;
      continue;
    }
    const own = ownGroup(frame);
    const charged = own === null && !SPECIAL.has(frame.functionName) ? owner(nodeId) : null;
    const group: Group = own ?? charged?.group ?? 'other';
    groupTotals.set(group, (groupTotals.get(group) ?? 0) + us);
    const chargedTo =
      charged && charged.frame !== frame
        ? `${charged.frame.functionName || '(anonymous)'} ${locationOf(charged.frame)}`
        : null;
    const key = `${frame.functionName} ${frame.url}:${frame.lineNumber} ${chargedTo ?? ''}`;
    const entry = byFunction.get(key) ?? {
      name: frame.functionName || '(anonymous)',
      location: locationOf(frame),
      chargedTo,
      group,
      selfMs: 0,
      share: 0,
      us: 0,
    };
    entry.us += us;
    byFunction.set(key, entry);
  }
  const busyUs = [...byFunction.values()].reduce((sum, entry) => sum + entry.us, 0);
  const share = (us: number) => (busyUs > 0 ? us / busyUs : 0);
  const top = [...byFunction.values()]
    .sort((a, b) => b.us - a.us)
    .slice(0, topCount)
    .map(({ us, ...entry }) => ({ ...entry, selfMs: us / 1000, share: share(us) }));
  const groups = GROUPS.map((group) => ({
    group,
    selfMs: (groupTotals.get(group) ?? 0) / 1000,
    share: share(groupTotals.get(group) ?? 0),
  })).sort((a, b) => b.selfMs - a.selfMs);
  return { busyMs: busyUs / 1000, idleMs: idleUs / 1000, top, groups };
}

const percent = (share: number) => `${(share * 100).toFixed(1)} %`;

/** Markdown: the top functions, then the groups. */
export function renderProfile(summary: ProfileSummary): string {
  const lines = [
    `Busy ${(summary.busyMs / 1000).toFixed(1)} s, idle ${(summary.idleMs / 1000).toFixed(1)} s.`,
    '',
    '| # | Function | Where | Charged to (native / Node internals) | Group | Self ms | Share of busy |',
    '|---|---|---|---|---|---:|---:|',
    ...summary.top.map(
      (fn, n) =>
        `| ${n + 1} | \`${fn.name}\` | ${fn.location} | ${fn.chargedTo ?? ''} | ${fn.group} | ${fn.selfMs.toFixed(0)} | ${percent(fn.share)} |`,
    ),
    '',
    '| Group | Self ms | Share of busy |',
    '|---|---:|---:|',
    ...summary.groups
      .filter((group) => group.selfMs > 0)
      .map((group) => `| ${group.group} | ${group.selfMs.toFixed(0)} | ${percent(group.share)} |`),
  ];
  return lines.join('\n');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const file = process.argv[2];
  if (!file) {
    process.stderr.write('usage: node --import tsx bench/profile-report.ts <file.cpuprofile>\n');
    process.exitCode = 2;
  } else {
    const profile = JSON.parse(await readFile(file, 'utf8')) as CpuProfile;
    process.stdout.write(`${renderProfile(summarizeProfile(profile))}\n`);
  }
}
